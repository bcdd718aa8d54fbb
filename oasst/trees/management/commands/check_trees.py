from django.core.management.base import BaseCommand

from oasst.trees.maintenance import check_active_trees


class Command(BaseCommand):
    help = (
        "Re-check every active tree's state (stalls, lowered thresholds) and run auto-moderation."
    )

    def handle(self, *args: object, **options: object) -> None:
        self.stdout.write(f"{check_active_trees()} active trees checked")
