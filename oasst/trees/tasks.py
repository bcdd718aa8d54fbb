"""Handing out tasks and their acknowledgement (reference/oa-backend.md §2.4, §3.6).

``request_task`` runs the lottery, checks the person's limits, asks the
selector and stores the task with the payload the wire protocol sends.
``ack_task``, ``nack_task`` and ``close_task`` are the other task-level writes.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from typing import Any

from django.conf import settings
from django.db import connection
from django.utils import timezone

from oasst.accounts.models import ApiClient, User
from oasst.trees import lifecycle, selection
from oasst.trees.errors import ErrorCode, OasstError
from oasst.trees.labels import FULL_LABELS, MANDATORY_LABELS, SIMPLE_LABELS, describe
from oasst.trees.models import (
    LABEL_TASKS,
    RANKING_TASKS,
    REPLY_TASKS,
    Emoji,
    EmojiReaction,
    Message,
    Task,
    TaskType,
    expiry_for_new_task,
)
from oasst.trees.retries import run_atomically

TASK = Task._meta.db_table
MESSAGE = Message._meta.db_table
EMOJI = EmojiReaction._meta.db_table
SKIP_EMOJI = {
    **dict.fromkeys(REPLY_TASKS, Emoji.SKIP_REPLY),
    **dict.fromkeys(LABEL_TASKS, Emoji.SKIP_LABELING),
    **dict.fromkeys(RANKING_TASKS, Emoji.SKIP_RANKING),
}


def check_may_contribute(user: User) -> None:
    """Raise OA's user errors for people who may not take tasks now (§3.6 step 1)."""
    if not user.is_active or user.deleted_at is not None or user.banned_at is not None:
        raise OasstError(ErrorCode.USER_DISABLED, "This account is disabled.")
    # A trusted frontend holds its own users' terms (OA's website did too);
    # people who use this server directly accept them here.
    if settings.OASST_REQUIRE_TOS and user.api_client_id is None and not user.has_accepted_tos:
        raise OasstError(
            ErrorCode.USER_HAS_NOT_ACCEPTED_TOS, "Please accept the terms of service first."
        )


# --- Payloads ---------------------------------------------------------------------


def emojis_of(user: User | None, messages: list[Message]) -> dict[object, list[str]]:
    """Message id → the emojis ``user`` gave it, for all of ``messages`` in one query.

    In SQL: composing this simple query cost the ORM about 1 ms on every task request.
    """
    mine: dict[object, list[str]] = defaultdict(list)
    if user is None or not messages:
        return mine
    ids = {_id_param(m.pk): m.pk for m in messages}
    sql = f"""
        SELECT message_id, emoji FROM {EMOJI}
        WHERE user_id = %s AND message_id IN ({", ".join(["%s"] * len(ids))})
    """  # noqa: S608 - the table name comes from the model, values are parameters
    with connection.cursor() as cursor:
        cursor.execute(sql, [user.pk, *ids])
        for message_id, emoji in cursor.fetchall():
            mine[ids[message_id]].append(emoji)
    return mine


def _id_param(pk: object) -> object:
    """A UUID primary key as the database stores and returns it (hex text on SQLite)."""
    return Message._meta.pk.get_db_prep_value(pk, connection)


def conversation_messages(
    messages: list[Message],
    *,
    user: User | None,
    hide_synthetic: bool = False,
    emojis: dict[object, list[str]] | None = None,
) -> list[dict[str, Any]]:
    """OA's ConversationMessage dicts, with the person's own emojis and authorship.

    ``emojis`` (from ``emojis_of``) saves the query when the caller has them already.
    """
    mine = emojis_of(user, messages) if emojis is None else emojis
    return [
        {
            "id": str(m.pk),
            "user_id": str(m.user_id),
            "frontend_message_id": m.frontend_message_id or None,
            "text": m.text,
            "lang": m.lang,
            "is_assistant": m.role == "assistant",
            "emojis": {k: v for k, v in (m.emojis or {}).items() if not k.startswith("_")},
            "user_emojis": [e for e in mine.get(m.pk, ()) if not e.startswith("_")],
            "user_is_author": user is not None and m.user_id == user.pk,
            "synthetic": None if hide_synthetic else m.synthetic,
        }
        for m in messages
    ]


def conversation_to(message: Message) -> list[Message]:
    """The path from the root down to ``message``: its ancestors in one recursive query.

    In SQL, reading only the path: the ORM composed a query for the whole
    tree down to the message's depth and built a model for every row of it.
    """
    if message.parent_id is None:
        return [message]
    sql = f"""
        WITH RECURSIVE ancestors AS (
            SELECT * FROM {MESSAGE} WHERE id = %s
            UNION ALL
            SELECT m.* FROM {MESSAGE} m JOIN ancestors a ON m.id = a.parent_id
        )
        SELECT * FROM ancestors
    """  # noqa: S608 - the table name comes from the model, values are parameters
    by_id = {m.pk: m for m in Message.objects.raw(sql, [_id_param(message.parent_id)])}
    path = [message]
    while path[-1].parent_id is not None:
        path.append(by_id[path[-1].parent_id])
    return list(reversed(path))


def build_payload(choice: selection.Choice, *, user: User) -> dict[str, Any]:
    """The task body the frontend shows, stored with the task."""
    task_type = choice.type
    if task_type == TaskType.INITIAL_PROMPT:
        return {"hint": None}
    assert choice.message is not None
    path = conversation_to(choice.message)
    emojis = emojis_of(user, path + choice.replies)  # one query for the path and the replies
    conversation = {"messages": conversation_messages(path, user=user, emojis=emojis)}
    if task_type in (TaskType.PROMPTER_REPLY, TaskType.ASSISTANT_REPLY):
        payload: dict[str, Any] = {"conversation": conversation}
        if task_type == TaskType.PROMPTER_REPLY:
            payload["hint"] = None
        return payload
    if task_type in RANKING_TASKS:
        reveal = all(reply.synthetic for reply in choice.replies)
        reply_messages = conversation_messages(
            choice.replies, user=user, hide_synthetic=not reveal, emojis=emojis
        )
        return {
            "conversation": conversation,
            "replies": [reply.text for reply in choice.replies],
            "reply_messages": reply_messages,
            "message_tree_id": str(choice.message.tree_id),
            "ranking_parent_id": str(choice.message.pk),
            "reveal_synthetic": reveal,
        }
    labels = (FULL_LABELS if choice.mode == "full" else SIMPLE_LABELS)[task_type]
    payload = {
        "message_id": str(choice.message.pk),
        "valid_labels": labels,
        "mandatory_labels": MANDATORY_LABELS,
        "mode": choice.mode,
        "disposition": "quality" if choice.mode == "full" else "spam",
        "labels": describe(labels),
        "conversation": conversation,
    }
    if task_type == TaskType.LABEL_INITIAL_PROMPT:
        payload["prompt"] = choice.message.text
    else:
        payload["reply"] = choice.message.text
        payload["reply_message"] = conversation["messages"][-1]
    return payload


# --- Requesting -------------------------------------------------------------------


def request_task(
    user: User,
    *,
    lang: str = "en",
    requested: str = selection.RANDOM,
    api_client: ApiClient | None = None,
    collective: bool = False,
) -> Task:
    """Choose and store the next task for ``user`` (§2.4 step 1, §3.6)."""
    check_may_contribute(user)
    lang = lang or "en"
    if lifecycle.lottery_is_due(lang):

        def draw() -> int:
            return lifecycle.run_lottery(
                lang, max_activate=settings.OASST_LOTTERY_MAX_ACTIVATE_TASK
            )

        run_atomically(draw)
    if selection.count_pending_tasks(user) >= settings.OASST_MAX_PENDING_TASKS_PER_USER:
        raise OasstError(
            ErrorCode.TASK_TOO_MANY_PENDING,
            "User has too many pending tasks; finish or skip some first.",
        )
    choice = selection.choose_task(user, lang, requested)
    payload = build_payload(choice, user=user)
    parent = choice.message
    task = Task(
        type=choice.type,
        payload=payload,
        user=user,
        api_client=api_client,
        collective=collective,
        expires_at=None if collective else expiry_for_new_task(),
        parent_message=parent,
        tree_id=parent.tree_id if parent is not None else None,
    )
    insert_task(task)  # one INSERT: atomic without a transaction around it
    return task


def insert_task(task: Task) -> None:
    """Store a new task with one INSERT, its values prepared as ``save()`` prepares them.

    In SQL: on every task request, ``save()`` spent about as long composing
    the INSERT as the rest of storing it. Sends no model signals (nothing
    listens for a task's).
    """
    fields = Task._meta.concrete_fields
    values = [field.get_db_prep_save(field.pre_save(task, True), connection) for field in fields]
    columns = ", ".join(connection.ops.quote_name(field.column) for field in fields)
    sql = f"INSERT INTO {TASK} ({columns}) VALUES ({', '.join(['%s'] * len(fields))})"  # noqa: S608
    with connection.cursor() as cursor:
        cursor.execute(sql, values)
    task._state.adding = False
    task._state.db = connection.alias


def available_tasks(user: User, *, lang: str = "en") -> dict[str, int]:
    """Counts per task type after a lottery draw of at most one prompt (POST /tasks/availability)."""
    lang = lang or "en"
    if lifecycle.lottery_is_due(lang):
        run_atomically(
            lambda: lifecycle.run_lottery(
                lang, max_activate=settings.OASST_LOTTERY_MAX_ACTIVATE_AVAILABILITY
            )
        )
    return selection.count_available(user, lang)


# --- Ack, nack, close -------------------------------------------------------------


def find_task(
    task_id: object, *, api_client: ApiClient | None, user: User | None, lock: bool = False
) -> Task:
    """The task with this id, if it belongs to this client (or, without one, to this person).

    ``lock`` locks its row (inside a transaction). Found by primary key alone,
    the owner compared here: with the client in the WHERE clause too,
    PostgreSQL statistics taken before the client's recent tasks made it scan
    all of them by the client index instead.
    """
    found = Task.objects.select_for_update() if lock else Task.objects
    try:
        task = found.get(pk=task_id)
    except Task.DoesNotExist:
        task = None
    if task is None or not _belongs_to(task, api_client=api_client, user=user):
        raise OasstError(ErrorCode.TASK_NOT_FOUND, f"Task {task_id} not found.")
    return task


def lock_task_by_frontend_id(
    message_id: str, *, api_client: ApiClient | None, user: User | None
) -> Task:
    """The task a frontend acknowledged with ``message_id`` (OA's lookup), locked; a task id also works.

    Call inside a transaction. Without a client, only ``user``'s own tasks count.
    """
    owner, owner_params = _owner_condition(api_client=api_client, user=user)
    sql = f"""
        SELECT * FROM {TASK} WHERE {owner} AND frontend_message_id = %s
        ORDER BY id LIMIT 1{for_update()}
    """  # noqa: S608 - the table name comes from the model, values are parameters
    found = list(Task.objects.raw(sql, [*owner_params, message_id]))
    if found:
        return found[0]
    try:
        task_id = uuid.UUID(message_id)
    except ValueError:
        raise OasstError(
            ErrorCode.TASK_NOT_FOUND, f"No task for message_id {message_id!r}."
        ) from None
    return find_task(task_id, api_client=api_client, user=None if api_client else user, lock=True)


def _owner_condition(
    *, api_client: ApiClient | None, user: User | None, alias: str = ""
) -> tuple[str, list[object]]:
    """SQL for "a task of this client", or without one "a personal task of ``user``"."""
    if api_client is not None:
        return f"{alias}api_client_id = %s", [api_client.pk]
    return f"{alias}api_client_id IS NULL AND {alias}user_id = %s", [user.pk if user else None]


def for_update() -> str:
    """`` FOR UPDATE`` where the database locks rows (as ``select_for_update()``; SQLite does not)."""
    return " FOR UPDATE" if connection.features.has_select_for_update else ""


def _belongs_to(task: Task, *, api_client: ApiClient | None, user: User | None) -> bool:
    if api_client is not None:
        return task.api_client_id == api_client.pk
    return task.api_client_id is None and task.user_id == (user.pk if user else None)


def ack_task(task: Task, *, frontend_message_id: str) -> Task:
    """Bind the frontend's id to the task (§2.4 step 2); repeating it with the same id is a no-op."""
    if not frontend_message_id:
        raise OasstError(ErrorCode.INVALID_FRONTEND_MESSAGE_ID, "message_id must not be empty")

    def write() -> Task:
        # The usual case in two statements: the id is free and a compare-and-set
        # acknowledges a task that is still open. Anything else is explained
        # from the locked row below, in the order of the checks there.
        id_taken = (
            Task.objects.filter(
                api_client_id=task.api_client_id, frontend_message_id=frontend_message_id
            )
            .exclude(pk=task.pk)
            .exists()
        )
        if not id_taken:
            acknowledged = (
                Task.objects.filter(pk=task.pk, done=False)
                .exclude(ack=True)
                .exclude(expires_at__lt=timezone.now())
                .update(ack=True, frontend_message_id=frontend_message_id)
            )
            if acknowledged:
                task.ack, task.frontend_message_id = True, frontend_message_id
                return task
        locked = Task.objects.select_for_update().get(pk=task.pk)
        if locked.ack and locked.frontend_message_id == frontend_message_id:
            return locked
        if locked.is_expired:
            raise OasstError(ErrorCode.TASK_EXPIRED, "Task has expired.")
        if locked.done or locked.ack:
            raise OasstError(ErrorCode.TASK_ALREADY_UPDATED, "Task was already acknowledged.")
        if id_taken:
            raise OasstError(
                ErrorCode.INVALID_FRONTEND_MESSAGE_ID,
                f"message_id {frontend_message_id!r} is already used by another task",
            )
        locked.ack = True
        locked.frontend_message_id = frontend_message_id
        locked.save(update_fields=["ack", "frontend_message_id"])
        return locked

    return run_atomically(write)


def ack_task_by_id(
    task_id: object,
    *,
    api_client: ApiClient | None,
    user: User | None,
    frontend_message_id: str,
) -> None:
    """``find_task`` then ``ack_task``, in one UPDATE when the usual case holds (POST …/ack).

    The owner, the open task and the free frontend id are all conditions of
    the compare-and-set, so a frontend's acknowledgement is one statement with
    no transaction around it. When it changes no row, the two-step path finds
    out why and answers with the same error as before.
    """
    if (
        frontend_message_id
        and (api_client is not None or user is not None)
        and _acknowledge_open_task(
            task_id, api_client=api_client, user=user, frontend_message_id=frontend_message_id
        )
    ):
        return
    task = find_task(task_id, api_client=api_client, user=user)
    ack_task(task, frontend_message_id=frontend_message_id)


def _acknowledge_open_task(
    task_id: object, *, api_client: ApiClient | None, user: User | None, frontend_message_id: str
) -> bool:
    """The compare-and-set of ``ack_task_by_id``; returns whether it acknowledged the task.

    The task must be this client's (without one, this person's personal
    task), open, not acknowledged, not expired, and no other task of the same
    client may hold the frontend id (personal tasks share one space). Written
    in SQL: the ORM spent about 2 ms of CPU composing this statement; the
    whole call now takes about 0.4 ms.
    """
    owner, owner_params = _owner_condition(api_client=api_client, user=user)
    if api_client is not None:
        same_client, same_params = "other.api_client_id = %s", [api_client.pk]
    else:
        same_client, same_params = "other.api_client_id IS NULL", []
    task_pk = Task._meta.pk.get_db_prep_value(task_id, connection)
    sql = f"""
        UPDATE {TASK} SET ack = %s, frontend_message_id = %s
        WHERE id = %s AND {owner} AND done = %s AND (ack IS NULL OR ack = %s)
          AND (expires_at IS NULL OR expires_at >= %s)
          AND NOT EXISTS (SELECT 1 FROM {TASK} other
                          WHERE {same_client} AND other.frontend_message_id = %s
                            AND other.id <> %s)
    """  # noqa: S608 - the table name comes from the model, values are parameters
    params = [
        True, frontend_message_id, task_pk, *owner_params, False, False,
        connection.ops.adapt_datetimefield_value(timezone.now()),
        *same_params, frontend_message_id, task_pk,
    ]  # fmt: skip
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.rowcount == 1


def nack_task(task: Task, *, user: User, reason: str = "") -> Task:
    """Skip a task: the person is not offered that message for that work again (§2.4 step 2)."""

    def write() -> Task:
        locked = Task.objects.select_for_update().get(pk=task.pk)
        if locked.skipped:
            return locked
        if locked.done:
            raise OasstError(ErrorCode.TASK_ALREADY_DONE, "Task is already done.")
        locked.skipped = True
        locked.skip_reason = (reason or "")[:512]
        locked.save(update_fields=["skipped", "skip_reason"])
        if locked.parent_message_id is not None:
            from oasst.trees.submissions import add_emoji

            message = Message.objects.get(pk=locked.parent_message_id)
            add_emoji(message, user=user, emoji=SKIP_EMOJI[locked.type])
        return locked

    return run_atomically(write)


def close_task(
    frontend_message_id: str, *, api_client: ApiClient | None, user: User | None
) -> Task:
    """Close a collective task by its frontend id (OA's route was broken, [quirk])."""

    def write() -> Task:
        tasks = Task.objects.select_for_update().filter(
            frontend_message_id=frontend_message_id, api_client=api_client
        )
        if api_client is None:
            tasks = tasks.filter(user=user)
        locked = tasks.first()
        if locked is None:
            raise OasstError(ErrorCode.TASK_NOT_FOUND, "No task with this message_id.")
        if not locked.collective:
            raise OasstError(ErrorCode.TASK_NOT_COLLECTIVE, "Only collective tasks can be closed.")
        if locked.done:
            return locked
        locked.done = True
        locked.done_at = timezone.now()
        locked.save(update_fields=["done", "done_at"])
        return locked

    return run_atomically(write)


def expire_tasks() -> int:
    """Delete tasks nobody finished before they expired (OA's hourly job); returns how many."""
    deleted, _ = Task.objects.expired().filter(frontend_message_id="").delete()
    # Acknowledged tasks are only marked, so the frontend's id keeps answering 2101.
    marked = Task.objects.expired().exclude(frontend_message_id="").update(skipped=True)
    return deleted + marked
