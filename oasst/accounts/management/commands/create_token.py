from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError, CommandParser

from oasst.accounts.keys import create_token
from oasst.accounts.models import User


class Command(BaseCommand):
    help = "Create a personal API token for a user and print it (shown once)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")
        parser.add_argument("--name", default="command line")

    def handle(self, *args: object, **options: object) -> None:
        try:
            user = User.objects.get(username=options["username"])
        except User.DoesNotExist:
            raise CommandError(f"no user named {options['username']!r}") from None
        if not user.is_active:
            raise CommandError(f"{user.username} is not active")
        _, key = create_token(user, name=str(options["name"]))
        self.stdout.write(key)
        self.stderr.write(f"Send it as 'Authorization: Bearer <token>' to act as {user.username}.")
