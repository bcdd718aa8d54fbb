from django.core.management.base import BaseCommand

from oasst.trees.maintenance import expire_stale_tasks


class Command(BaseCommand):
    help = "Delete expired unfinished tasks and halt waiting prompts of disabled authors."

    def handle(self, *args: object, **options: object) -> None:
        self.stdout.write(f"{expire_stale_tasks()} expired tasks removed")
