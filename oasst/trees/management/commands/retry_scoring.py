from django.core.management.base import BaseCommand

from oasst.trees.maintenance import retry_failed_scoring


class Command(BaseCommand):
    help = "Score again every tree in scoring_failed (or send it back to ranking)."

    def handle(self, *args: object, **options: object) -> None:
        self.stdout.write(f"{retry_failed_scoring()} trees retried")
