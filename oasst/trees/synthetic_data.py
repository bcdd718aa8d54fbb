"""Bulk synthetic datasets for benchmarks: realistic shape, fast to insert.

Rows are built as plain tuples and written with COPY on PostgreSQL and
``executemany`` on SQLite, bypassing the ORM's per-object overhead, so a
million messages take minutes, not hours. The shape follows Open-Assistant's
data: most trees exported, a few hundred in review, ten growing per language,
some in ranking; labels, rankings and emojis on a share of the messages.
"""

from __future__ import annotations

import json
import random
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Model
from django.utils import timezone

from oasst.accounts.models import User
from oasst.trees.crowd import compose_text
from oasst.trees.models import (
    EmojiReaction,
    Message,
    MessageTree,
    Ranking,
    Role,
    Task,
    TaskType,
    TextLabel,
    TreeState,
)

S = TreeState
# Share of the trees in each state when there are many (the active states are
# capped per language below, as the engine itself caps them).
STATE_SHARES = [
    (S.READY_FOR_EXPORT, 0.70),
    (S.ABORTED_LOW_GRADE, 0.08),
    (S.PROMPT_LOTTERY_WAITING, 0.08),
    (S.BACKLOG_RANKING, 0.05),
    (S.HALTED_BY_MODERATOR, 0.02),
    (S.SCORING_FAILED, 0.002),
    (S.RANKING, 0.02),
]
ACTIVE_CAPS = {S.INITIAL_PROMPT_REVIEW: 100, S.GROWING: 10, S.READY_FOR_SCORING: 2}


@dataclass
class Batch:
    trees: list[tuple] = field(default_factory=list)
    messages: list[tuple] = field(default_factory=list)
    tasks: list[tuple] = field(default_factory=list)
    labels: list[tuple] = field(default_factory=list)
    rankings: list[tuple] = field(default_factory=list)
    emojis: list[tuple] = field(default_factory=list)


def _columns(model: type[Model], names: Sequence[str]) -> list[str]:
    return [model._meta.get_field(name).column for name in names]


TREE_FIELDS = ["id", "state", "active", "lang", "goal_tree_size", "max_depth",
               "max_children_count", "origin", "won_lottery_at", "state_changed_at", "created_at"]  # fmt: skip
MESSAGE_FIELDS = ["id", "tree", "parent", "user", "frontend_message_id", "role", "text", "lang",
                  "depth", "children_count", "review_count", "review_result", "ranking_count",
                  "rank", "synthetic", "model_name", "deleted", "edited", "emojis", "created_at"]  # fmt: skip
TASK_FIELDS = ["id", "type", "payload", "user", "created_at", "ack", "done", "done_at", "skipped",
               "skip_reason", "frontend_message_id", "tree", "parent_message", "collective"]  # fmt: skip
LABEL_FIELDS = ["id", "message", "user", "task", "labels", "text", "is_report", "created_at"]
RANKING_FIELDS = ["task", "user", "parent", "tree", "ranked_message_ids", "ranking",
                  "not_rankable", "created_at"]  # fmt: skip
EMOJI_FIELDS = ["message", "user", "emoji", "created_at"]


def _converter(model: type[Model], name: str) -> Callable[[Any], Any]:
    """How one column's Python value is written by this database's bulk path."""
    db_field = model._meta.get_field(name)
    internal = db_field.get_internal_type()
    if connection.vendor == "postgresql":
        if internal == "JSONField":
            return lambda value: json.dumps(value)
        return lambda value: value
    if internal == "JSONField":
        return lambda value: json.dumps(value)
    return lambda value: db_field.get_db_prep_save(value, connection)


def write_rows(model: type[Model], names: Sequence[str], rows: Iterable[tuple]) -> None:
    """Insert rows (tuples in ``names`` order) with COPY or executemany."""
    columns = _columns(model, names)
    converters = [_converter(model, name) for name in names]
    table = model._meta.db_table
    converted = (
        [convert(value) for convert, value in zip(converters, row, strict=True)] for row in rows
    )
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            column_sql = ", ".join(f'"{c}"' for c in columns)
            with cursor.cursor.copy(f'COPY "{table}" ({column_sql}) FROM STDIN') as copy:
                for row in converted:
                    copy.write_row(row)
        else:
            placeholders = ", ".join(["%s"] * len(columns))
            column_sql = ", ".join(f'"{c}"' for c in columns)
            cursor.executemany(
                f'INSERT INTO "{table}" ({column_sql}) VALUES ({placeholders})',  # noqa: S608
                list(converted),
            )


def ensure_users(count: int, *, langs: Sequence[str]) -> list[int]:
    """``count`` synthetic volunteers (created once, reused on later runs)."""
    existing = list(
        User.objects.filter(username__startswith="gen-").order_by("pk").values_list("pk", flat=True)
    )
    missing = count - len(existing)
    if missing > 0:
        now = timezone.now()
        User.objects.bulk_create(
            [
                User(
                    username=f"gen-{len(existing) + i}",
                    display_name=f"Generated volunteer {len(existing) + i}",
                    password="!",  # noqa: S106 - an unusable password
                    languages=[langs[i % len(langs)]],
                    tos_accepted_at=now,
                )
                for i in range(missing)
            ],
            batch_size=2000,
        )
        existing = list(
            User.objects.filter(username__startswith="gen-")
            .order_by("pk")
            .values_list("pk", flat=True)
        )
    return existing[:count]


def plan_states(
    count: int, langs: Sequence[str], rng: random.Random, *, active_caps: bool = True
) -> list[tuple[str, str]]:
    """(state, lang) for each tree: the capped active states first, the rest by share."""
    plan: list[tuple[str, str]] = []
    for lang in langs if active_caps else []:
        for state, cap in ACTIVE_CAPS.items():
            plan.extend([(state, lang)] * min(cap, max(1, count // (50 * len(langs)))))
    plan = plan[:count]
    states = [state for state, _ in STATE_SHARES]
    weights = [share for _, share in STATE_SHARES]
    for _ in range(count - len(plan)):
        plan.append((rng.choices(states, weights=weights)[0], rng.choice(langs)))
    rng.shuffle(plan)
    return plan


def build_tree(
    batch: Batch,
    *,
    state: str,
    lang: str,
    size: int,
    users: list[int],
    rng: random.Random,
    created: datetime,
) -> None:
    """Append one tree's rows: a root, then replies breadth-first up to ``size`` messages."""
    tree_id = uuid.uuid4()
    goal, max_depth, max_children = (
        settings.OASST_GOAL_TREE_SIZE,
        settings.OASST_MAX_TREE_DEPTH,
        settings.OASST_MAX_CHILDREN_COUNT,
    )
    only_root = state in (S.INITIAL_PROMPT_REVIEW, S.PROMPT_LOTTERY_WAITING, S.ABORTED_LOW_GRADE)
    won = created + timedelta(hours=2) if not only_root else None
    batch.trees.append(
        (tree_id, state, state in (S.INITIAL_PROMPT_REVIEW, S.GROWING, S.RANKING, S.READY_FOR_SCORING),
         lang, goal, max_depth, max_children, "generate_data" if state == S.BACKLOG_RANKING else "",
         won, created + timedelta(hours=6), created)
    )  # fmt: skip
    reviewed = state not in (S.INITIAL_PROMPT_REVIEW,)
    root_result = None if not reviewed else state != S.ABORTED_LOW_GRADE
    # Each node: (id, role, depth, user, children)
    nodes: list[list[Any]] = []
    root_user = rng.choice(users)
    nodes.append([tree_id, None, Role.PROMPTER, 0, root_user, 0, root_result])
    frontier = [0]
    target = 1 if only_root else size
    while frontier and len(nodes) < target:
        parent_index = frontier.pop(0)
        parent = nodes[parent_index]
        if parent[3] >= max_depth:
            continue
        want = max_children if parent[2] == Role.PROMPTER else 1
        authors = rng.sample(users, k=min(want, len(users)))
        for author in authors:
            if len(nodes) >= target:
                break
            role = Role.ASSISTANT if parent[2] == Role.PROMPTER else Role.PROMPTER
            in_review = state == S.GROWING and rng.random() < 0.3
            result = None if in_review else rng.random() > 0.05
            nodes.append([uuid.uuid4(), parent[0], role, parent[3] + 1, author, 0, result])
            parent[5] += 1
            frontier.append(len(nodes) - 1)
    by_parent: dict[object, list[list[Any]]] = {}
    for node in nodes[1:]:
        by_parent.setdefault(node[1], []).append(node)
    ranked_trees = state in (S.READY_FOR_EXPORT, S.SCORING_FAILED, S.READY_FOR_SCORING)
    for offset, (message_id, parent_id, role, depth, author, children, result) in enumerate(nodes):
        siblings = by_parent.get(parent_id, [])
        rank = None
        ranking_count = 0
        if parent_id is not None and role == Role.ASSISTANT and len(siblings) > 1:
            ranking_count = 3 if ranked_trees else rng.randrange(0, 3)
            if state == S.READY_FOR_EXPORT:
                rank = [s[0] for s in siblings].index(message_id)
        lang_of_text = lang
        kind = "initial_prompt" if parent_id is None else f"{role}_reply"
        emojis = {}
        if rng.random() < 0.1:
            emojis = {"+1": rng.randrange(1, 4)}
        batch.messages.append(
            (message_id, tree_id, parent_id, author, "", role, compose_text(rng, lang=lang_of_text, kind=kind),
             lang, depth, children, 3 if result is not None else rng.randrange(0, 3), result,
             ranking_count, rank, False, "", state == S.HALTED_BY_MODERATOR and depth > 1, False,
             emojis, created + timedelta(minutes=10 * offset))
        )  # fmt: skip
        if emojis:
            batch.emojis.append((message_id, rng.choice(users), "+1", created))
        reviewer = rng.choice(users)
        if rng.random() < 0.2 and reviewer != author:
            task_id = uuid.uuid4()
            task_type = (
                TaskType.LABEL_INITIAL_PROMPT
                if parent_id is None
                else (
                    TaskType.LABEL_ASSISTANT_REPLY
                    if role == Role.ASSISTANT
                    else TaskType.LABEL_PROMPTER_REPLY
                )
            )
            when = created + timedelta(minutes=10 * offset + 5)
            batch.tasks.append(
                (task_id, task_type, {"mode": "full"}, reviewer, when, True, True, when, False, "", "",
                 tree_id, message_id, False)
            )  # fmt: skip
            batch.labels.append(
                (task_id, message_id, reviewer, task_id,
                 {"spam": 0.0, "lang_mismatch": 0.0, "quality": rng.choice([0.5, 0.75, 1.0])},
                 "", False, when)
            )  # fmt: skip
    if ranked_trees and rng.random() < 0.2:
        for parent_id, siblings in by_parent.items():
            replies = [s for s in siblings if s[2] == Role.ASSISTANT]
            if len(replies) < 2:
                continue
            ranker = rng.choice(users)
            if ranker in {s[4] for s in replies}:
                continue
            task_id = uuid.uuid4()
            when = created + timedelta(days=1)
            batch.tasks.append(
                (task_id, TaskType.RANK_ASSISTANT_REPLIES, {}, ranker, when, True, True, when, False,
                 "", "", tree_id, parent_id, False)
            )  # fmt: skip
            batch.rankings.append(
                (task_id, ranker, parent_id, tree_id, [str(s[0]) for s in replies],
                 list(range(len(replies))), False, when)
            )  # fmt: skip


def flush(batch: Batch) -> None:
    with transaction.atomic():
        write_rows(MessageTree, TREE_FIELDS, batch.trees)
        write_rows(Message, MESSAGE_FIELDS, batch.messages)
        write_rows(Task, TASK_FIELDS, batch.tasks)
        write_rows(TextLabel, LABEL_FIELDS, batch.labels)
        write_rows(Ranking, RANKING_FIELDS, batch.rankings)
        write_rows(EmojiReaction, EMOJI_FIELDS, batch.emojis)


def generate_dataset(
    trees: int,
    *,
    messages_per_tree: int = 10,
    langs: Sequence[str] = ("en", "es", "de"),
    users: int = 2000,
    seed: int = 0,
    batch_trees: int = 2000,
    active_caps: bool = True,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, int]:
    """Insert ``trees`` trees of about ``messages_per_tree`` messages; returns row counts.

    Without ``active_caps`` no trees in review or growing are added (to grow
    an existing dataset without exceeding the per-language caps).
    """
    rng = random.Random(seed)
    user_ids = ensure_users(max(users, messages_per_tree + 2), langs=langs)
    plan = plan_states(trees, langs, rng, active_caps=active_caps)
    start = timezone.now() - timedelta(days=365)
    step = timedelta(days=365) / max(1, trees)
    totals = {"trees": 0, "messages": 0, "labels": 0, "rankings": 0, "emojis": 0}
    batch = Batch()
    for index, (state, lang) in enumerate(plan):
        size = max(2, int(rng.gauss(messages_per_tree, messages_per_tree / 4)))
        build_tree(
            batch,
            state=state,
            lang=lang,
            size=size,
            users=user_ids,
            rng=rng,
            created=start + step * index,
        )
        if len(batch.trees) >= batch_trees or index == len(plan) - 1:
            flush(batch)
            totals["trees"] += len(batch.trees)
            totals["messages"] += len(batch.messages)
            totals["labels"] += len(batch.labels)
            totals["rankings"] += len(batch.rankings)
            totals["emojis"] += len(batch.emojis)
            batch = Batch()
            if progress is not None:
                progress(index + 1, trees)
    # Fresh statistics, so the planner uses the indexes the selector relies on.
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    return totals
