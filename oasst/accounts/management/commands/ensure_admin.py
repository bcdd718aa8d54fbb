from __future__ import annotations

import os
import secrets

from django.conf import settings
from django.core.management.base import BaseCommand
from django.utils import timezone

from oasst.accounts import roles
from oasst.accounts.models import User


class Command(BaseCommand):
    help = "Create the 'admin' account on first run; its password is printed once and kept in the data directory."

    def handle(self, *args: object, **options: object) -> None:
        if User.objects.filter(is_superuser=True).exists():
            return
        password = secrets.token_urlsafe(12)
        user = User.objects.create_superuser(
            "admin", email="", password=password, languages=["en"], tos_accepted_at=timezone.now()
        )
        roles.assign_role(user, roles.ADMIN)
        path = settings.DATA_DIR / "admin-password.txt"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(password + "\n")
        os.chmod(path, 0o600)
        self.stdout.write(
            self.style.SUCCESS(
                f"Created the admin account. Username: admin  Password: {password}\n"
                f"(also written to {path}, readable only by you)"
            )
        )
