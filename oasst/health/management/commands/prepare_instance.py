"""What `make run` does before serving, in one process: start-up stays short."""

from __future__ import annotations

from django.core.management import call_command
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = (
        "Migrate, create the admin account on first run, seed the demo trees once and build "
        "the demo model when no model is registered (the steps make run takes before serving)."
    )
    # Each step run as its own manage.py paid Django's start-up and the system
    # checks (which import the model runner and torch) again; `check` runs them.
    requires_system_checks: list[str] = []

    def handle(self, *args: object, **options: object) -> None:
        verbosity = int(options.get("verbosity", 1))
        call_command("migrate", interactive=False, verbosity=verbosity)
        call_command("ensure_admin", verbosity=verbosity)
        call_command("seed_demo", verbosity=verbosity)
        call_command("build_demo_model", if_missing=True, verbosity=verbosity)
