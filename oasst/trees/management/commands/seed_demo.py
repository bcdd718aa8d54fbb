from django.core.management.base import BaseCommand

from oasst.trees.demo import seed_demo


class Command(BaseCommand):
    help = "Create demo volunteers and conversation trees in every state (en, es, de); once."

    def handle(self, *args: object, **options: object) -> None:
        made = seed_demo()
        if made:
            self.stdout.write(f"{made} demo trees created")
        else:
            self.stdout.write("demo trees exist already; nothing to do")
