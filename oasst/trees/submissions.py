"""Storing work: replies, labels, rankings, emoji reactions (reference/oa-backend.md §2.3–§2.5, §3.5, §4.3).

Each public function is one transaction (retried on serialization failures
and races) that first locks the task, then the tree, re-validates against
what it finds there, writes, and calls the life-cycle rule for that tree. A
bad input raises ``OasstError`` with OA's code before anything is written.
Repeating a finished submission with the same content returns the stored
result instead of failing, so a frontend may safely retry.
"""

from __future__ import annotations

import uuid
from datetime import timedelta

from django.conf import settings
from django.db import connection
from django.db.models import F
from django.utils import timezone

from oasst.accounts.models import ApiClient, User
from oasst.lib.languages import is_valid_language
from oasst.trees import lifecycle, tasks
from oasst.trees.errors import ErrorCode, OasstError
from oasst.trees.journal import record_event
from oasst.trees.labels import LABELS, MANDATORY_LABELS
from oasst.trees.models import (
    LABEL_TASKS,
    RANKING_TASKS,
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
from oasst.trees.retries import run_atomically

# Replies are still welcome once a tree has moved on (OA PR #1677), but not
# to a tree that was stopped.
TREE_STATES_ACCEPTING_REPLIES = (
    TreeState.GROWING,
    TreeState.RANKING,
    TreeState.READY_FOR_SCORING,
    TreeState.READY_FOR_EXPORT,
)
EMOJI_OPS = ("toggle", "add", "remove")


def _lock_task(task: Task | uuid.UUID | str, *, user: User, api_client: ApiClient | None) -> Task:
    """The task, locked: given as a Task, or by its id or the frontend's message_id for it.

    By id or message_id, the task must belong to ``api_client`` (without one,
    to ``user``), and is found and locked in one statement.
    """
    if isinstance(task, Task):
        return Task.objects.select_for_update().get(pk=task.pk)
    if isinstance(task, uuid.UUID):
        owner = None if api_client else user
        return tasks.find_task(task, api_client=api_client, user=owner, lock=True)
    return tasks.lock_task_by_frontend_id(task, api_client=api_client, user=user)


def _lock_tree(tree_id: object) -> MessageTree:
    """The tree, its row locked (in SQL: the ORM's composing cost more than the lock)."""
    sql = f"SELECT * FROM {MessageTree._meta.db_table} WHERE id = %s{tasks.for_update()}"  # noqa: S608
    pk = MessageTree._meta.pk.get_db_prep_value(tree_id, connection)
    found = list(MessageTree.objects.raw(sql, [pk]))
    if not found:
        raise MessageTree.DoesNotExist(f"MessageTree {tree_id} does not exist.")
    return found[0]


def _check_task_open(task: Task, *, user: User, types: frozenset[str] | tuple[str, ...]) -> None:
    """OA's _validate_task: right type, not expired, acknowledged, not done, this person's."""
    if task.type not in types:
        raise OasstError(
            ErrorCode.TASK_PAYLOAD_TYPE_MISMATCH,
            f"Task {task.pk} is a {task.type} task; this interaction does not fit it.",
        )
    if task.is_expired:
        raise OasstError(ErrorCode.TASK_EXPIRED, "Task has expired.")
    if not task.ack:
        raise OasstError(ErrorCode.TASK_NOT_ACK, "Task is not acknowledged yet.")
    if task.done:
        raise OasstError(ErrorCode.TASK_ALREADY_DONE, "Task is already done.")
    if task.skipped:
        raise OasstError(ErrorCode.TASK_ALREADY_UPDATED, "Task was skipped.")
    if not task.collective and task.user_id != user.pk:
        raise OasstError(ErrorCode.TASK_NOT_ASSIGNED_TO_USER, "Task is assigned to someone else.")


def _finish(task: Task) -> None:
    """Mark a personal task done (one UPDATE in SQL, where ``save()`` composed one each time)."""
    if task.collective:
        return
    task.done = True
    task.done_at = timezone.now()
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {Task._meta.db_table} SET done = %s, done_at = %s WHERE id = %s",  # noqa: S608
            [
                True,
                connection.ops.adapt_datetimefield_value(task.done_at),
                Task._meta.pk.get_db_prep_value(task.pk, connection),
            ],
        )


# --- Replies ----------------------------------------------------------------------


def check_reply_text(text: str, *, user: User) -> str:
    """Strip and validate a reply's text (§2.5); returns the stored text."""
    text = (text or "").strip()
    if not text:
        raise OasstError(ErrorCode.TASK_MESSAGE_TEXT_EMPTY, "Message text is empty.")
    if len(text) > settings.OASST_MESSAGE_SIZE_LIMIT:
        raise OasstError(
            ErrorCode.TASK_MESSAGE_TOO_LONG,
            f"Message text is longer than {settings.OASST_MESSAGE_SIZE_LIMIT} characters.",
        )
    window = timedelta(minutes=settings.OASST_DUPLICATE_MESSAGE_FILTER_WINDOW_MINUTES)
    if Message.objects.filter(
        user=user, created_at__gte=timezone.now() - window, text=text
    ).exists():
        raise OasstError(
            ErrorCode.TASK_MESSAGE_DUPLICATED, "You sent exactly this text a short while ago."
        )
    return text


def submit_reply(
    task: Task | str,
    *,
    user: User,
    text: str,
    lang: str = "",
    frontend_message_id: str = "",
    api_client: ApiClient | None = None,
) -> Message:
    """Store a prompt or a reply written for ``task`` (text_reply_to_message).

    ``task`` may be the frontend's message_id for it (see ``_lock_task``).
    """

    def write() -> Message:
        locked = _lock_task(task, user=user, api_client=api_client)
        if locked.done:
            earlier = Message.objects.filter(task=locked, user=user).first()
            if earlier is not None and earlier.frontend_message_id == frontend_message_id:
                return earlier
        _check_task_open(
            locked,
            user=user,
            types=(TaskType.INITIAL_PROMPT, TaskType.PROMPTER_REPLY, TaskType.ASSISTANT_REPLY),
        )
        if lang and not is_valid_language(lang):
            raise OasstError(ErrorCode.INVALID_MESSAGE, f"Unknown language code {lang!r}.")
        if (
            frontend_message_id
            and Message.objects.filter(
                api_client=api_client, frontend_message_id=frontend_message_id
            ).exists()
        ):
            raise OasstError(
                ErrorCode.INVALID_FRONTEND_MESSAGE_ID,
                f"user_message_id {frontend_message_id!r} is already used",
            )
        if locked.type == TaskType.INITIAL_PROMPT:
            message = _store_prompt(locked, user=user, text=text, lang=lang, api_client=api_client)
        else:
            message = _store_reply(locked, user=user, text=text, lang=lang, api_client=api_client)
        message.frontend_message_id = frontend_message_id
        message.save(update_fields=["frontend_message_id"])
        _finish(locked)
        record_event(
            "text_reply_to_message",
            user_id=user.pk,
            message_id=message.pk,
            tree_id=message.tree_id,
            api_client_id=api_client.pk if api_client else None,
            task_id=str(locked.pk),
            task_type=locked.type,
            role=message.role,
            length=len(message.text),
        )
        return message

    return run_atomically(write)


def _store_prompt(
    task: Task, *, user: User, text: str, lang: str, api_client: ApiClient | None
) -> Message:
    text = check_reply_text(text, user=user)
    lang = lang or user.task_language
    tree = lifecycle.open_tree(lang=lang)
    task.tree = tree
    task.save(update_fields=["tree"])
    return Message.objects.create(
        id=tree.pk,
        tree=tree,
        user=user,
        api_client=api_client,
        task=task,
        role=Role.PROMPTER,
        text=text,
        lang=lang,
    )


def _store_reply(
    task: Task, *, user: User, text: str, lang: str, api_client: ApiClient | None
) -> Message:
    if task.parent_message_id is None:
        raise OasstError(ErrorCode.BROKEN_CONVERSATION, "Reply task without a parent message.")
    tree = _lock_tree(task.tree_id)
    parent = Message.objects.get(pk=task.parent_message_id)
    if tree.state not in TREE_STATES_ACCEPTING_REPLIES:
        raise OasstError(
            ErrorCode.TREE_IN_ABORTED_STATE,
            f"The conversation is {tree.state.replace('_', ' ')} and takes no replies.",
        )
    if Message.objects.filter(parent=parent, user=user).exists():
        raise OasstError(
            ErrorCode.TASK_MESSAGE_DUPLICATE_REPLY, "You already replied to this message."
        )
    text = check_reply_text(text, user=user)
    role = Role.ASSISTANT if task.type == TaskType.ASSISTANT_REPLY else Role.PROMPTER
    message = Message.objects.create(
        tree=tree,
        parent=parent,
        user=user,
        api_client=api_client,
        task=task,
        role=role,
        text=text,
        lang=lang or tree.lang,
        depth=parent.depth + 1,
        deleted=parent.deleted,
    )
    Message.objects.filter(pk=parent.pk).update(children_count=F("children_count") + 1)
    return message


# --- Labels -----------------------------------------------------------------------


def check_label_values(labels: dict[str, float]) -> None:
    unknown = sorted(set(labels) - set(LABELS))
    if unknown:
        raise OasstError(
            ErrorCode.TEXT_LABELS_INVALID_LABEL, f"Unknown labels: {', '.join(unknown)}"
        )
    for name, value in labels.items():
        if not isinstance(value, int | float) or not 0 <= value <= 1:
            raise OasstError(
                ErrorCode.GENERIC_ERROR,
                f"Label {name} must be a number between 0 and 1, got {value!r}.",
                http_status=422,
            )


def submit_labels(
    *,
    user: User,
    message_id: object,
    labels: dict[str, float],
    task: Task | uuid.UUID | None = None,
    text: str = "",
    is_report: bool = False,
    api_client: ApiClient | None = None,
) -> TextLabel:
    """Store labels: a review for a label task, a free label (overwrites the earlier one) or a report.

    ``task`` may be the task's id (see ``_lock_task``); an unknown one is
    refused before the labels are looked at.
    """

    def write() -> TextLabel:
        locked = None if task is None else _lock_task(task, user=user, api_client=api_client)
        check_label_values(labels)
        try:
            message = Message.objects.get(pk=message_id)
        except Message.DoesNotExist:
            raise OasstError(
                ErrorCode.MESSAGE_NOT_FOUND, f"Message {message_id} not found."
            ) from None
        if locked is None:
            return _store_free_label(
                message,
                user=user,
                labels=labels,
                text=text,
                is_report=is_report,
                api_client=api_client,
            )
        if locked.done:
            earlier = TextLabel.objects.filter(task=locked, user=user).first()
            if earlier is not None and earlier.labels == labels:
                return earlier
        _check_task_open(locked, user=user, types=LABEL_TASKS)
        # OA compared message_id with itself here ([quirk]); a label for
        # another message than the task's is refused.
        if str(locked.parent_message_id) != str(message.pk):
            raise OasstError(
                ErrorCode.TEXT_LABELS_WRONG_MESSAGE_ID,
                f"Task {locked.pk} is about message {locked.parent_message_id}, not {message.pk}.",
            )
        valid = set(locked.payload.get("valid_labels", []))
        invalid = sorted(set(labels) - valid)
        if invalid:
            raise OasstError(
                ErrorCode.TEXT_LABELS_INVALID_LABEL,
                f"Labels not asked for in this task: {', '.join(invalid)}",
            )
        missing = sorted(
            set(locked.payload.get("mandatory_labels", MANDATORY_LABELS)) - set(labels)
        )
        if missing:
            raise OasstError(
                ErrorCode.TEXT_LABELS_MANDATORY_LABEL_MISSING,
                f"Mandatory labels missing: {', '.join(missing)}",
            )
        if message.user_id == user.pk:
            raise OasstError(
                ErrorCode.TEXT_LABELS_NO_SELF_LABELING, "You cannot review your own message."
            )
        if TextLabel.objects.filter(message=message, user=user, task__isnull=False).exists():
            raise OasstError(
                ErrorCode.TEXT_LABELS_DUPLICATE_TASK_REPLY, "You already reviewed this message."
            )
        tree = _lock_tree(message.tree_id)
        label = TextLabel.objects.create(
            id=locked.pk,
            message=message,
            user=user,
            task=locked,
            api_client=api_client,
            labels=labels,
            text=text,
        )
        _finish(locked)
        message.review_count, message.review_result = _add_review(message)
        lifecycle.apply_reviews(message)
        record_event(
            "text_labels",
            user_id=user.pk,
            message_id=message.pk,
            tree_id=tree.pk,
            task_id=str(locked.pk),
            mode=locked.payload.get("mode", "full"),
        )
        if message.parent_id is None:
            lifecycle.check_prompt_review(tree)
        else:
            lifecycle.check_growing_done(tree)
        return label

    return run_atomically(write)


def _add_review(message: Message) -> tuple[int, bool | None]:
    """Count one more review of ``message``; returns its stored review count and result.

    One statement (UPDATE … RETURNING, PostgreSQL and SQLite ≥ 3.35) where an
    update and a re-read were two on every review.
    """
    table = Message._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET review_count = review_count + 1 WHERE id = %s "  # noqa: S608 - a model's table
            "RETURNING review_count, review_result",
            [Message._meta.pk.get_db_prep_value(message.pk, connection)],
        )
        count, result = cursor.fetchone()
    return count, None if result is None else bool(result)


def _store_free_label(
    message: Message,
    *,
    user: User,
    labels: dict[str, float],
    text: str,
    is_report: bool,
    api_client: ApiClient | None,
) -> TextLabel:
    if is_report:
        label = TextLabel.objects.create(
            message=message,
            user=user,
            labels=labels,
            text=text[:65536],
            is_report=True,
            api_client=api_client,
        )
        add_emoji(message, user=user, emoji=Emoji.RED_FLAG)
        return label
    label, _ = TextLabel.objects.update_or_create(
        message=message,
        user=user,
        task__isnull=True,
        is_report=False,
        defaults={"labels": labels, "text": text[:65536], "api_client": api_client},
    )
    return label


# --- Rankings ---------------------------------------------------------------------


def submit_ranking(
    task: Task | str,
    *,
    user: User,
    ranking: list[int],
    not_rankable: bool = False,
    api_client: ApiClient | None = None,
) -> Ranking:
    """Store a ranking of the task's replies, best first (message_ranking), then check the tree.

    ``task`` may be the frontend's message_id for it (see ``_lock_task``).
    """

    def write() -> Ranking:
        locked = _lock_task(task, user=user, api_client=api_client)
        if locked.done:
            earlier = Ranking.objects.filter(task=locked, user=user).first()
            if earlier is not None and earlier.ranking == list(ranking):
                return earlier
        _check_task_open(locked, user=user, types=RANKING_TASKS)
        offered = [reply["id"] for reply in locked.payload.get("reply_messages", [])]
        if sorted(ranking) != list(range(len(offered))):
            raise OasstError(
                ErrorCode.INVALID_RANKING_VALUE,
                f"ranking must be a permutation of 0..{len(offered) - 1}, got {ranking}",
            )
        tree = _lock_tree(locked.tree_id)
        if Ranking.objects.filter(parent_id=locked.parent_message_id, user=user).exists():
            raise OasstError(
                ErrorCode.TASK_MESSAGE_DUPLICATE_REPLY, "You already ranked these replies."
            )
        ranked_ids = [offered[position] for position in ranking]
        stored = Ranking.objects.create(
            task=locked,
            user=user,
            parent_id=locked.parent_message_id,
            tree=tree,
            api_client=api_client,
            ranked_message_ids=ranked_ids,
            ranking=list(ranking),
            not_rankable=not_rankable,
        )
        Message.objects.filter(pk__in=offered).update(ranking_count=F("ranking_count") + 1)
        _finish(locked)
        record_event(
            "message_ranking",
            user_id=user.pk,
            message_id=locked.parent_message_id,
            tree_id=tree.pk,
            task_id=str(locked.pk),
            ranking=list(ranking),
            not_rankable=not_rankable,
        )
        lifecycle.check_ranking_done(tree)
        return stored

    return run_atomically(write)


# --- Emojis -----------------------------------------------------------------------


def _count_emoji(message: Message, emoji: str, delta: int) -> None:
    """Mirror one reaction into ``message.emojis``; call with the tree locked."""
    message.refresh_from_db(fields=["emojis"])
    counts = dict(message.emojis or {})
    counts[emoji] = max(0, counts.get(emoji, 0) + delta)
    if counts[emoji] == 0:
        del counts[emoji]
    message.emojis = counts
    Message.objects.filter(pk=message.pk).update(emojis=counts)


def add_emoji(message: Message, *, user: User, emoji: str) -> bool:
    """Add one reaction (inside a transaction); returns False if it was there already."""
    _lock_tree(message.tree_id)
    _, created = EmojiReaction.objects.get_or_create(message=message, user=user, emoji=emoji)
    if created:
        _count_emoji(message, emoji, +1)
        if emoji in (Emoji.RED_FLAG, Emoji.SKIP_REPLY):
            lifecycle.moderate_message(message)
    return created


def _remove_emoji(message: Message, *, user: User, emoji: str) -> bool:
    removed, _ = EmojiReaction.objects.filter(message=message, user=user, emoji=emoji).delete()
    if removed:
        _count_emoji(message, emoji, -1)
    return bool(removed)


def set_emoji(message: Message, *, user: User, emoji: str, op: str = "toggle") -> Message:
    """Toggle, add or remove a reaction (§4.3); +1 and -1 exclude each other and skip one's own message."""
    if op not in EMOJI_OPS:
        raise OasstError(ErrorCode.EMOJI_OP_UNSUPPORTED, f"Emoji op {op!r} is not supported.")
    if emoji not in Emoji.values or emoji.startswith("_"):
        raise OasstError(ErrorCode.GENERIC_ERROR, f"Unknown emoji {emoji!r}.", http_status=422)

    def write() -> Message:
        _lock_tree(message.tree_id)
        current = Message.objects.get(pk=message.pk)
        if emoji in (Emoji.PLUS_ONE, Emoji.MINUS_ONE) and current.user_id == user.pk:
            return current
        has_it = EmojiReaction.objects.filter(message=current, user=user, emoji=emoji).exists()
        adding = op == "add" or (op == "toggle" and not has_it)
        if adding and not has_it:
            if emoji in (Emoji.PLUS_ONE, Emoji.MINUS_ONE):
                other = Emoji.MINUS_ONE if emoji == Emoji.PLUS_ONE else Emoji.PLUS_ONE
                _remove_emoji(current, user=user, emoji=other)
            add_emoji(current, user=user, emoji=emoji)
        elif not adding and has_it:
            _remove_emoji(current, user=user, emoji=emoji)
        current.refresh_from_db()
        return current

    return run_atomically(write)
