"""The management commands and the periodic jobs call the same functions; run them end to end."""

from __future__ import annotations

import subprocess
import sys
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.db.models import Count
from django.utils import timezone

from oasst.trees import jobs
from oasst.trees.models import (
    EmojiReaction,
    Message,
    MessageTree,
    Ranking,
    Task,
    TextLabel,
    TreeState,
)
from tests.trees.factories import accept, assign, people, write_prompt


def run(name: str, *args: str) -> str:
    out = StringIO()
    call_command(name, *args, stdout=out)
    return out.getvalue()


def test_seed_demo_creates_trees_in_every_state_in_three_languages_once(db: None) -> None:
    assert "30 demo trees created" in run("seed_demo")
    states = dict(
        MessageTree.objects.values("lang")
        .annotate(n=Count("state", distinct=True))
        .values_list("lang", "n")
    )
    assert states == {"en": 10, "es": 10, "de": 10}
    exported = MessageTree.objects.filter(state=TreeState.READY_FOR_EXPORT)
    for tree in exported:
        assert Message.objects.filter(tree=tree, rank=0).exists()
    assert "nothing to do" in run("seed_demo")
    assert MessageTree.objects.count() == 30


def test_check_trees_scores_the_demo_tree_waiting_for_scoring(db: None) -> None:
    run("seed_demo")
    assert "active trees checked" in run("check_trees")
    assert not MessageTree.objects.filter(state=TreeState.READY_FOR_SCORING).exists()


def test_generate_data_inserts_a_realistic_dataset(db: None) -> None:
    output = run("generate_data", "--trees", "300", "--messages-per-tree", "8", "--users", "50")
    assert "300 trees" in output
    assert MessageTree.objects.count() == 300
    assert Message.objects.count() > 1200
    assert set(MessageTree.objects.values_list("state", flat=True)) >= {
        TreeState.READY_FOR_EXPORT, TreeState.GROWING, TreeState.RANKING,
        TreeState.INITIAL_PROMPT_REVIEW, TreeState.PROMPT_LOTTERY_WAITING,
    }  # fmt: skip
    assert (
        TextLabel.objects.exists() and Ranking.objects.exists() and EmojiReaction.objects.exists()
    )
    # Every row the ORM reads back is well formed (UUIDs, JSON, dates).
    message = Message.objects.exclude(parent=None).first()
    assert message.parent.tree_id == message.tree_id
    assert isinstance(message.emojis, dict)


def test_generate_data_rejects_unknown_languages(db: None) -> None:
    from django.core.management.base import CommandError

    with pytest.raises(CommandError):
        run("generate_data", "--trees", "1", "--langs", "en,zz")


def test_simulate_crowd_finishes_trees(small_trees: object) -> None:
    output = run("simulate_crowd", "--users", "6", "--trees", "1")
    assert MessageTree.objects.filter(state=TreeState.READY_FOR_EXPORT).count() >= 1
    assert "trees ready for export in en: " in output


def test_periodic_jobs_run_their_functions(small_trees: object) -> None:
    author, *reviewers = people(3)
    accept(write_prompt(author), reviewers)
    stale = assign(author, "initial_prompt", ack=False)
    Task.objects.filter(pk=stale.pk).update(expires_at=timezone.now() - timedelta(minutes=5))

    assert jobs.run_lottery.apply().get() == 1
    assert jobs.expire_tasks.apply().get() == 1
    assert jobs.check_active_trees.apply().get() == 1
    assert jobs.retry_scoring.apply().get() == 0
    assert "prompts drawn" in run("run_lottery")
    assert "expired tasks removed" in run("expire_tasks")
    assert "trees retried" in run("retry_scoring")


def test_a_malformed_threshold_stops_start_up_with_its_name(tmp_path: object) -> None:
    result = subprocess.run(  # noqa: S603 - our own interpreter, fixed arguments
        [sys.executable, "-c", "import django; django.setup()"],
        env={"DJANGO_SETTINGS_MODULE": "oasst.settings", "PYTHONPATH": ".",
             "OASST_GOAL_TREE_SIZE": "twelve", "OASST_DATA_DIR": str(tmp_path)},
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert result.returncode != 0
    assert "OASST_GOAL_TREE_SIZE must be an integer" in result.stderr


def test_thresholds_are_read_from_the_environment(tmp_path: object) -> None:
    code = "import django; django.setup(); from django.conf import settings; print(settings.OASST_GOAL_TREE_SIZE, settings.OASST_NUM_REQUIRED_RANKINGS)"
    result = subprocess.run(  # noqa: S603 - our own interpreter, fixed arguments
        [sys.executable, "-c", code],
        env={"DJANGO_SETTINGS_MODULE": "oasst.settings", "PYTHONPATH": ".",
             "OASST_GOAL_TREE_SIZE": "5", "OASST_NUM_REQUIRED_RANKINGS": "1",
             "OASST_DATA_DIR": str(tmp_path)},
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert result.stdout.split() == ["5", "1"]
