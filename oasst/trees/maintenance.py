"""The periodic work of the tree engine, shared by the Celery jobs and the management commands."""

from __future__ import annotations

from django.conf import settings

from oasst.trees import lifecycle, tasks
from oasst.trees.models import MessageTree, TreeState
from oasst.trees.retries import run_atomically


def expire_stale_tasks() -> int:
    """Drop tasks nobody finished before they expired, and halt prompts of disabled authors."""
    expired = run_atomically(tasks.expire_tasks)
    run_atomically(lifecycle.halt_prompts_of_disabled_users)
    return expired


def run_lottery_everywhere() -> int:
    """Fill every language's free growing places from its waiting prompts."""
    drawn = 0
    langs = (
        MessageTree.objects.filter(state=TreeState.PROMPT_LOTTERY_WAITING)
        .values_list("lang", flat=True)
        .distinct()
    )
    for lang in list(langs):
        drawn += run_atomically(
            lambda lang=lang: lifecycle.run_lottery(
                lang, max_activate=settings.OASST_MAX_ACTIVE_TREES
            )
        )
    return drawn


def check_one_tree(tree_id: object) -> None:
    def write() -> None:
        tree = MessageTree.objects.select_for_update().filter(pk=tree_id).first()
        if tree is not None:
            lifecycle.check_tree(tree)

    run_atomically(write)


def check_active_trees() -> int:
    """Re-apply the rules to every active tree (OA's ensure_tree_states) and sweep auto-moderation.

    Catches what no submission triggered: stalled growing trees, trees whose
    thresholds were lowered, red flags over the limit.
    """
    run_atomically(lifecycle.run_auto_moderation)
    tree_ids = list(MessageTree.objects.filter(active=True).values_list("pk", flat=True))
    for tree_id in tree_ids:
        check_one_tree(tree_id)
    return len(tree_ids)


def retry_failed_scoring() -> int:
    tree_ids = list(
        MessageTree.objects.filter(state=TreeState.SCORING_FAILED).values_list("pk", flat=True)
    )
    for tree_id in tree_ids:

        def write(tree_id: object = tree_id) -> None:
            tree = MessageTree.objects.select_for_update().get(pk=tree_id)
            lifecycle.retry_scoring(tree)

        run_atomically(write)
    return len(tree_ids)
