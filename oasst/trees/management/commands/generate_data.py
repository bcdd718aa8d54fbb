import time

from django.core.management.base import BaseCommand, CommandError, CommandParser

from oasst.lib.languages import is_valid_language
from oasst.trees.synthetic_data import generate_dataset


class Command(BaseCommand):
    help = "Bulk-insert a large synthetic dataset (trees in every state, labels, rankings, emojis)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--trees", type=int, required=True)
        parser.add_argument("--messages-per-tree", type=int, default=10)
        parser.add_argument("--langs", default="en,es,de")
        parser.add_argument("--users", type=int, default=2000)
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument(
            "--no-active",
            action="store_true",
            help="add no trees in review, growing or scoring (to grow an existing dataset)",
        )

    def handle(self, *args: object, **options: object) -> None:
        langs = [code.strip() for code in str(options["langs"]).split(",") if code.strip()]
        bad = [code for code in langs if not is_valid_language(code)]
        if bad or not langs:
            raise CommandError(f"unknown language codes: {', '.join(bad) or '(none)'}")
        started = time.perf_counter()

        def progress(done: int, total: int) -> None:
            if options["verbosity"] and (done % 20000 < 2000 or done == total):
                self.stdout.write(f"  {done}/{total} trees, {time.perf_counter() - started:.0f} s")

        totals = generate_dataset(
            int(options["trees"]),
            messages_per_tree=int(options["messages_per_tree"]),
            langs=langs,
            users=int(options["users"]),
            seed=int(options["seed"]),
            active_caps=not options["no_active"],
            progress=progress,
        )
        elapsed = time.perf_counter() - started
        self.stdout.write(
            ", ".join(f"{count} {name}" for name, count in totals.items()) + f" in {elapsed:.1f} s"
        )
