from django.core.management.base import BaseCommand

from oasst.trees.maintenance import run_lottery_everywhere


class Command(BaseCommand):
    help = "Draw waiting prompts into growing, per language, up to OASST_MAX_ACTIVE_TREES."

    def handle(self, *args: object, **options: object) -> None:
        self.stdout.write(f"{run_lottery_everywhere()} prompts drawn")
