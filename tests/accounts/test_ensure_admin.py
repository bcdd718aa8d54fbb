from __future__ import annotations

from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command

from oasst.accounts import roles
from oasst.accounts.models import User


@pytest.mark.django_db
def test_first_run_creates_the_admin_once(settings, tmp_path: Path) -> None:
    settings.DATA_DIR = tmp_path
    out = StringIO()
    call_command("ensure_admin", stdout=out)
    password = (tmp_path / "admin-password.txt").read_text().strip()
    assert (tmp_path / "admin-password.txt").stat().st_mode & 0o777 == 0o600
    assert password in out.getvalue()
    admin = User.objects.get(username="admin")
    assert admin.is_superuser and admin.check_password(password)
    assert roles.has_role(admin, roles.ADMIN)

    again = StringIO()
    call_command("ensure_admin", stdout=again)
    assert again.getvalue() == ""
    assert User.objects.filter(is_superuser=True).count() == 1
