"""Open-Assistant's v1 task protocol over ninja (reference/oa-backend.md §2, §8).

Adapters only: parse, find who is acting, call the domain functions, render
OA's JSON. A trusted API client (``X-API-Key``) acts for the frontend user it
names in the body (or in ``x-oasst-user`` for reads); a personal token or a
browser session acts for its own person.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db.models import Count, Q, QuerySet
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from ninja import Router, Status

from oasst.accounts.auth import any_auth
from oasst.accounts.models import ApiClient, User
from oasst.lib.ratelimit import hit
from oasst.trees import lifecycle, submissions, tasks
from oasst.trees.errors import ErrorCode, OasstError
from oasst.trees.frontend_users import find_or_create_frontend_user
from oasst.trees.labels import FREE_LABELS, REPORT_LABELS, describe, labels_for_role
from oasst.trees.models import EmojiReaction, Message, MessageTree, Task, TaskType
from oasst.trees.retries import run_atomically
from oasst.trees.schemas import (
    AvailabilityRequest,
    EmojiIn,
    FrontEndUserIn,
    FrontEndUserOut,
    FrontEndUserUpdate,
    Interaction,
    MessageOut,
    MessagePage,
    MessageRanking,
    MessageTreeOut,
    MessageTreeStateOut,
    SystemStatsOut,
    TaskAck,
    TaskClose,
    TaskDone,
    TaskNAck,
    TaskRequest,
    TextLabels,
    TextReplyToMessage,
    ValidLabelsOut,
)
from oasst.trees.selection import RANDOM

tasks_router = Router(tags=["tasks"], auth=any_auth)
messages_router = Router(tags=["messages"], auth=any_auth)
frontend_messages_router = Router(tags=["messages"], auth=any_auth)
text_labels_router = Router(tags=["text_labels"], auth=any_auth)
users_router = Router(tags=["users"], auth=any_auth)
frontend_users_router = Router(tags=["frontend_users"], auth=any_auth)
stats_router = Router(tags=["stats"], auth=any_auth)

REQUEST_TYPES = {RANDOM, *TaskType.values}


def render_error(request: HttpRequest, exc: OasstError) -> HttpResponse:
    """OA's error body ``{"error_code", "message"}`` with its HTTP status (registered in oasst/api.py)."""
    from oasst.api import api

    response = api.create_response(request, exc.as_body(), status=exc.http_status)
    retry_after = getattr(exc, "retry_after", None)
    if retry_after:
        response["Retry-After"] = str(retry_after)
    return response


# --- Who is acting -------------------------------------------------------------------


def calling_client(request: HttpRequest) -> ApiClient | None:
    return request.auth if isinstance(request.auth, ApiClient) else None


def acting_user(request: HttpRequest, named: FrontEndUserIn | None) -> User:
    """The person this request acts for (creating a trusted client's user on first sight)."""
    client = calling_client(request)
    if client is None:
        return request.auth
    if not client.trusted:
        raise OasstError(
            ErrorCode.API_CLIENT_NOT_AUTHORIZED,
            "Only trusted API clients may act for their users.",
            http_status=403,
        )
    if named is None:
        raise OasstError(ErrorCode.USER_NOT_SPECIFIED, "The request names no user.")
    return find_or_create_frontend_user(
        client, frontend_id=named.id, auth_method=named.auth_method, display_name=named.display_name
    )


def reading_user(request: HttpRequest) -> User | None:
    """For reads: the person, or the frontend user named in ``x-oasst-user: <auth_method>:<id>``."""
    client = calling_client(request)
    if client is None:
        return request.auth
    header = request.headers.get("x-oasst-user") or request.GET.get("oasst_user") or ""
    auth_method, sep, frontend_id = header.partition(":")
    if not sep or not frontend_id:
        return None
    return User.objects.filter(
        api_client=client, auth_method=auth_method, frontend_id=frontend_id
    ).first()


def may_moderate(request: HttpRequest) -> bool:
    client = calling_client(request)
    if client is not None:
        return client.trusted
    return request.auth.has_perm("accounts.moderate")


def require_moderator(request: HttpRequest) -> None:
    if not may_moderate(request):
        raise OasstError(
            ErrorCode.API_CLIENT_NOT_AUTHORIZED,
            "This needs a trusted API client or a moderator.",
            http_status=403,
        )


# --- Rate limits (§3.9) --------------------------------------------------------------


def check_task_rate(request: HttpRequest, user: User, requested: str) -> None:
    if not settings.OASST_RATE_LIMIT:
        return
    client = calling_client(request)
    ident = f"{client.pk if client else 'self'}:{user.auth_method}:{user.pk}"
    limits = [
        (
            f"task-user:{ident}",
            settings.OASST_RATE_LIMIT_TASK_USER_TIMES,
            settings.OASST_RATE_LIMIT_TASK_USER_MINUTES,
        )
    ]
    if client is not None:
        limits.append(
            (
                f"task-api:{client.pk}",
                settings.OASST_RATE_LIMIT_TASK_API_TIMES,
                settings.OASST_RATE_LIMIT_TASK_API_MINUTES,
            )
        )
    if requested == TaskType.ASSISTANT_REPLY:
        limits.append(
            (
                f"assistant-user:{ident}",
                settings.OASST_RATE_LIMIT_ASSISTANT_USER_TIMES,
                settings.OASST_RATE_LIMIT_ASSISTANT_USER_MINUTES,
            )
        )
    if requested == TaskType.PROMPTER_REPLY:
        limits.append(
            (
                f"prompter-user:{ident}",
                settings.OASST_RATE_LIMIT_PROMPTER_USER_TIMES,
                settings.OASST_RATE_LIMIT_PROMPTER_USER_MINUTES,
            )
        )
    for key, times, minutes in limits:
        retry_after = hit(key, times=times, seconds=minutes * 60)
        if retry_after:
            error = OasstError(
                ErrorCode.TOO_MANY_REQUESTS, f"Retry After {retry_after} seconds", http_status=429
            )
            error.retry_after = retry_after  # type: ignore[attr-defined]
            raise error


# --- Rendering --------------------------------------------------------------------


def task_body(task: Task) -> dict[str, Any]:
    """The wire task: the stored payload plus its id and type."""
    return {"id": str(task.pk), "type": task.type, **task.payload}


def message_bodies(messages: list[Message], user: User | None) -> list[dict[str, Any]]:
    mine: dict[object, list[str]] = {}
    if user is not None and messages:
        for message_id, emoji in EmojiReaction.objects.filter(
            user=user, message_id__in=[m.pk for m in messages]
        ).values_list("message_id", "emoji"):
            if not emoji.startswith("_"):
                mine.setdefault(message_id, []).append(emoji)
    return [
        {
            "id": m.pk,
            "parent_id": m.parent_id,
            "frontend_message_id": m.frontend_message_id or None,
            "text": m.text,
            "lang": m.lang,
            "is_assistant": m.role == "assistant",
            "created_date": m.created_at,
            "emojis": {k: v for k, v in (m.emojis or {}).items() if not k.startswith("_")},
            "user_emojis": mine.get(m.pk, []),
            "user_is_author": None if user is None else m.user_id == user.pk,
            "synthetic": m.synthetic,
            "model_name": m.model_name or None,
            "message_tree_id": m.tree_id,
            "ranking_count": m.ranking_count,
            "rank": m.rank,
            "review_count": m.review_count,
            "review_result": m.review_result,
            "deleted": m.deleted,
            "edited": m.edited,
            "user_id": str(m.user_id),
        }
        for m in messages
    ]


def frontend_user_body(user: User) -> dict[str, Any]:
    return {
        "user_id": str(user.pk),
        "id": user.frontend_id or user.username,
        "display_name": user.public_name,
        "auth_method": user.auth_method,
        "created_date": user.date_joined,
        "enabled": user.is_active and user.banned_at is None,
        "deleted": user.deleted_at is not None,
        "notes": user.notes,
        "show_on_leaderboard": user.show_on_leaderboard,
        "tos_acceptance_date": user.tos_accepted_at,
    }


def find_message(request: HttpRequest, message_id: uuid.UUID) -> Message:
    messages = Message.objects.all()
    if not may_moderate(request):
        messages = messages.filter(deleted=False)
    message = messages.filter(pk=message_id).first()
    if message is None:
        raise OasstError(ErrorCode.MESSAGE_NOT_FOUND, f"Message {message_id} not found.")
    return message


# --- /tasks/ ----------------------------------------------------------------------


@tasks_router.post("/", response={200: dict})
def request_task(request: HttpRequest, body: TaskRequest) -> dict[str, Any]:
    """Request the next task (TaskRequest → the task's payload with its id and type)."""
    if body.type not in REQUEST_TYPES:
        raise OasstError(ErrorCode.TASK_INVALID_REQUEST_TYPE, f"Unknown task type {body.type!r}")
    user = acting_user(request, body.user)
    check_task_rate(request, user, body.type)
    task = tasks.request_task(
        user,
        lang=body.lang or user.task_language,
        requested=body.type,
        api_client=calling_client(request),
        collective=body.collective,
    )
    return task_body(task)


@tasks_router.post("/availability", response=dict[str, int])
def task_availability(
    request: HttpRequest, body: AvailabilityRequest | None = None, lang: str | None = None
) -> dict[str, int]:
    named = FrontEndUserIn(**body.dict()) if body is not None and body.id else None
    user = acting_user(request, named)
    return tasks.available_tasks(user, lang=lang or user.task_language)


@tasks_router.post("/{task_id}/ack", response={204: None})
def ack_task(request: HttpRequest, task_id: uuid.UUID, body: TaskAck) -> Status[None]:
    client = calling_client(request)
    tasks.ack_task_by_id(
        task_id,
        api_client=client,
        user=request.auth if client is None else None,
        frontend_message_id=body.message_id,
    )
    return Status(204, None)


@tasks_router.post("/{task_id}/nack", response={204: None})
def nack_task(request: HttpRequest, task_id: uuid.UUID, body: TaskNAck) -> Status[None]:
    client = calling_client(request)
    task = tasks.find_task(task_id, api_client=client, user=None if client else request.auth)
    if client is not None and body.user is None:
        user = task.user  # OA's frontends nack without naming the user
    else:
        user = acting_user(request, body.user)
    tasks.nack_task(task, user=user, reason=body.reason or "")
    return Status(204, None)


@tasks_router.post("/interaction", response=TaskDone)
def task_interaction(request: HttpRequest, body: Interaction) -> dict[str, Any]:
    """Submit a reply, a ranking or labels for a task → TaskDone."""
    user = acting_user(request, body.user)
    client = calling_client(request)
    # The task is named by the frontend's message_id (OA's lookup; a task id
    # also works) and found and locked in one statement by the submission.
    if isinstance(body, TextReplyToMessage):
        message = submissions.submit_reply(
            body.message_id,
            user=user,
            text=body.text,
            lang=body.lang or "",
            frontend_message_id=body.user_message_id,
            api_client=client,
        )
        task_id = message.task_id
    elif isinstance(body, MessageRanking):
        ranking = submissions.submit_ranking(
            body.message_id,
            user=user,
            ranking=body.ranking,
            not_rankable=bool(body.not_rankable),
            api_client=client,
        )
        task_id = ranking.task_id
    else:
        task_id = submit_text_labels(request, body, user)
    return {"id": task_id, "type": "task_done"}


def submit_text_labels(request: HttpRequest, body: TextLabels, user: User) -> uuid.UUID | None:
    """Labels for the task ``body.task_id`` (the client's or the person's), or free ones; its id."""
    submissions.submit_labels(
        user=user,
        message_id=body.message_id,
        labels=body.labels,
        task=body.task_id,
        text=body.text,
        is_report=bool(body.is_report),
        api_client=calling_client(request),
    )
    return body.task_id


@tasks_router.post("/close", response=TaskDone)
def close_task(request: HttpRequest, body: TaskClose) -> dict[str, Any]:
    """Close a collective task by its frontend message id."""
    client = calling_client(request)
    task = tasks.close_task(
        body.message_id, api_client=client, user=None if client else request.auth
    )
    return {"id": task.pk, "type": "task_done"}


# --- /text_labels/ --------------------------------------------------------------------


@text_labels_router.post("/", response={204: None})
def post_text_labels(request: HttpRequest, body: TextLabels) -> Status[None]:
    """Task labels, a free label or a report (``is_report``)."""
    submit_text_labels(request, body, acting_user(request, body.user))
    return Status(204, None)


@text_labels_router.get("/valid_labels", response=ValidLabelsOut)
def valid_labels(request: HttpRequest, message_id: uuid.UUID | None = None) -> dict[str, Any]:
    if message_id is None:
        return {"valid_labels": describe(FREE_LABELS), "mandatory_labels": []}
    message = find_message(request, message_id)
    names = labels_for_role(message.role, is_root=message.parent_id is None)
    return {"valid_labels": describe(names), "mandatory_labels": []}


@text_labels_router.get("/report_labels", response=list[dict[str, str]], auth=None)
def report_labels(request: HttpRequest) -> list[dict[str, str]]:
    return describe(REPORT_LABELS)


# --- /messages/ -----------------------------------------------------------------------


def encode_cursor(message: Message) -> str:
    return f"{message.pk}${message.created_at.isoformat()}"


def decode_cursor(cursor: str) -> tuple[uuid.UUID, datetime]:
    try:
        raw_id, raw_date = cursor.split("$", 1)
        # An unencoded "+" of the UTC offset arrives as a space.
        return uuid.UUID(raw_id), datetime.fromisoformat(raw_date.replace(" ", "+"))
    except ValueError:
        raise OasstError(ErrorCode.INVALID_CURSOR_VALUE, f"Invalid cursor {cursor!r}.") from None


def listed_messages(
    request: HttpRequest,
    *,
    only_roots: bool,
    include_deleted: bool,
    lang: str | None,
    user_id: int | None = None,
) -> QuerySet[Message]:
    messages = Message.objects.all()
    if not (include_deleted and may_moderate(request)):
        messages = messages.filter(deleted=False)
    if only_roots:
        messages = messages.filter(parent__isnull=True)
    if lang:
        messages = messages.filter(lang=lang)
    if user_id is not None:
        messages = messages.filter(user_id=user_id)
    return messages


@messages_router.get("/", response=list[MessageOut])
def list_messages(
    request: HttpRequest,
    max_count: int = 10,
    start_date: datetime | None = None,
    end_date: datetime | None = None,
    only_roots: bool = False,
    desc: bool = True,
    allow_deleted: bool = False,
    lang: str | None = None,
    auth_method: str | None = None,
    username: str | None = None,
) -> list[dict[str, Any]]:
    messages = listed_messages(
        request, only_roots=only_roots, include_deleted=allow_deleted, lang=lang
    )
    if username:
        messages = messages.filter(
            user__frontend_id=username, user__auth_method=auth_method or "local"
        )
    if start_date:
        messages = messages.filter(created_at__gte=start_date)
    if end_date:
        messages = messages.filter(created_at__lte=end_date)
    order = ["-created_at", "-id"] if desc else ["created_at", "id"]
    rows = list(messages.order_by(*order)[: max(1, min(max_count, 1000))])
    return message_bodies(rows, reading_user(request))


@messages_router.get("/cursor", response=MessagePage)
def messages_cursor(
    request: HttpRequest,
    before: str | None = None,
    after: str | None = None,
    user_id: int | None = None,
    only_roots: bool = False,
    include_deleted: bool = False,
    max_count: int = 10,
    desc: bool = False,
    lang: str | None = None,
) -> dict[str, Any]:
    """Keyset pages ordered by (created_date, id); cursors are ``<uuid>$<iso date>``."""
    return message_page(
        request,
        listed_messages(
            request,
            only_roots=only_roots,
            include_deleted=include_deleted,
            lang=lang,
            user_id=user_id,
        ),
        before=before,
        after=after,
        max_count=max_count,
        desc=desc,
    )


def message_page(
    request: HttpRequest,
    messages: QuerySet[Message],
    *,
    before: str | None,
    after: str | None,
    max_count: int,
    desc: bool,
) -> dict[str, Any]:
    limit = max(1, min(max_count, 1000))
    going_back = before is not None
    if after is not None:
        cursor_id, cursor_date = decode_cursor(after)
        messages = messages.filter(
            Q(created_at__gt=cursor_date) | Q(created_at=cursor_date, id__gt=cursor_id)
        )
    if before is not None:
        cursor_id, cursor_date = decode_cursor(before)
        messages = messages.filter(
            Q(created_at__lt=cursor_date) | Q(created_at=cursor_date, id__lt=cursor_id)
        )
    order = ["-created_at", "-id"] if going_back else ["created_at", "id"]
    rows = list(messages.order_by(*order)[: limit + 1])
    more = len(rows) > limit
    rows = rows[:limit]
    if going_back:
        rows.reverse()
        prev_cursor = encode_cursor(rows[0]) if rows and more else None
        next_cursor = encode_cursor(rows[-1]) if rows else None
    else:
        prev_cursor = encode_cursor(rows[0]) if rows and after is not None else None
        next_cursor = encode_cursor(rows[-1]) if rows and more else None
    if desc:
        rows.reverse()
    return {
        "prev": prev_cursor,
        "next": next_cursor,
        "sort_key": "created_date",
        "order": "desc" if desc else "asc",
        "items": message_bodies(rows, reading_user(request)),
    }


@messages_router.get("/{message_id}", response=MessageOut)
def get_message(request: HttpRequest, message_id: uuid.UUID) -> dict[str, Any]:
    return message_bodies([find_message(request, message_id)], reading_user(request))[0]


@messages_router.get("/{message_id}/conversation", response=dict)
def get_conversation(request: HttpRequest, message_id: uuid.UUID) -> dict[str, Any]:
    message = find_message(request, message_id)
    path = tasks.conversation_to(message)
    return {"messages": tasks.conversation_messages(path, user=reading_user(request))}


@messages_router.get("/{message_id}/children", response=list[MessageOut])
def get_children(request: HttpRequest, message_id: uuid.UUID) -> list[dict[str, Any]]:
    message = find_message(request, message_id)
    children = Message.objects.filter(parent=message).order_by("created_at", "id")
    if not may_moderate(request):
        children = children.filter(deleted=False)
    return message_bodies(list(children), reading_user(request))


@messages_router.get("/{message_id}/descendants", response=MessageTreeOut)
def get_descendants(request: HttpRequest, message_id: uuid.UUID) -> dict[str, Any]:
    message = find_message(request, message_id)
    rows = list(
        Message.objects.filter(tree_id=message.tree_id, depth__gte=message.depth).order_by(
            "depth", "created_at"
        )
    )
    below = {message.pk}
    subtree = []
    for row in rows:
        if row.pk == message.pk or row.parent_id in below:
            below.add(row.pk)
            if not row.deleted or may_moderate(request):
                subtree.append(row)
    return {"id": message.pk, "messages": message_bodies(subtree, reading_user(request))}


@messages_router.get("/{message_id}/tree", response=MessageTreeOut)
def get_tree(
    request: HttpRequest,
    message_id: uuid.UUID,
    include_spam: bool = True,
    include_deleted: bool = False,
) -> dict[str, Any]:
    message = find_message(request, message_id)
    rows = Message.objects.filter(tree_id=message.tree_id).order_by("depth", "created_at")
    if not (include_deleted and may_moderate(request)):
        rows = rows.filter(deleted=False)
    if not include_spam:
        rows = rows.exclude(review_result=False)
    return {"id": message.tree_id, "messages": message_bodies(list(rows), reading_user(request))}


def tree_state_body(tree: MessageTree) -> dict[str, Any]:
    return {
        "message_tree_id": tree.pk,
        "state": tree.state,
        "active": tree.active,
        "origin": tree.origin or None,
        "goal_tree_size": tree.goal_tree_size,
        "max_depth": tree.max_depth,
        "max_children_count": tree.max_children_count,
        "lang": tree.lang,
        "won_prompt_lottery_date": tree.won_lottery_at,
    }


@messages_router.get("/{message_id}/tree/state", response=MessageTreeStateOut)
def get_tree_state(request: HttpRequest, message_id: uuid.UUID) -> dict[str, Any]:
    message = find_message(request, message_id)
    return tree_state_body(MessageTree.objects.get(pk=message.tree_id))


@messages_router.put("/{message_id}/tree/state", response=MessageTreeStateOut)
def set_tree_halted(request: HttpRequest, message_id: uuid.UUID, halt: bool) -> dict[str, Any]:
    """Halt or un-halt a tree (trusted clients and moderators)."""
    require_moderator(request)
    message = find_message(request, message_id)

    def write() -> MessageTree:
        tree = MessageTree.objects.select_for_update().get(pk=message.tree_id)
        if halt:
            lifecycle.halt_tree(tree)
        else:
            lifecycle.unhalt_tree(tree)
        return tree

    return tree_state_body(run_atomically(write))


@messages_router.delete("/{message_id}", response={204: None})
def delete_message(request: HttpRequest, message_id: uuid.UUID) -> Status[None]:
    """Soft-delete a message and its replies (trusted clients and moderators)."""
    require_moderator(request)
    message = find_message(request, message_id)

    def write() -> None:
        tree = MessageTree.objects.select_for_update().get(pk=message.tree_id)
        lifecycle.delete_message(message, recursive=True)
        lifecycle.check_growing_done(tree)

    run_atomically(write)
    return Status(204, None)


@messages_router.post("/{message_id}/emoji", response=MessageOut)
def post_emoji(request: HttpRequest, message_id: uuid.UUID, body: EmojiIn) -> dict[str, Any]:
    user = acting_user(request, body.user)
    message = find_message(request, message_id)
    updated = submissions.set_emoji(message, user=user, emoji=body.emoji, op=body.op)
    return message_bodies([updated], user)[0]


# --- /frontend_messages/ ----------------------------------------------------------


def find_frontend_message(request: HttpRequest, frontend_id: str) -> Message:
    message = Message.objects.filter(
        api_client=calling_client(request), frontend_message_id=frontend_id, deleted=False
    ).first()
    if message is None:
        raise OasstError(ErrorCode.MESSAGE_NOT_FOUND, f"Message {frontend_id!r} not found.")
    return message


@frontend_messages_router.get("/{frontend_id}", response=MessageOut)
def get_frontend_message(request: HttpRequest, frontend_id: str) -> dict[str, Any]:
    return message_bodies([find_frontend_message(request, frontend_id)], reading_user(request))[0]


@frontend_messages_router.get("/{frontend_id}/conversation", response=dict)
def get_frontend_conversation(request: HttpRequest, frontend_id: str) -> dict[str, Any]:
    return get_conversation(request, find_frontend_message(request, frontend_id).pk)


@frontend_messages_router.get("/{frontend_id}/tree", response=MessageTreeOut)
def get_frontend_tree(request: HttpRequest, frontend_id: str) -> dict[str, Any]:
    return get_tree(request, find_frontend_message(request, frontend_id).pk)


@frontend_messages_router.get("/{frontend_id}/children", response=list[MessageOut])
def get_frontend_children(request: HttpRequest, frontend_id: str) -> list[dict[str, Any]]:
    return get_children(request, find_frontend_message(request, frontend_id).pk)


# --- /frontend_users/ and /users/ -------------------------------------------------


def find_frontend_user(request: HttpRequest, auth_method: str, frontend_id: str) -> User:
    user = User.objects.filter(
        api_client=calling_client(request), auth_method=auth_method, frontend_id=frontend_id
    ).first()
    if user is None:
        raise OasstError(ErrorCode.USER_NOT_FOUND, f"User {auth_method}:{frontend_id} not found.")
    return user


@frontend_users_router.get("/{auth_method}/{username}", response=FrontEndUserOut)
def get_frontend_user(request: HttpRequest, auth_method: str, username: str) -> dict[str, Any]:
    return frontend_user_body(find_frontend_user(request, auth_method, username))


@frontend_users_router.post("/", response=FrontEndUserOut)
def upsert_frontend_user(request: HttpRequest, body: FrontEndUserUpdate) -> dict[str, Any]:
    """Create or update a frontend's user (trusted clients)."""
    user = acting_user(
        request, FrontEndUserIn(**body.dict(include={"id", "display_name", "auth_method"}))
    )
    if calling_client(request) is None:
        raise OasstError(ErrorCode.API_CLIENT_NOT_AUTHORIZED, "Needs an API key.", http_status=403)
    changes: dict[str, Any] = {}
    if body.show_on_leaderboard is not None:
        changes["show_on_leaderboard"] = body.show_on_leaderboard
    if body.enabled is not None:
        changes["is_active"] = body.enabled
    if body.notes is not None:
        changes["notes"] = body.notes
    if body.tos_acceptance:
        changes["tos_accepted_at"] = user.tos_accepted_at or timezone.now()
    if changes:
        User.objects.filter(pk=user.pk).update(**changes)
        user.refresh_from_db()
    return frontend_user_body(user)


@frontend_users_router.get("/{auth_method}/{username}/messages", response=list[MessageOut])
def get_frontend_user_messages(
    request: HttpRequest, auth_method: str, username: str, max_count: int = 10
) -> list[dict[str, Any]]:
    user = find_frontend_user(request, auth_method, username)
    rows = Message.objects.filter(user=user, deleted=False).order_by("-created_at", "-id")
    return message_bodies(list(rows[: max(1, min(max_count, 1000))]), reading_user(request))


def find_user(request: HttpRequest, user_id: int) -> User:
    users = User.objects.filter(pk=user_id)
    client = calling_client(request)
    if client is not None and not client.trusted:
        users = users.filter(api_client=client)
    user = users.first()
    if user is None:
        raise OasstError(ErrorCode.USER_NOT_FOUND, f"User {user_id} not found.")
    return user


@users_router.get("/{user_id}", response=FrontEndUserOut)
def get_user(request: HttpRequest, user_id: int) -> dict[str, Any]:
    return frontend_user_body(find_user(request, user_id))


@users_router.get("/{user_id}/messages", response=list[MessageOut])
def get_user_messages(
    request: HttpRequest, user_id: int, max_count: int = 10, only_roots: bool = False
) -> list[dict[str, Any]]:
    user = find_user(request, user_id)
    rows = listed_messages(
        request, only_roots=only_roots, include_deleted=False, lang=None, user_id=user.pk
    ).order_by("-created_at", "-id")
    return message_bodies(list(rows[: max(1, min(max_count, 1000))]), reading_user(request))


@users_router.get("/{user_id}/messages/cursor", response=MessagePage)
def get_user_messages_cursor(
    request: HttpRequest,
    user_id: int,
    before: str | None = None,
    after: str | None = None,
    max_count: int = 10,
    desc: bool = False,
) -> dict[str, Any]:
    user = find_user(request, user_id)
    return message_page(
        request,
        listed_messages(
            request, only_roots=False, include_deleted=False, lang=None, user_id=user.pk
        ),
        before=before,
        after=after,
        max_count=max_count,
        desc=desc,
    )


# --- /stats/ --------------------------------------------------------------------------


@stats_router.get("/", response=SystemStatsOut)
def system_stats(request: HttpRequest) -> dict[str, Any]:
    require_moderator(request)
    totals = Message.objects.aggregate(all=Count("id"), deleted=Count("id", filter=Q(deleted=True)))
    active_by_lang = dict(
        Message.objects.filter(deleted=False)
        .values("lang")
        .annotate(n=Count("id"))
        .values_list("lang", "n")
    )
    return {
        "all": totals["all"],
        "active": totals["all"] - totals["deleted"],
        "active_by_lang": active_by_lang,
        "deleted": totals["deleted"],
        "message_trees": MessageTree.objects.count(),
    }


@stats_router.get("/tree_manager/state_counts", response=dict)
def tree_state_counts(request: HttpRequest, lang: str | None = None) -> dict[str, Any]:
    require_moderator(request)
    trees = MessageTree.objects.all()
    if lang:
        trees = trees.filter(lang=lang)
    counts = dict(trees.values("state").annotate(n=Count("id")).values_list("state", "n"))
    return {"state_counts": counts}
