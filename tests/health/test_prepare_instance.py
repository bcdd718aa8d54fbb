"""`manage.py prepare_instance`: what make run does before serving, once and again."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.core.management import call_command

from oasst.accounts.models import User
from oasst.inference.models import Backend, Model
from oasst.inference.registry import register_model
from oasst.trees.demo import ORIGIN
from oasst.trees.models import MessageTree


@pytest.mark.django_db
def test_prepare_instance_sets_up_once_and_then_changes_nothing(
    settings: object, tmp_path: Path
) -> None:
    settings.DATA_DIR = tmp_path
    # A registered model: the demo model is not built (that has its own tests).
    register_model("fake", "fake:", backend=Backend.FAKE, make_default=True)
    call_command("prepare_instance", verbosity=0)
    admin = User.objects.get(username="admin")
    trees = MessageTree.objects.filter(origin=ORIGIN).count()
    assert admin.is_superuser and trees > 0
    assert (tmp_path / "admin-password.txt").exists()

    call_command("prepare_instance", verbosity=0)
    assert User.objects.get(username="admin").password == admin.password
    assert MessageTree.objects.filter(origin=ORIGIN).count() == trees
    assert list(Model.objects.values_list("name", flat=True)) == ["fake"]
