from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError, CommandParser

from oasst.accounts.keys import InvalidKey, create_api_client
from oasst.accounts.models import ApiClient


class Command(BaseCommand):
    help = "Create an API client and print its key (shown once)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name")
        parser.add_argument("--key", help="use this key instead of a random one (for scripts)")
        parser.add_argument("--trusted", action="store_true", help="may act for its own users")
        parser.add_argument("--frontend-type", default="", help="e.g. web, discord")
        parser.add_argument("--description", default="")

    def handle(self, *args: object, **options: object) -> None:
        name = str(options["name"])
        if ApiClient.objects.filter(name=name).exists():
            raise CommandError(f"an API client named {name!r} exists already")
        try:
            client, key = create_api_client(
                name,
                key=options["key"] or None,
                trusted=bool(options["trusted"]),
                frontend_type=str(options["frontend_type"]),
                description=str(options["description"]),
            )
        except InvalidKey as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(key)
        kind = "trusted" if client.trusted else "untrusted"
        self.stderr.write(
            f"Created {kind} API client {client.name!r}; send the key above as X-API-Key."
        )
