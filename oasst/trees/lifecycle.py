"""The tree state machine: one table of edges and one writer (reference/oa-backend.md §3).

Nothing else assigns ``MessageTree.state``. Each ``check_*`` function is one
rule of §3.3; they are called by the submissions after each write (holding the
tree's row lock) and by the periodic job that re-checks active trees.
"""

from __future__ import annotations

import logging
import random
from datetime import timedelta

from django.conf import settings
from django.db import connection
from django.db.models import Count, F, Q
from django.db.models.functions import Coalesce
from django.utils import timezone

from oasst.accounts.models import User
from oasst.trees.journal import record_event
from oasst.trees.models import (
    TERMINAL_STATES,
    Emoji,
    Message,
    MessageTree,
    Ranking,
    Role,
    TextLabel,
    TreeState,
)
from oasst.trees.ranking import rank_by_ranked_pairs

log = logging.getLogger(__name__)
S = TreeState

# Every edge of §3.3, plus stall detection (growing → ranking / halted) and a
# moderator's halt from any state. Un-halting goes back to where the tree was
# in its life: growing once it has won the lottery, else the prompt review.
TRANSITIONS: dict[str, frozenset[str]] = {
    S.INITIAL_PROMPT_REVIEW: frozenset(
        {S.PROMPT_LOTTERY_WAITING, S.ABORTED_LOW_GRADE, S.HALTED_BY_MODERATOR}
    ),
    S.PROMPT_LOTTERY_WAITING: frozenset({S.GROWING, S.HALTED_BY_MODERATOR}),
    S.GROWING: frozenset({S.RANKING, S.ABORTED_LOW_GRADE, S.HALTED_BY_MODERATOR}),
    S.RANKING: frozenset({S.READY_FOR_SCORING, S.HALTED_BY_MODERATOR}),
    S.READY_FOR_SCORING: frozenset({S.READY_FOR_EXPORT, S.SCORING_FAILED, S.HALTED_BY_MODERATOR}),
    S.SCORING_FAILED: frozenset({S.READY_FOR_SCORING, S.RANKING, S.HALTED_BY_MODERATOR}),
    S.READY_FOR_EXPORT: frozenset({S.HALTED_BY_MODERATOR}),
    S.ABORTED_LOW_GRADE: frozenset({S.HALTED_BY_MODERATOR}),
    S.BACKLOG_RANKING: frozenset({S.RANKING, S.ABORTED_LOW_GRADE, S.HALTED_BY_MODERATOR}),
    S.HALTED_BY_MODERATOR: frozenset({S.GROWING, S.INITIAL_PROMPT_REVIEW}),
}


class InvalidTransition(ValueError):
    pass


def open_tree(*, lang: str, origin: str = "") -> MessageTree:
    """A new tree whose prompt waits for review, with the limits in force today."""
    return MessageTree.objects.create(
        state=TreeState.INITIAL_PROMPT_REVIEW,
        active=True,
        lang=lang,
        goal_tree_size=settings.OASST_GOAL_TREE_SIZE,
        max_depth=settings.OASST_MAX_TREE_DEPTH,
        max_children_count=settings.OASST_MAX_CHILDREN_COUNT,
        origin=origin,
    )


def set_tree_state(tree: MessageTree, new_state: str, *, reason: str = "") -> bool:
    """Move ``tree`` to ``new_state`` if it is still in the state we read; returns whether we won.

    A compare-and-set on the old state, so two workers finishing at once can
    never both advance a tree. On a lost race ``tree`` is refreshed. Entering a
    terminal state deactivates the tree and, by chance (§3.2), activates a
    backlog tree of the same language.
    """
    old_state = tree.state
    if new_state not in TRANSITIONS[old_state]:
        raise InvalidTransition(f"{old_state} → {new_state} is not an edge of the tree life cycle")
    now = timezone.now()
    active = new_state not in TERMINAL_STATES
    changes: dict[str, object] = {"state": new_state, "active": active, "state_changed_at": now}
    if new_state == S.GROWING:
        changes["won_lottery_at"] = Coalesce(F("won_lottery_at"), now)
    won = MessageTree.objects.filter(pk=tree.pk, state=old_state).update(**changes) == 1
    was_active = tree.active
    tree.refresh_from_db(fields=["state", "active", "state_changed_at", "won_lottery_at"])
    if not won:
        return False
    record_event(
        "tree_state_changed",
        tree_id=tree.pk,
        old_state=old_state,
        new_state=new_state,
        reason=reason,
    )
    if was_active and not active and backlog_activation_is_due(tree.lang):
        activate_backlog_tree(tree.lang)
    return True


def backlog_activation_is_due(lang: str) -> bool:
    """By chance, or when a language has fewer rankable trees than it should (§3.2)."""
    if random.random() < settings.OASST_P_ACTIVATE_BACKLOG_TREE:
        return True
    minimum = settings.OASST_MIN_ACTIVE_RANKINGS_PER_LANG
    return (
        minimum > 0
        and MessageTree.objects.filter(lang=lang, state=S.RANKING, active=True).count() < minimum
    )


# --- Queries the rules share -------------------------------------------------------


def count_tree_size(tree: MessageTree) -> int:
    """Accepted, non-deleted messages, the root included (OA's tree_size)."""
    return Message.objects.filter(tree=tree).accepted().count()


def count_size_and_awaiting_review(tree: MessageTree) -> tuple[int, int]:
    """``count_tree_size`` and ``count_awaiting_review`` in one pass over the tree's messages.

    In SQL: after every review, composing the two filtered counts cost the
    ORM about 1 ms of CPU, four times what the database spends on the query.
    """
    sql = f"""
        SELECT COUNT(CASE WHEN review_result = %s AND deleted = %s THEN 1 END),
               COUNT(CASE WHEN parent_id IS NOT NULL
                           AND (review_result IS NULL OR review_result = %s)
                           AND review_count < %s AND deleted = %s THEN 1 END)
        FROM {Message._meta.db_table} WHERE tree_id = %s
    """  # noqa: S608 - the table name comes from the model, values are parameters
    params = [
        True, False, False, settings.OASST_NUM_REVIEWS_REPLY, False,
        MessageTree._meta.pk.get_db_prep_value(tree.pk, connection),
    ]  # fmt: skip
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        size, awaiting = cursor.fetchone()
    return size, awaiting


def count_awaiting_review(tree: MessageTree) -> int:
    return (
        Message.objects.filter(tree=tree, parent__isnull=False)
        .awaiting_review(settings.OASST_NUM_REVIEWS_REPLY)
        .count()
    )


def rankable_roles() -> list[str]:
    if settings.OASST_RANK_PROMPTER_REPLIES:
        return [Role.ASSISTANT, Role.PROMPTER]
    return [Role.ASSISTANT]


def rankable_parents(tree: MessageTree) -> dict[object, int]:
    """Parent id → number of accepted children, for every parent with more than one."""
    rows = (
        Message.objects.filter(tree=tree, parent__isnull=False, role__in=rankable_roles())
        .accepted()
        .values("parent")
        .annotate(children=Count("id"))
        .filter(children__gt=1)
    )
    return {row["parent"]: row["children"] for row in rows}


def has_extendible_parent(tree: MessageTree) -> bool:
    """Could anyone still reply somewhere in this tree (ignoring per-person exclusions)?"""
    counted = Count(
        "children",
        filter=Q(children__deleted=False)
        & (
            Q(children__review_result=True)
            | Q(children__review_count__lt=settings.OASST_NUM_REVIEWS_REPLY)
        ),
    )
    return (
        Message.objects.filter(tree=tree, depth__lt=tree.max_depth)
        .accepted()
        .annotate(slots=counted)
        .filter(slots__lt=tree.max_children_count)
        .filter(Q(role=Role.PROMPTER) | Q(slots__lt=settings.OASST_NUM_PROMPTER_REPLIES))
        .exists()
    )


def calculate_acceptance(message: Message) -> float | None:
    """1 − (mean spam + mean lang_mismatch) over the task-based reviews (§3.5)."""
    reviews = list(
        TextLabel.objects.filter(message=message, task__isnull=False, task__done=True).values_list(
            "labels", flat=True
        )
    )
    if not reviews:
        return None
    spam = sum(float(labels.get("spam", 0)) for labels in reviews) / len(reviews)
    mismatch = sum(float(labels.get("lang_mismatch", 0)) for labels in reviews) / len(reviews)
    return 1 - (spam + mismatch)


def apply_reviews(message: Message) -> None:
    """Decide a message's review result once it has enough reviews (§3.5).

    Call with the message's tree locked, after its review_count was raised.
    An accepted message is never turned down later; a root that fails stays failed.
    """
    is_root = message.parent_id is None
    required = (
        settings.OASST_NUM_REVIEWS_INITIAL_PROMPT if is_root else settings.OASST_NUM_REVIEWS_REPLY
    )
    threshold = (
        settings.OASST_ACCEPTANCE_THRESHOLD_INITIAL_PROMPT
        if is_root
        else settings.OASST_ACCEPTANCE_THRESHOLD_REPLY
    )
    if message.review_count < required or message.review_result is True:
        return
    acceptance = calculate_acceptance(message)
    if acceptance is not None and acceptance > threshold:
        message.review_result = True
    elif message.review_result is None:
        message.review_result = False
    else:
        return
    Message.objects.filter(pk=message.pk).update(review_result=message.review_result)


# --- The rules --------------------------------------------------------------------


def check_prompt_review(tree: MessageTree) -> None:
    """initial_prompt_review → prompt_lottery_waiting (accepted) or aborted_low_grade."""
    if tree.state != S.INITIAL_PROMPT_REVIEW:
        return
    root = Message.objects.get(pk=tree.pk)
    if root.review_result is True:
        set_tree_state(tree, S.PROMPT_LOTTERY_WAITING, reason="prompt accepted")
    elif (
        root.review_result is False
        and root.review_count >= settings.OASST_NUM_REVIEWS_INITIAL_PROMPT
    ):
        set_tree_state(tree, S.ABORTED_LOW_GRADE, reason="prompt rejected in review")


def check_growing_done(tree: MessageTree) -> None:
    """growing → ranking at goal size with nothing left in review; stalls move on too.

    A tree whose every message was deleted is halted. A tree that can no longer
    reach its goal size (no parent left to extend, nothing in review: OA left
    those in growing for ever) goes to ranking when it has siblings to rank,
    otherwise it is halted for a moderator to look at.
    """
    if tree.state != S.GROWING:
        return
    size, awaiting_review = count_size_and_awaiting_review(tree)
    if size == 0:
        set_tree_state(tree, S.HALTED_BY_MODERATOR, reason="all messages deleted")
        return
    if awaiting_review > 0:
        return
    if size >= tree.goal_tree_size:
        if set_tree_state(tree, S.RANKING, reason="goal size reached"):
            check_ranking_done(tree)
        return
    if has_extendible_parent(tree):
        return
    if rankable_parents(tree):
        if set_tree_state(tree, S.RANKING, reason=f"stalled at {size} messages"):
            check_ranking_done(tree)
    else:
        set_tree_state(tree, S.HALTED_BY_MODERATOR, reason=f"stalled at {size} messages")


def ranking_is_complete(tree: MessageTree) -> bool:
    parents = rankable_parents(tree)
    if not parents:
        return True
    done = dict(
        Ranking.objects.filter(parent__in=list(parents), task__done=True)
        .values("parent")
        .annotate(n=Count("id"))
        .values_list("parent", "n")
    )
    return all(done.get(parent, 0) >= settings.OASST_NUM_REQUIRED_RANKINGS for parent in parents)


def check_ranking_done(tree: MessageTree) -> None:
    """ranking → ready_for_scoring once every rankable parent has enough rankings, then score."""
    if tree.state != S.RANKING:
        return
    if ranking_is_complete(tree) and set_tree_state(
        tree, S.READY_FOR_SCORING, reason="rankings complete"
    ):
        score_tree(tree)


def score_tree(tree: MessageTree) -> None:
    """ready_for_scoring → ready_for_export with consensus ranks, or scoring_failed."""
    if tree.state != S.READY_FOR_SCORING:
        return
    try:
        write_consensus_ranks(tree)
    except Exception as exc:  # any failure must leave the tree retryable, not stuck
        log.exception("scoring tree %s failed", tree.pk)
        set_tree_state(tree, S.SCORING_FAILED, reason=f"{exc.__class__.__name__}: {exc}")
        return
    set_tree_state(tree, S.READY_FOR_EXPORT, reason="scored")


def write_consensus_ranks(tree: MessageTree) -> None:
    """Set ``rank`` (0 = best) of every ranked sibling by ranked pairs; others get None."""
    by_parent: dict[object, list[list[str]]] = {}
    for parent_id, ids in (
        Ranking.objects.filter(tree=tree, task__done=True)
        .order_by("created_at", "pk")
        .values_list("parent_id", "ranked_message_ids")
    ):
        by_parent.setdefault(parent_id, []).append([str(i) for i in ids])
    for parent_id, rankings in by_parent.items():
        order = rank_by_ranked_pairs(rankings)
        if not order:
            continue
        Message.objects.filter(parent_id=parent_id).update(rank=None)
        for position, message_id in enumerate(order):
            Message.objects.filter(pk=message_id, parent_id=parent_id).update(rank=position)


def check_tree(tree: MessageTree) -> None:
    """Apply whichever rule fits the tree's state (the periodic re-check, OA's ensure_tree_states)."""
    checks = {
        S.INITIAL_PROMPT_REVIEW: check_prompt_review,
        S.GROWING: check_growing_done,
        S.RANKING: check_ranking_done,
        S.READY_FOR_SCORING: score_tree,
    }
    check = checks.get(tree.state)
    if check is not None:
        check(tree)


def retry_scoring(tree: MessageTree) -> None:
    """scoring_failed → scored again, or back to ranking when rankings are now missing."""
    if tree.state != S.SCORING_FAILED:
        return
    if ranking_is_complete(tree):
        if set_tree_state(tree, S.READY_FOR_SCORING, reason="retry scoring"):
            score_tree(tree)
    else:
        set_tree_state(tree, S.RANKING, reason="retry scoring: rankings missing")


# --- Moderation -------------------------------------------------------------------


def halt_tree(tree: MessageTree, *, reason: str = "halted by a moderator") -> bool:
    if tree.state == S.HALTED_BY_MODERATOR:
        return False
    return set_tree_state(tree, S.HALTED_BY_MODERATOR, reason=reason)


def unhalt_tree(tree: MessageTree) -> bool:
    """Back to growing if the tree had won the lottery, else to prompt review; then re-check."""
    if tree.state != S.HALTED_BY_MODERATOR:
        return False
    if tree.won_lottery_at is not None:
        won = set_tree_state(tree, S.GROWING, reason="un-halted")
    else:
        won = set_tree_state(tree, S.INITIAL_PROMPT_REVIEW, reason="un-halted")
    if won:
        check_tree(tree)
    return won


def delete_message(message: Message, *, recursive: bool = True) -> int:
    """Soft-delete a message and (by default) everything below it; returns how many."""
    ids = [message.pk]
    frontier = [message.pk]
    while recursive and frontier:
        frontier = list(
            Message.objects.filter(parent_id__in=frontier, deleted=False).values_list(
                "pk", flat=True
            )
        )
        ids.extend(frontier)
    count = Message.objects.filter(pk__in=ids, deleted=False).update(deleted=True)
    if message.parent_id is not None:
        Message.objects.filter(pk=message.parent_id, children_count__gt=0).update(
            children_count=F("children_count") - 1
        )
    return count


def moderate_message(message: Message) -> None:
    """Auto-moderation for one message (§3.8); call with its tree locked after an emoji count changed."""
    if not settings.OASST_AUTO_MOD_ENABLED or message.deleted:
        return
    tree = MessageTree.objects.get(pk=message.tree_id)
    if tree.state not in (S.INITIAL_PROMPT_REVIEW, S.GROWING) or not tree.active:
        return
    emojis = message.emojis or {}
    if emojis.get(Emoji.RED_FLAG, 0) >= settings.OASST_AUTO_MOD_RED_FLAGS:
        if message.parent_id is None:
            set_tree_state(tree, S.ABORTED_LOW_GRADE, reason="prompt red-flagged")
        else:
            delete_message(message, recursive=True)
            record_event("message_auto_deleted", message_id=message.pk, tree_id=tree.pk)
            check_growing_done(tree)
        return
    if emojis.get(Emoji.SKIP_REPLY, 0) >= settings.OASST_AUTO_MOD_MAX_SKIP_REPLY:
        halt_tree(tree, reason="skipped too often")


def run_auto_moderation(lang: str | None = None) -> int:
    """Sweep the active trees for messages over the red-flag or skip limits; returns how many."""
    if not settings.OASST_AUTO_MOD_ENABLED:
        return 0
    messages = Message.objects.filter(
        tree__active=True,
        tree__state__in=[S.INITIAL_PROMPT_REVIEW, S.GROWING],
        deleted=False,
    ).filter(
        Q(emojis__red_flag__gte=settings.OASST_AUTO_MOD_RED_FLAGS)
        | Q(emojis___skip_reply__gte=settings.OASST_AUTO_MOD_MAX_SKIP_REPLY)
    )
    if lang:
        messages = messages.filter(tree__lang=lang)
    found = list(messages)
    for message in found:
        moderate_message(message)
    return len(found)


def halt_prompts_of_disabled_users() -> int:
    """Waiting prompts of banned, disabled or deleted people never grow (OA, hourly)."""
    trees = MessageTree.objects.filter(
        state=S.PROMPT_LOTTERY_WAITING,
        messages__parent__isnull=True,
        messages__user__in=User.objects.filter(
            Q(is_active=False) | Q(deleted_at__isnull=False) | Q(banned_at__isnull=False)
        ),
    )
    halted = 0
    for tree in trees:
        halted += halt_tree(tree, reason="author disabled")
    return halted


# --- The prompt lottery (§3.4) and the backlog --------------------------------------


def lock_language(lang: str) -> None:
    """Serialize lottery draws for one language (PostgreSQL; SQLite's IMMEDIATE already does)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s, hashtext(%s))", [4242, lang])


def monthly_first_ranks(user_ids: list[int]) -> dict[int, int]:
    """How many of each author's replies ranked first in the last 30 days (reply_ranked_1)."""
    since = timezone.now() - timedelta(days=30)
    rows = (
        Message.objects.filter(user_id__in=user_ids, rank=0, created_at__gte=since)
        .values("user_id")
        .annotate(n=Count("id"))
        .values_list("user_id", "n")
    )
    return dict(rows)


def lottery_candidates(lang: str) -> list[int]:
    """Authors with an accepted prompt waiting in this language who may still contribute."""
    return list(
        Message.objects.filter(
            parent__isnull=True,
            tree__state=S.PROMPT_LOTTERY_WAITING,
            tree__lang=lang,
            deleted=False,
            review_result=True,
            user__is_active=True,
            user__deleted_at__isnull=True,
            user__banned_at__isnull=True,
        )
        .values_list("user_id", flat=True)
        .distinct()
    )


def pick_lottery_author(authors: list[int], first_ranks: dict[int, int]) -> int:
    """Weighted draw: weight = replies ranked first this month + 1."""
    weights = [first_ranks.get(author, 0) + 1 for author in authors]
    return random.choices(authors, weights=weights, k=1)[0]


def run_lottery(lang: str, *, max_activate: int) -> int:
    """Move up to ``max_activate`` waiting prompts to growing; returns how many were drawn.

    Call inside a transaction: the language is locked so that two draws
    cannot both fill the last free place.
    """
    drawn = 0
    if max_activate <= 0:
        return 0
    lock_language(lang)
    while drawn < max_activate:
        growing = MessageTree.objects.filter(lang=lang, state=S.GROWING, active=True).count()
        if growing >= settings.OASST_MAX_ACTIVE_TREES:
            break
        authors = sorted(lottery_candidates(lang))
        if not authors:
            break
        author = pick_lottery_author(authors, monthly_first_ranks(authors))
        tree_ids = list(
            MessageTree.objects.filter(
                state=S.PROMPT_LOTTERY_WAITING,
                lang=lang,
                messages__parent__isnull=True,
                messages__user_id=author,
                messages__deleted=False,
                messages__review_result=True,
            ).values_list("pk", flat=True)[:100]
        )
        tree = MessageTree.objects.get(pk=random.choice(tree_ids))
        if set_tree_state(tree, S.GROWING, reason="won the prompt lottery"):
            drawn += 1
    return drawn


def lottery_is_due(lang: str) -> bool:
    """A cheap read before taking the lock: is there a free place and a waiting prompt?

    One statement, as every task request asks it.
    """
    tree = MessageTree._meta.db_table
    sql = (
        f"SELECT (SELECT COUNT(*) FROM {tree} WHERE lang = %s AND state = %s AND active = %s), "  # noqa: S608 - a model's table name
        f"EXISTS (SELECT 1 FROM {tree} WHERE lang = %s AND state = %s)"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [lang, S.GROWING, True, lang, S.PROMPT_LOTTERY_WAITING])
        growing, waiting = cursor.fetchone()
    return growing < settings.OASST_MAX_ACTIVE_TREES and bool(waiting)


def count_initial_prompts_available(lang: str) -> int:
    """How many new prompts a language can take now (the lottery's return value in OA)."""
    if lang in settings.OASST_INIT_PROMPT_DISABLED_LANGS:
        return 0
    counts = dict(
        MessageTree.objects.filter(lang=lang)
        .filter(
            Q(state=S.GROWING, active=True)
            | Q(state=S.INITIAL_PROMPT_REVIEW, active=True)
            | Q(state=S.PROMPT_LOTTERY_WAITING)
        )
        .values("state")
        .annotate(n=Count("id"))
        .values_list("state", "n")
    )
    free = max(0, settings.OASST_MAX_ACTIVE_TREES - counts.get(S.GROWING, 0)) + max(
        0, settings.OASST_MAX_INITIAL_PROMPT_REVIEW - counts.get(S.INITIAL_PROMPT_REVIEW, 0)
    )
    room = max(
        0, settings.OASST_MAX_PROMPT_LOTTERY_WAITING - counts.get(S.PROMPT_LOTTERY_WAITING, 0)
    )
    return min(free, room)


def activate_backlog_tree(lang: str) -> MessageTree | None:
    """backlog_ranking → ranking (or aborted_low_grade when there is nothing to rank)."""
    tree = MessageTree.objects.filter(lang=lang, state=S.BACKLOG_RANKING).order_by("?").first()
    if tree is None:
        return None
    if rankable_parents(tree):
        if set_tree_state(tree, S.RANKING, reason="activated from the backlog"):
            check_ranking_done(tree)
    else:
        set_tree_state(tree, S.ABORTED_LOW_GRADE, reason="backlog tree with nothing to rank")
    return tree
