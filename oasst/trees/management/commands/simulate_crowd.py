from django.core.management.base import BaseCommand, CommandParser

from oasst.accounts.models import User
from oasst.trees.crowd import run_crowd


class Command(BaseCommand):
    help = (
        "Drive U simulated volunteers through the task engine until T trees are ready for export."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--users", type=int, default=10)
        parser.add_argument("--trees", type=int, default=3)
        parser.add_argument("--lang", default="en")
        parser.add_argument("--max-steps", type=int, default=100_000)
        parser.add_argument("--seed", type=int, default=0)

    def handle(self, *args: object, **options: object) -> None:
        lang = str(options["lang"])
        volunteers = []
        for i in range(int(options["users"])):
            user, _ = User.objects.get_or_create(
                username=f"sim-{lang}-{i}",
                defaults={"display_name": f"Simulated volunteer {i}", "languages": [lang]},
            )
            if user.tos_accepted_at is None:
                from oasst.accounts.people import accept_tos

                accept_tos(user)
            volunteers.append(user)
        report = run_crowd(
            volunteers,
            target_trees=int(options["trees"]),
            lang=lang,
            max_steps=int(options["max_steps"]),
            seed=int(options["seed"]),
        )
        self.stdout.write(
            f"{report.steps} steps, tasks done: {dict(report.done)}, "
            f"errors: {dict(report.errors)}, trees ready for export in {lang}: {report.exported}"
        )
