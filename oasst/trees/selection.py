"""Choosing the next piece of work for a person (reference/oa-backend.md §3.6). Reads only.

Every candidate set is one SQL statement over the active trees of one
language (the tree index narrows it to a handful of trees, the message
indexes on tree and parent do the rest); a random candidate is drawn in the
database. Nothing here loops over trees in Python.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings
from django.db import connection
from django.db.backends.utils import CursorWrapper
from django.utils import timezone

from oasst.accounts.models import User
from oasst.trees.errors import ErrorCode, OasstError
from oasst.trees.lifecycle import count_initial_prompts_available, rankable_roles
from oasst.trees.models import (
    LABEL_TASKS,
    REPLY_TASKS,
    Emoji,
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

RANDOM = "random"
# The five kinds of work the random choice weighs (§3.6 step 5).
RANKING, LABEL_REPLY, LABEL_PROMPT, REPLY, PROMPT = (
    "ranking",
    "label_reply",
    "label_prompt",
    "reply",
    "prompt",
)
RANDOM_WEIGHTS = {RANKING: 10.0, LABEL_REPLY: 5.0, LABEL_PROMPT: 5.0, REPLY: 2.0, PROMPT: 0.01}


@dataclass
class Choice:
    """What the selector picked: a task type and the message it is about (if any)."""

    type: str
    message: Message | None = None
    mode: str = "full"
    replies: list[Message] = field(default_factory=list)


def _recent(seconds: int) -> object:
    """The cutoff ``seconds`` ago, as this database compares it."""
    return connection.ops.adapt_datetimefield_value(timezone.now() - timedelta(seconds=seconds))


# --- Candidate sets -------------------------------------------------------------------
#
# Written in SQL rather than built with the ORM: on every task request the ORM
# spent about ten times longer composing these nested queries than the
# database spent running them (count_pending_tasks and _ranking_choice below
# too). The statements are portable between PostgreSQL and SQLite (booleans
# and dates are bound as parameters) and select ``id`` and ``role`` of
# candidate messages; the caller counts them, tests for one, or draws one at
# random in the database.

MESSAGE = Message._meta.db_table
TREE = MessageTree._meta.db_table
TASK = Task._meta.db_table
LABEL = TextLabel._meta.db_table
RANKING_TABLE = Ranking._meta.db_table
EMOJI = EmojiReaction._meta.db_table


def _placeholders(values: list[object]) -> str:
    return ", ".join(["%s"] * len(values))


@dataclass(frozen=True)
class Candidates:
    """A set of candidate messages: one SELECT of ``id, role`` (and maybe more) with its parameters."""

    sql: str
    params: tuple[object, ...]
    # Planned once per connection, generically (see _prepared_cursor), or for
    # each run's values where a generic plan runs far slower.
    generic_plan: bool = True

    def where(self, condition: str, *params: object) -> Candidates:
        return Candidates(
            f"SELECT * FROM ({self.sql}) AS c WHERE {condition}",  # noqa: S608
            (*self.params, *params),
            self.generic_plan,
        )

    def with_role(self, role: str) -> Candidates:
        return self.where("c.role = %s", role)

    def _fetch(self, sql: str, params: tuple[object, ...]) -> list[tuple]:
        with self._cursor() as cursor:
            cursor.execute(sql, params)
            return cursor.fetchall()

    def ids(self) -> list[uuid.UUID]:
        return [uuid.UUID(str(row[0])) for row in self._fetch(self.sql, self.params)]

    def count(self) -> int:
        return self._fetch(f"SELECT COUNT(*) FROM ({self.sql}) AS c", self.params)[0][0]  # noqa: S608

    def exists(self) -> bool:
        return bool(self._fetch(f"SELECT 1 FROM ({self.sql}) AS c LIMIT 1", self.params))  # noqa: S608

    def pick(self) -> Message | None:
        """One candidate at random, drawn by the database and read in the same statement."""
        drawn = f"SELECT c.id FROM ({self.sql}) AS c ORDER BY RANDOM() LIMIT 1"  # noqa: S608
        with self._cursor() as cursor:
            cursor.execute(f"SELECT * FROM {MESSAGE} WHERE id = ({drawn})", self.params)  # noqa: S608
            row = cursor.fetchone()
            columns = [column[0] for column in cursor.description]
        return None if row is None else _message_from_row(columns, row)

    def _cursor(self) -> AbstractContextManager[CursorWrapper]:
        return _prepared_cursor() if self.generic_plan else connection.cursor()


@contextmanager
def _prepared_cursor() -> Iterator[CursorWrapper]:
    """A cursor whose statements PostgreSQL prepares, and plans once per connection.

    The candidate queries take PostgreSQL 1.5-4 ms to plan, more than they
    take to run, on every task request. On PostgreSQL they are bound on the
    server, so psycopg prepares them (DATABASES sets ``prepare_threshold``)
    and the connection keeps one generic plan for each (``plan_cache_mode``).
    Django's own queries are bound on the client and never prepared, so
    neither setting touches them; SQLite gets a plain cursor.
    """
    if connection.vendor != "postgresql":
        with connection.cursor() as cursor:
            yield cursor
        return
    from django.db.backends.postgresql.base import ServerBindingCursor

    connection.ensure_connection()
    bound = ServerBindingCursor(connection.connection)
    # Wrapped as connection.cursor() wraps its own: errors, execute wrappers, query log.
    wrapped = (
        connection.make_debug_cursor(bound)
        if connection.queries_logged
        else connection.make_cursor(bound)
    )
    with wrapped as cursor:
        yield cursor


def _message_from_row(columns: list[str], row: tuple) -> Message:
    """A Message from a ``SELECT *`` row, its values converted as a queryset converts them."""
    by_column = dict(zip(columns, row, strict=True))
    fields = Message._meta.concrete_fields
    values = []
    for model_field in fields:  # from_db() takes the values in the model's field order
        col = model_field.get_col(MESSAGE)
        value = by_column[model_field.column]
        for convert in connection.ops.get_db_converters(col) + col.get_db_converters(connection):
            value = convert(value, col, connection)
        values.append(value)
    return Message.from_db(connection.alias, [f.attname for f in fields], values)


def _active_trees_sql() -> str:
    return f"SELECT t.id FROM {TREE} t WHERE t.lang = %s AND t.state = %s AND t.active = %s"  # noqa: S608


def _no_emoji_sql(column: str) -> str:
    return f"NOT EXISTS (SELECT 1 FROM {EMOJI} e WHERE e.message_id = {column} AND e.user_id = %s AND e.emoji = %s)"  # noqa: S608


def messages_needing_review(user: User, lang: str, *, roots: bool) -> Candidates:
    """Prompts (roots) or replies that still need reviews from someone like ``user`` (§3.5).

    Excluded: the person's own messages, messages they reviewed or hold an
    open review task for, and messages they skipped.
    """
    required = (
        settings.OASST_NUM_REVIEWS_INITIAL_PROMPT if roots else settings.OASST_NUM_REVIEWS_REPLY
    )
    state = TreeState.INITIAL_PROMPT_REVIEW if roots else TreeState.GROWING
    label_types = sorted(LABEL_TASKS)
    # A root's id is its tree's id, so prompts are found by primary key.
    scope = "m.id IN" if roots else "m.parent_id IS NOT NULL AND m.tree_id IN"
    sql = f"""
        SELECT m.id, m.role FROM {MESSAGE} m
        WHERE {scope} ({_active_trees_sql()})
          AND m.lang = %s AND m.deleted = %s
          AND (m.review_result IS NULL OR m.review_result = %s) AND m.review_count < %s
          AND m.user_id <> %s
          AND NOT EXISTS (SELECT 1 FROM {LABEL} l
                          WHERE l.message_id = m.id AND l.user_id = %s AND l.task_id IS NOT NULL)
          AND NOT EXISTS (SELECT 1 FROM {TASK} k
                          WHERE k.parent_message_id = m.id AND k.user_id = %s AND k.done = %s
                            AND k.skipped = %s AND k.type IN ({_placeholders(label_types)})
                            AND k.created_at >= %s)
          AND {_no_emoji_sql("m.id")}
    """  # noqa: S608 - table names come from the models, values are parameters
    params = (
        lang, state, True, lang, False, False, required, user.pk, user.pk, user.pk, False, False,
        *label_types, _recent(settings.OASST_RECENT_TASKS_SPAN_SEC), user.pk, Emoji.SKIP_LABELING,
    )  # fmt: skip
    # Its generic plan ran five times slower than the custom ones at 10k trees
    # (bench/selection.py); it is planned for each run's values.
    return Candidates(sql, params, generic_plan=False)


def extendible_parents(user: User, lang: str) -> Candidates:
    """Accepted messages of growing trees below their goal size that may get another reply.

    Children that hold a slot are accepted or still in review. Under an
    assistant message only ``OASST_NUM_PROMPTER_REPLIES`` replies are asked
    for. A parent somebody was given a reply task for in the last five minutes
    is reserved, so two people do not write the same reply at once. Selects
    ``slots`` too, for the lonely-child preference.
    """
    reply_types = sorted(REPLY_TASKS)
    sql = f"""
        SELECT p.id, p.role, p.slots FROM (
            SELECT m.id, m.role, t.max_children_count AS cap,
                   (SELECT COUNT(*) FROM {MESSAGE} c
                     WHERE c.parent_id = m.id AND c.deleted = %s
                       AND (c.review_result = %s OR c.review_count < %s)) AS slots
            FROM {MESSAGE} m JOIN {TREE} t ON t.id = m.tree_id
            WHERE t.lang = %s AND t.state = %s AND t.active = %s
              AND (SELECT COUNT(*) FROM {MESSAGE} a
                    WHERE a.tree_id = t.id AND a.review_result = %s AND a.deleted = %s)
                  < t.goal_tree_size
              AND m.lang = %s AND m.review_result = %s AND m.deleted = %s
              AND m.depth < t.max_depth
              AND {_no_emoji_sql("m.id")}
              AND NOT EXISTS (SELECT 1 FROM {MESSAGE} r WHERE r.parent_id = m.id AND r.user_id = %s)
              AND NOT EXISTS (SELECT 1 FROM {TASK} k
                              WHERE k.parent_message_id = m.id AND k.done = %s AND k.skipped = %s
                                AND k.type IN ({_placeholders(reply_types)}) AND k.created_at >= %s)
        ) AS p
        WHERE p.slots < p.cap AND (p.role = %s OR p.slots < %s)
    """  # noqa: S608 - table names come from the models, values are parameters
    params = (
        False, True, settings.OASST_NUM_REVIEWS_REPLY,
        lang, TreeState.GROWING, True, True, False,
        lang, True, False, user.pk, Emoji.SKIP_REPLY, user.pk, False, False,
        *reply_types, _recent(settings.OASST_RECENT_TASKS_SPAN_SEC),
        Role.PROMPTER, settings.OASST_NUM_PROMPTER_REPLIES,
    )  # fmt: skip
    # Its generic plan ran over ten times slower than the custom ones at 100k
    # trees (35 against 3 ms a pick); it is planned for each run's values.
    return Candidates(sql, params, generic_plan=False)


def lonely_parents(parents: Candidates) -> Candidates:
    """Prompter messages with at least one reply but fewer than ``OASST_LONELY_CHILDREN_COUNT``."""
    return parents.where(
        "c.role = %s AND c.slots > 0 AND c.slots < %s",
        Role.PROMPTER,
        settings.OASST_LONELY_CHILDREN_COUNT,
    )


# Trees drawn before looking for a ranking parent in them (see pick_ranking_parent).
RANKING_TREE_SAMPLE = 32


def incomplete_rankings(user: User, lang: str, *, tree_sample: int | None = None) -> Candidates:
    """Parents in ranking trees whose accepted replies still need rankings from ``user``.

    A parent qualifies with more than one accepted reply of a rankable role
    and its least-ranked reply below ``OASST_NUM_REQUIRED_RANKINGS``; the
    person wrote none of the replies, has not ranked them, holds no open
    ranking task for them and did not skip them. With ``tree_sample``, only
    that many ranking trees, drawn at random, are searched.
    """
    trees = _active_trees_sql()
    if tree_sample is not None:
        # Written into the statement, not bound: its prepared generic plan
        # (see _prepared_cursor) then knows how few trees the sample holds.
        trees += f" ORDER BY RANDOM() LIMIT {int(tree_sample)}"
    roles = rankable_roles()
    rank_types = [TaskType.RANK_ASSISTANT_REPLIES, TaskType.RANK_PROMPTER_REPLIES]
    children = f"""FROM {MESSAGE} c WHERE c.parent_id = m.id AND c.role IN ({_placeholders(roles)})
                   AND c.review_result = %s AND c.deleted = %s"""
    sql = f"""
        SELECT p.id, p.role FROM (
            SELECT m.id, m.role,
                   (SELECT COUNT(*) {children}) AS replies,
                   (SELECT MIN(c.ranking_count) {children}) AS least_ranked
            FROM {MESSAGE} m
            WHERE m.tree_id IN ({trees})
              AND m.lang = %s AND m.review_result = %s AND m.deleted = %s
              AND m.children_count > 1
              AND NOT EXISTS (SELECT 1 FROM {MESSAGE} r WHERE r.parent_id = m.id AND r.user_id = %s)
              AND NOT EXISTS (SELECT 1 FROM {RANKING_TABLE} g
                              WHERE g.parent_id = m.id AND g.user_id = %s)
              AND NOT EXISTS (SELECT 1 FROM {TASK} k
                              WHERE k.parent_message_id = m.id AND k.user_id = %s AND k.done = %s
                                AND k.skipped = %s AND k.type IN (%s, %s) AND k.created_at >= %s)
              AND {_no_emoji_sql("m.id")}
        ) AS p
        WHERE p.replies > 1 AND p.least_ranked < %s
    """  # noqa: S608 - table names come from the models, values are parameters
    params = (
        *roles, True, False, *roles, True, False,
        lang, TreeState.RANKING, True, lang, True, False,
        user.pk, user.pk, user.pk, False, False, *rank_types,
        _recent(settings.OASST_RECENT_TASKS_SPAN_SEC), user.pk, Emoji.SKIP_RANKING,
        settings.OASST_NUM_REQUIRED_RANKINGS,
    )  # fmt: skip
    # Over a sample of trees a generic plan is as fast as a custom one and
    # spares the planning; over all ranking trees it ran eight times slower
    # at 100k trees (460 against 50 ms a pick).
    return Candidates(sql, params, generic_plan=tree_sample is not None)


def pick_ranking_parent(user: User, lang: str, *, role: str | None = None) -> Message | None:
    """A parent to rank, drawn among a random sample of ranking trees, then among all.

    Unlike growing trees, ranking trees are not capped: a large install holds
    thousands per language, and evaluating every candidate to draw one took
    about 0.1 s at 100k trees. A sample of trees almost always holds a
    candidate; when it does not (a person who ranked nearly everything), the
    whole set is searched, so no task is ever missed.
    """
    for sample in (RANKING_TREE_SAMPLE, None):
        candidates = incomplete_rankings(user, lang, tree_sample=sample)
        if role is not None:
            candidates = candidates.with_role(role)
        parent = candidates.pick()
        if parent is not None:
            return parent
    return None


def initial_prompts_available(lang: str) -> int:
    return count_initial_prompts_available(lang)


# --- Availability ---------------------------------------------------------------------


def count_available(user: User, lang: str) -> dict[str, int]:
    """Tasks available to ``user`` in ``lang`` per request type (POST /tasks/availability)."""
    parents = extendible_parents(user, lang)
    replies = messages_needing_review(user, lang, roots=False)
    counts = {
        TaskType.INITIAL_PROMPT.value: initial_prompts_available(lang),
        TaskType.PROMPTER_REPLY.value: parents.with_role(Role.ASSISTANT).count(),
        TaskType.ASSISTANT_REPLY.value: parents.with_role(Role.PROMPTER).count(),
        TaskType.LABEL_INITIAL_PROMPT.value: messages_needing_review(
            user, lang, roots=True
        ).count(),
        TaskType.LABEL_PROMPTER_REPLY.value: replies.with_role(Role.PROMPTER).count(),
        TaskType.LABEL_ASSISTANT_REPLY.value: replies.with_role(Role.ASSISTANT).count(),
    }
    rankings = incomplete_rankings(user, lang)
    counts[TaskType.RANK_ASSISTANT_REPLIES.value] = rankings.with_role(Role.PROMPTER).count()
    if settings.OASST_RANK_PROMPTER_REPLIES:
        counts[TaskType.RANK_PROMPTER_REPLIES.value] = rankings.with_role(Role.ASSISTANT).count()
    counts[RANDOM] = sum(counts.values())
    return counts


# --- Choosing ----------------------------------------------------------------------


def choose_kind(kinds: list[str], *, rng: random.Random | None = None) -> str:
    """Weighted random choice among the available kinds (ranking 10, labels 5, reply 2, prompt 0.01)."""
    rng = rng or random
    return rng.choices(kinds, weights=[RANDOM_WEIGHTS[kind] for kind in kinds], k=1)[0]


def _not_available(requested: str) -> OasstError:
    return OasstError(
        ErrorCode.TASK_REQUESTED_TYPE_NOT_AVAILABLE,
        f"No tasks of type '{requested}' are currently available.",
    )


def choose_task(user: User, lang: str, requested: str = RANDOM) -> Choice:
    """Pick the next task for ``user`` in ``lang`` (§3.6 steps 4–6). Raises 1006 when there is none."""
    if requested == RANDOM:
        # Draw a kind by weight, drop it if it has no candidate, draw again:
        # each available kind still wins in proportion to its weight, and
        # usually the first draw is served by one query.
        kinds = list(RANDOM_WEIGHTS)
        while kinds:
            kind = choose_kind(kinds)
            try:
                return _choose_of_kind(user, lang, kind, requested=requested)
            except OasstError as exc:
                if exc.error is not ErrorCode.TASK_REQUESTED_TYPE_NOT_AVAILABLE:
                    raise
                kinds.remove(kind)
        raise _not_available(requested)
    if requested == TaskType.INITIAL_PROMPT:
        return _choose_of_kind(user, lang, PROMPT, requested=requested)
    if requested in (TaskType.PROMPTER_REPLY, TaskType.ASSISTANT_REPLY):
        role = Role.ASSISTANT if requested == TaskType.PROMPTER_REPLY else Role.PROMPTER
        return _choose_reply(user, lang, role=role, requested=requested)
    if requested == TaskType.LABEL_INITIAL_PROMPT:
        return _choose_of_kind(user, lang, LABEL_PROMPT, requested=requested)
    if requested in (TaskType.LABEL_PROMPTER_REPLY, TaskType.LABEL_ASSISTANT_REPLY):
        role = Role.PROMPTER if requested == TaskType.LABEL_PROMPTER_REPLY else Role.ASSISTANT
        message = messages_needing_review(user, lang, roots=False).with_role(role).pick()
        if message is None:
            raise _not_available(requested)
        return Choice(type=requested, message=message, mode="full")
    if requested in (TaskType.RANK_ASSISTANT_REPLIES, TaskType.RANK_PROMPTER_REPLIES):
        if requested == TaskType.RANK_PROMPTER_REPLIES and not settings.OASST_RANK_PROMPTER_REPLIES:
            raise _not_available(requested)
        parent_role = (
            Role.PROMPTER if requested == TaskType.RANK_ASSISTANT_REPLIES else Role.ASSISTANT
        )
        parent = pick_ranking_parent(user, lang, role=parent_role)
        if parent is None:
            raise _not_available(requested)
        return _ranking_choice(parent)
    raise OasstError(ErrorCode.TASK_INVALID_REQUEST_TYPE, f"Unsupported task type '{requested}'")


def _choose_of_kind(user: User, lang: str, kind: str, *, requested: str) -> Choice:
    if kind == PROMPT:
        if initial_prompts_available(lang) <= 0:
            raise _not_available(requested)
        return Choice(type=TaskType.INITIAL_PROMPT)
    if kind == RANKING:
        parent = pick_ranking_parent(user, lang)
        if parent is None:
            raise _not_available(requested)
        return _ranking_choice(parent)
    if kind == REPLY:
        return _choose_reply(user, lang, role=None, requested=requested)
    if kind == LABEL_PROMPT:
        message = messages_needing_review(user, lang, roots=True).pick()
        if message is None:
            raise _not_available(requested)
        simple = (
            requested == RANDOM and random.random() > settings.OASST_P_FULL_LABELING_REVIEW_PROMPT
        )
        return Choice(
            type=TaskType.LABEL_INITIAL_PROMPT, message=message, mode="simple" if simple else "full"
        )
    # LABEL_REPLY: simple mode only when the request was random (§3.6 step 6).
    message = messages_needing_review(user, lang, roots=False).pick()
    if message is None:
        raise _not_available(requested)
    if message.role == Role.ASSISTANT:
        task_type, p_full = (
            TaskType.LABEL_ASSISTANT_REPLY,
            settings.OASST_P_FULL_LABELING_REVIEW_REPLY_ASSISTANT,
        )
    else:
        task_type, p_full = (
            TaskType.LABEL_PROMPTER_REPLY,
            settings.OASST_P_FULL_LABELING_REVIEW_REPLY_PROMPTER,
        )
    simple = requested == RANDOM and random.random() > p_full
    return Choice(type=task_type, message=message, mode="simple" if simple else "full")


def _choose_reply(user: User, lang: str, *, role: str | None, requested: str) -> Choice:
    """A parent to reply to; with p = 0.75 a lonely prompter message if there is one."""
    parents = extendible_parents(user, lang)
    if role is not None:
        parents = parents.with_role(role)
    parent = None
    if random.random() < settings.OASST_P_LONELY_CHILD_EXTENSION:
        parent = lonely_parents(parents).pick()
    if parent is None:
        parent = parents.pick()
    if parent is None:
        raise _not_available(requested)
    task_type = (
        TaskType.PROMPTER_REPLY if parent.role == Role.ASSISTANT else TaskType.ASSISTANT_REPLY
    )
    return Choice(type=task_type, message=parent)


def _ranking_choice(parent: Message) -> Choice:
    roles = rankable_roles()
    sql = f"""
        SELECT * FROM {MESSAGE}
        WHERE parent_id = %s AND role IN ({_placeholders(roles)}) AND review_result = %s
          AND deleted = %s
        ORDER BY id
    """  # noqa: S608 - the table name comes from the model, values are parameters
    parent_pk = Message._meta.pk.get_db_prep_value(parent.pk, connection)
    replies = list(Message.objects.raw(sql, [parent_pk, *roles, True, False]))  # accepted replies
    random.shuffle(replies)
    task_type = (
        TaskType.RANK_PROMPTER_REPLIES
        if parent.role == Role.ASSISTANT
        else TaskType.RANK_ASSISTANT_REPLIES
    )
    return Choice(type=task_type, message=parent, replies=replies)


def count_pending_tasks(user: User) -> int:
    """Open tasks the person was given in the last five minutes (the pending limit of §3.6)."""
    sql = f"""
        SELECT COUNT(*) FROM {TASK}
        WHERE user_id = %s AND done = %s AND skipped = %s AND created_at >= %s
    """  # noqa: S608 - the table name comes from the model, values are parameters
    params = (user.pk, False, False, _recent(settings.OASST_RECENT_TASKS_SPAN_SEC))
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone()[0]
