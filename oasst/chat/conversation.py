"""The chat's domain: storing messages and driving the runner.

This module knows the database and the runner; it knows nothing of sockets or
templates. Writes are plain functions (sync, called through
``database_sync_to_async`` by the consumer). An answer being written is a
``Generation``: an asyncio task in this process that reads the runner's
events, stores the result and tells the chat's listeners (open sockets). It
does not belong to a socket, so a page that reconnects picks the stream up
again; when the last socket of a chat closes and none comes back within
OASST_CHAT_RECONNECT_GRACE seconds, its generations are cancelled.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from channels.db import database_sync_to_async
from django.conf import settings
from django.db import transaction
from django.db.models import F, Value
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from oasst.accounts.models import User
from oasst.chat.models import (
    FINISHED_STATES,
    WORKING_STATES,
    BetterAnswer,
    Chat,
    ChatMessage,
    DraftPick,
    Report,
    ReportReason,
    Role,
    State,
    Vote,
)
from oasst.inference.models import Model
from oasst.inference.prompts import Conversation
from oasst.inference.quotas import QuotaExceeded, take_quota
from oasst.inference.registry import UnknownModel, find_model
from oasst.inference.runner import Event, RunnerRefused, get_runner
from oasst.inference.specs import (
    PRESETS,
    InvalidParams,
    ModelSpec,
    SamplingParams,
    parse_params,
    preset_params,
)
from oasst.lib.markdown import render_markdown

log = logging.getLogger(__name__)

TITLE_LENGTH = 60
# Seconds between two frames of one answer's tokens (the first token goes at
# once). Every frame costs the model's thread: the event loop takes the GIL
# several times to send it (each hand-over cost the other thread about 36 µs
# on a 2-core VM). Against 60 a second, 20 gave 1-3% more tokens/s on the
# demo and the ~25M models (same server, in turns; see bench/chat.py), and
# text that grows every 50 ms still reads as a stream.
FRAME_INTERVAL = 1 / 20
# Seconds the loop gets to send a frame of tokens before a database call of
# the same answer starts (the first token's "in progress", the last one's
# result): the database thread would hold the GIL, and the frame would wait
# behind the whole call (the demo model's last frame left 2.7 ms after its end
# without this, 0.07 ms with it).
SEND_BEFORE_WRITE_S = 0.001
MAX_SYSTEM_PROMPT = 2000
MAX_FEEDBACK_TEXT = 4000
# The reasons a vote may carry: the stored code and what the page shows.
VOTE_REASON_CHOICES = (
    ("helpful", gettext_lazy("helpful")),
    ("accurate", gettext_lazy("accurate")),
    ("well written", gettext_lazy("well written")),
    ("unhelpful", gettext_lazy("unhelpful")),
    ("wrong", gettext_lazy("wrong")),
    ("rude", gettext_lazy("rude")),
    ("too long", gettext_lazy("too long")),
)
VOTE_REASONS = tuple(code for code, _label in VOTE_REASON_CHOICES)
FINAL_STATE = {
    "stop": State.COMPLETE,
    "length": State.COMPLETE,
    "cancelled": State.CANCELLED,
    "timeout": State.TIMED_OUT,
    "error": State.ABORTED,
}


class ChatError(ValueError):
    """A request the person made that cannot be done; the message is for them."""


class ChatNotFound(LookupError):
    """No such chat, or not this person's."""


# --- Reading ------------------------------------------------------------------


@dataclass
class MessageView:
    id: int
    role: str
    state: str
    state_label: str
    text: str
    html: str
    error: str
    model_name: str
    params: dict[str, Any]
    parent_id: int | None
    sibling_index: int
    sibling_count: int
    prev_id: int | None
    next_id: int | None
    finish_reason: str = ""
    ttft_ms: float | None = None
    tokens_per_second: float | None = None
    completion_tokens: int | None = None
    is_draft: bool = False
    can_pick: bool = False
    picked: bool = False
    vote: int = 0
    is_live: bool = False
    # Characters of the live generation already in ``text`` (for a socket that
    # joins mid-stream: tokens before this offset are not sent twice).
    live_chars: int = 0
    position: int = 0
    better_answers: list[str] = field(default_factory=list)

    @property
    def is_working(self) -> bool:
        return self.state in WORKING_STATES

    @property
    def can_continue(self) -> bool:
        return self.role == Role.ASSISTANT and self.finish_reason in {"length", "cancelled"}


@dataclass
class ChatView:
    id: int
    title: str
    model_name: str
    items: list[MessageView]
    leaf_id: int | None
    allow_data_use: bool
    share_token: str | None
    preset: str
    params: dict[str, Any]
    system_prompt: str
    read_only: bool = False

    @property
    def working(self) -> bool:
        return any(item.is_working for item in self.items)

    @property
    def can_reply(self) -> bool:
        last = self.items[-1] if self.items else None
        return last is None or (last.role == Role.ASSISTANT and not last.is_working)


def open_chat(chat_id: int, user: User) -> Chat:
    """The person's own chat, with its model; raises ChatNotFound for anyone else's.

    In SQL (the chat's row, then its model's): every page and every socket
    action opens the chat, and composing the ORM's join cost several times the
    two lookups.
    """
    if not user.is_authenticated:
        raise ChatNotFound(chat_id)
    chat = _row(Chat, "id = %s AND user_id = %s", [Chat._meta.pk.to_python(chat_id), user.pk])
    if chat is None:
        raise ChatNotFound(chat_id)
    if chat.model_id is not None:
        chat.model = _row(Model, "id = %s", [chat.model_id])
    return chat


def _row(model: type[Any], where: str, params: list[Any]) -> Any:
    """The first row of ``model``'s table matching ``where`` (its own SQL), or None."""
    sql = f"SELECT * FROM {model._meta.db_table} WHERE {where}"  # noqa: S608 - names from _meta
    return next(iter(model.objects.raw(sql, params)), None)


def read_messages(chat_id: int) -> list[ChatMessage]:
    """All of a chat's messages in their order (``Meta.ordering``), in SQL as ``open_chat``."""
    sql = (
        f"SELECT * FROM {ChatMessage._meta.db_table} WHERE chat_id = %s "  # noqa: S608
        "ORDER BY created_at, id"
    )
    return list(ChatMessage.objects.raw(sql, [chat_id]))


def list_chats(user: User, *, include_hidden: bool = False) -> list[Chat]:
    chats = Chat.objects.of(user)
    if not include_hidden:
        chats = chats.visible()
    return list(chats[:200])


def chat_view(
    chat: Chat,
    *,
    user: User | None = None,
    read_only: bool = False,
    messages: list[ChatMessage] | None = None,
) -> ChatView:
    """Everything a page or a socket shows of a chat: the active branch with its pagers.

    ``messages`` are all the chat's messages when the caller has just read them.
    """
    if messages is None:
        messages = list(chat.messages.all())
    by_id = {m.id: m for m in messages}
    children: dict[int | None, list[ChatMessage]] = defaultdict(list)
    for message in messages:
        children[message.parent_id].append(message)
    leaf = by_id.get(chat.active_leaf_id) if chat.active_leaf_id else None
    if leaf is None and messages:
        leaf = _deepest(messages[-1], children)
    path: list[ChatMessage] = []
    node = leaf
    while node is not None:
        path.append(node)
        node = by_id.get(node.parent_id) if node.parent_id else None
    path.reverse()
    votes = {}
    better: dict[int, list[str]] = defaultdict(list)
    picked_groups: dict[uuid.UUID, int] = {}
    # Votes and better answers are shown on finished answers only, picks on drafts:
    # a thread without them (a new chat) needs no query for them.
    rated = [m.id for m in path if m.role == Role.ASSISTANT and m.state in FINISHED_STATES]
    if user is not None and rated:
        votes = dict(
            Vote.objects.filter(user=user, message_id__in=rated).values_list("message_id", "score")
        )
        for message_id, text in BetterAnswer.objects.filter(
            user=user, message_id__in=rated
        ).values_list("message_id", "text"):
            better[message_id].append(text)
    if user is not None and any(m.draft_group for m in path):
        picked_groups = dict(
            DraftPick.objects.filter(chat=chat).values_list("draft_group", "selected_id")
        )
    items = [
        _message_view(m, children[m.parent_id], votes, better, picked_groups, read_only=read_only)
        for m in path
    ]
    model_name = chat.model.name if chat.model else ""
    return ChatView(
        id=chat.id,
        title=chat.title or _("New chat"),
        model_name=model_name,
        items=items,
        leaf_id=leaf.id if leaf else None,
        allow_data_use=chat.allow_data_use,
        share_token=chat.share_token,
        preset=chat.preset,
        params=chat.params,
        system_prompt=chat.system_prompt,
        read_only=read_only,
    )


def _deepest(message: ChatMessage, children: dict[int | None, list[ChatMessage]]) -> ChatMessage:
    """Follow the newest child down to a leaf."""
    while children.get(message.id):
        message = children[message.id][-1]
    return message


def _message_view(
    message: ChatMessage,
    siblings: list[ChatMessage],
    votes: dict[int, int],
    better: dict[int, list[str]],
    picked_groups: dict[uuid.UUID, int],
    *,
    read_only: bool,
) -> MessageView:
    index = next(i for i, s in enumerate(siblings) if s.id == message.id)
    live = _live.get(message.id)
    live_text = live.text if live else ""
    text = message.text + live_text
    finished = message.state in FINISHED_STATES
    # Markdown once the text is final; while streaming the page shows escaped text.
    html = render_markdown(text) if finished or message.role == Role.PROMPTER else ""
    group = message.draft_group
    group_finished = group is not None and all(
        s.state in FINISHED_STATES for s in siblings if s.draft_group == group
    )
    return MessageView(
        id=message.id,
        role=message.role,
        state=message.state,
        state_label=State(message.state).label,
        text=text,
        html=html,
        error=message.error,
        model_name=message.model_name,
        params=message.params,
        parent_id=message.parent_id,
        sibling_index=index + 1,
        sibling_count=len(siblings),
        prev_id=siblings[index - 1].id if index > 0 else None,
        next_id=siblings[index + 1].id if index + 1 < len(siblings) else None,
        finish_reason=message.finish_reason,
        ttft_ms=message.ttft_ms,
        tokens_per_second=message.tokens_per_second,
        completion_tokens=message.completion_tokens,
        is_draft=group is not None,
        can_pick=(not read_only and group_finished and group not in picked_groups and finished),
        picked=group is not None and picked_groups.get(group) == message.id,
        vote=votes.get(message.id, 0),
        is_live=live is not None,
        live_chars=len(live_text),
        position=live.position if live else 0,
        better_answers=better.get(message.id, []),
    )


def shared_chat_view(token: str) -> ChatView:
    chat = Chat.objects.select_related("model").filter(share_token=token).first() if token else None
    if chat is None:
        raise ChatNotFound(token)
    return chat_view(chat, read_only=True)


# --- Writing ------------------------------------------------------------------


def create_chat(user: User, *, model_name: str | None = None) -> Chat:
    try:
        model = find_model(model_name)
    except UnknownModel:
        model = None
    params = {}
    return Chat.objects.create(user=user, model=model, params=params)


def _message_in(
    chat: Chat,
    message_id: Any,
    *,
    role: str | None = None,
    messages: list[ChatMessage] | None = None,
) -> ChatMessage:
    """A message of ``chat`` (looked up in ``messages`` when the caller has read them)."""
    try:
        pk = int(message_id)
    except (TypeError, ValueError):
        raise ChatError(_("That message does not exist.")) from None
    if messages is None:
        message = chat.messages.filter(pk=pk).first()
    else:
        message = next((m for m in messages if m.pk == pk), None)
    if message is None or (role and message.role != role):
        raise ChatError(_("That message does not exist."))
    return message


def _clean_text(text: Any) -> str:
    if not isinstance(text, str) or not text.strip():
        raise ChatError(_("Write a message first."))
    text = text.strip()
    if len(text) > settings.OASST_CHAT_MAX_PROMPT_CHARS:
        raise ChatError(
            _("Your message is too long: at most %(limit)d characters.")
            % {"limit": settings.OASST_CHAT_MAX_PROMPT_CHARS}
        )
    return text


def _clean_drafts(drafts: Any) -> int:
    try:
        count = int(drafts or 1)
    except (TypeError, ValueError):
        raise ChatError(_("The number of drafts must be a number.")) from None
    if not 1 <= count <= settings.OASST_CHAT_MAX_DRAFTS:
        raise ChatError(
            _("You can ask for 1 to %(n)d drafts.") % {"n": settings.OASST_CHAT_MAX_DRAFTS}
        )
    return count


def _check_rate(user: User, count: int) -> None:
    try:
        take_quota(user.pk, count)
    except QuotaExceeded as exc:
        raise ChatError(str(exc)) from None


def effective_params(chat: Chat, model: Model) -> SamplingParams:
    """The model's defaults, then the chat's preset, then its advanced values."""
    try:
        params = preset_params(chat.preset, model_defaults=model.default_params)
        return parse_params(chat.params, base=params)
    except InvalidParams as exc:
        raise ChatError(str(exc)) from None


# The writes below that store pending answers work on ``messages``, the
# chat's messages as ``read_messages`` gives them (``write_turn`` reads them
# once and uses the list afterwards): they look messages up in the list
# instead of in the database, and append the ones they create.


def send_prompt(
    chat: Chat,
    *,
    user: User,
    text: Any,
    parent_id: Any = None,
    drafts: Any = 1,
    messages: list[ChatMessage],
) -> list[int]:
    """Store a prompt under ``parent_id`` (an answer, or none for a first prompt) and
    queue ``drafts`` answers to it; returns the answers' ids."""
    text = _clean_text(text)
    count = _clean_drafts(drafts)
    parent = None
    if parent_id not in (None, "", "None"):
        parent = _message_in(chat, parent_id, role=Role.ASSISTANT, messages=messages)
        if parent.state in WORKING_STATES or not parent.text:
            raise ChatError(_("Wait for the answer to finish, or regenerate it, before replying."))
    elif messages and not any(m.parent_id is None and m.role == Role.PROMPTER for m in messages):
        raise ChatError(_("That message does not exist."))
    with transaction.atomic():
        prompt = ChatMessage.objects.create(chat=chat, parent=parent, role=Role.PROMPTER, text=text)
        messages.append(prompt)
        fields = []
        if not chat.title:
            first_line = text.splitlines()[0]
            chat.title = first_line[:TITLE_LENGTH] + ("…" if len(first_line) > TITLE_LENGTH else "")
            fields.append("title")
        return _queue_answers(
            chat, user=user, parent=prompt, count=count, fields=fields, messages=messages
        )


def edit_prompt(
    chat: Chat,
    *,
    user: User,
    message_id: Any,
    text: Any,
    drafts: Any = 1,
    messages: list[ChatMessage],
) -> list[int]:
    """A new version of a prompt, as its sibling; the old branch stays."""
    old = _message_in(chat, message_id, role=Role.PROMPTER, messages=messages)
    return send_prompt(
        chat, user=user, text=text, parent_id=old.parent_id, drafts=drafts, messages=messages
    )


def regenerate(
    chat: Chat,
    *,
    user: User,
    message_id: Any,
    drafts: Any = 1,
    messages: list[ChatMessage],
) -> list[int]:
    """New answers beside an answer (or answers to a prompt)."""
    message = _message_in(chat, message_id, messages=messages)
    if message.role == Role.PROMPTER:
        prompt = message
    else:
        prompt = next(m for m in messages if m.pk == message.parent_id)
    with transaction.atomic():
        return _queue_answers(
            chat, user=user, parent=prompt, count=_clean_drafts(drafts), messages=messages
        )


def continue_answer(
    chat: Chat, *, user: User, message_id: Any, messages: list[ChatMessage]
) -> list[int]:
    """Let the model go on writing an answer that was cut short or stopped."""
    message = _message_in(chat, message_id, role=Role.ASSISTANT, messages=messages)
    if message.finish_reason not in {"length", "cancelled"} or not message.text:
        raise ChatError(_("Only an answer that was cut short or stopped can be continued."))
    _check_rate(user, 1)
    message.state = State.PENDING
    message.error = ""
    message.save(update_fields=["state", "error"])
    return [message.id]


def chat_model(chat: Chat) -> Model:
    """The enabled model the chat uses (the default one if it has none); raises UnknownModel.

    The chat's row comes with its model's (``open_chat``), so this reads nothing
    more unless the chat has no model; a changed model row is what was just read.
    """
    if chat.model is None:
        return find_model(None)
    if not chat.model.enabled:
        raise UnknownModel(f"unknown or disabled model {chat.model.name!r}")
    return chat.model


def _queue_answers(
    chat: Chat,
    *,
    user: User,
    parent: ChatMessage,
    count: int,
    messages: list[ChatMessage],
    fields: list[str] | None = None,
) -> list[int]:
    """Should be called inside a transaction: pending answers to ``parent``.

    ``fields`` are other fields of ``chat`` to save with its active leaf; the
    answers are appended to ``messages``, the chat's messages.
    """
    try:
        model = chat_model(chat)
    except UnknownModel as exc:
        raise ChatError(str(exc)) from None
    params = effective_params(chat, model)
    _check_rate(user, count)
    group = uuid.uuid4() if count > 1 else None
    answers = [
        ChatMessage.objects.create(
            chat=chat,
            parent=parent,
            role=Role.ASSISTANT,
            state=State.PENDING,
            model_name=model.name,
            params=params.as_dict(),
            draft_group=group,
        )
        for _ in range(count)
    ]
    messages.extend(answers)
    chat.active_leaf = answers[0]
    chat.updated_at = timezone.now()
    chat.save(update_fields=["active_leaf", "updated_at", *(fields or [])])
    return [a.id for a in answers]


def show_message(chat: Chat, *, message_id: Any) -> None:
    """Make the branch through ``message_id`` the one shown (the sibling pager)."""
    message = _message_in(chat, message_id)
    children: dict[int | None, list[ChatMessage]] = defaultdict(list)
    for m in chat.messages.all():
        children[m.parent_id].append(m)
    chat.active_leaf = _deepest(message, children)
    chat.save(update_fields=["active_leaf"])


def vote(
    message: ChatMessage, *, user: User, score: int, reasons: list[str], text: str = ""
) -> Vote | None:
    """Thumbs up (1) or down (-1); the same score again takes the vote back."""
    if score not in (-1, 1):
        raise ChatError(_("A vote is +1 or -1."))
    if message.role != Role.ASSISTANT or message.state != State.COMPLETE:
        raise ChatError(_("Only finished answers can be rated."))
    unknown = set(reasons) - set(VOTE_REASONS)
    if unknown:
        raise ChatError(_("Unknown reason: %(r)s") % {"r": ", ".join(sorted(unknown))})
    existing = Vote.objects.filter(message=message, user=user).first()
    if existing and existing.score == score and not reasons and not text:
        existing.delete()
        return None
    row, _created = Vote.objects.update_or_create(
        message=message,
        user=user,
        defaults={"score": score, "reasons": list(reasons), "text": text[:MAX_FEEDBACK_TEXT]},
    )
    return row


def report(message: ChatMessage, *, user: User, reason: str, text: str = "") -> Report:
    if reason not in ReportReason.values:
        raise ChatError(_("Pick a reason for the report."))
    return Report.objects.create(
        message=message, user=user, reason=reason, text=text[:MAX_FEEDBACK_TEXT]
    )


def write_better_answer(message: ChatMessage, *, user: User, text: Any) -> BetterAnswer:
    if message.role != Role.ASSISTANT:
        raise ChatError(_("Better answers are written for the assistant's answers."))
    return BetterAnswer.objects.create(message=message, user=user, text=_clean_text(text))


def pick_draft(chat: Chat, *, user: User, message_id: Any) -> DraftPick:
    """Store which draft was best (the others are the rejected ones) and show it."""
    message = _message_in(chat, message_id, role=Role.ASSISTANT)
    if message.draft_group is None:
        raise ChatError(_("That answer is not a draft."))
    group = list(chat.messages.filter(draft_group=message.draft_group))
    if any(m.state in WORKING_STATES for m in group):
        raise ChatError(_("Wait until every draft is finished."))
    with transaction.atomic():
        if DraftPick.objects.filter(chat=chat, draft_group=message.draft_group).exists():
            raise ChatError(_("You have already picked a draft here."))
        pick = DraftPick.objects.create(
            chat=chat,
            user=user,
            draft_group=message.draft_group,
            selected=message,
            rejected=[m.id for m in group if m.id != message.id],
        )
        chat.active_leaf = message
        chat.save(update_fields=["active_leaf"])
    return pick


def update_settings(
    chat: Chat,
    *,
    model_name: str | None = None,
    preset: str | None = None,
    params: dict[str, Any] | None = None,
    system_prompt: str | None = None,
    allow_data_use: bool | None = None,
    title: str | None = None,
) -> Chat:
    """Change a chat's settings; validates everything before writing anything."""
    fields = []
    if model_name is not None:
        try:
            chat.model = find_model(model_name)
        except UnknownModel as exc:
            raise ChatError(str(exc)) from None
        fields.append("model")
    if preset is not None:
        if preset not in PRESETS:
            raise ChatError(_("Unknown preset %(p)s.") % {"p": preset})
        chat.preset = preset
        fields.append("preset")
    if params is not None:
        try:
            parse_params(params)
        except InvalidParams as exc:
            raise ChatError(str(exc)) from None
        chat.params = params
        fields.append("params")
    if system_prompt is not None:
        if len(system_prompt) > MAX_SYSTEM_PROMPT:
            raise ChatError(
                _("The system prompt is too long: at most %(n)d characters.")
                % {"n": MAX_SYSTEM_PROMPT}
            )
        chat.system_prompt = system_prompt.strip()
        fields.append("system_prompt")
    if allow_data_use is not None:
        chat.allow_data_use = allow_data_use
        fields.append("allow_data_use")
    if title is not None:
        chat.title = title.strip()[:100]
        fields.append("title")
    if fields:
        chat.save(update_fields=fields)
    return chat


def share_chat(chat: Chat) -> str:
    """A read-only link's token; the same one until unshared."""
    if not chat.share_token:
        chat.share_token = secrets.token_urlsafe(32)
        chat.save(update_fields=["share_token"])
    return chat.share_token


def unshare_chat(chat: Chat) -> None:
    chat.share_token = None
    chat.save(update_fields=["share_token"])


def set_hidden(chat: Chat, *, hidden: bool) -> None:
    chat.hidden = hidden
    chat.save(update_fields=["hidden"])


def delete_chat(chat: Chat) -> None:
    for message_id in chat.messages.filter(state__in=WORKING_STATES).values_list("id", flat=True):
        live = _live.get(message_id)
        if live:
            live.handle.cancel()
    chat.delete()


# --- Generating -----------------------------------------------------------------


@dataclass
class Update:
    """What a chat's listeners hear: ``queued``, ``token``, ``finished``.

    A finished answer comes with the whole thread (``view``) when its end may
    change other messages on the page, or else with the answer alone (``item``).
    """

    kind: str
    message_id: int
    text: str = ""
    position: int = 0
    view: ChatView | None = None
    item: MessageView | None = None
    error: str = ""
    # For tokens: where ``text`` starts in the generation's text.
    offset: int = 0


@dataclass
class Generation:
    message_id: int
    chat_id: int
    handle: Any
    answer: AnswerRow
    text: str = ""
    position: int = 0
    task: asyncio.Task | None = None


@dataclass(frozen=True)
class AnswerRow:
    """What the finish of an answer needs of its row as it was when handed to the runner.

    Nothing else writes these fields while the answer is being written, so
    storing its result needs no read of the row first.
    """

    parent_id: int | None
    text: str
    params: dict[str, Any]
    draft_group: uuid.UUID | None

    @classmethod
    def of(cls, message: ChatMessage) -> AnswerRow:
        return cls(message.parent_id, message.text, message.params, message.draft_group)


# Live generations and listeners of this process, touched only from its event loop.
_live: dict[int, Generation] = {}
_listeners: dict[int, set[asyncio.Queue[Update]]] = defaultdict(set)
_orphan_timers: dict[int, asyncio.TimerHandle] = {}


def _conversation(chat: Chat, message: ChatMessage, by_id: dict[int, ChatMessage]) -> Conversation:
    """The branch up to ``message`` as the runner's input (the answer itself when continued)."""
    path = []
    node = message if message.text else by_id.get(message.parent_id or -1)
    while node is not None:
        path.append(node)
        node = by_id.get(node.parent_id) if node.parent_id else None
    path.reverse()
    return Conversation(
        turns=tuple((m.role, m.text) for m in path),
        system_prompt=chat.system_prompt,
        continue_last=bool(message.text),
    )


def _answer_model(chat: Chat, message: ChatMessage) -> Model:
    """The model an answer is written with: the chat's, unless the answer is an older one's."""
    if chat.model is not None and message.model_name == chat.model.name:
        return chat_model(chat)
    return find_model(message.model_name or None)


def _store_failure(message_id: int, error: str) -> None:
    ChatMessage.objects.filter(pk=message_id, state__in=WORKING_STATES).update(
        state=State.ABORTED, error=error[:500], finished_at=timezone.now()
    )


def _mark_started(message_id: int, event: Event) -> None:
    ChatMessage.objects.filter(pk=message_id, state=State.PENDING).update(
        state=State.IN_PROGRESS, started_at=timezone.now(), prompt_tokens=event.prompt_tokens
    )


def _store_result(generation: Generation, done: Event) -> Update | None:
    """Store a finished answer in one UPDATE; returns what its chat's listeners hear.

    None when the answer is gone (its chat was deleted meanwhile).
    """
    answer = generation.answer
    now = timezone.now()
    started = now - timedelta(seconds=done.generation_s)
    fields: dict[str, Any] = {
        "text": answer.text + done.text,
        "state": FINAL_STATE.get(done.reason, State.ABORTED),
        "finish_reason": done.reason,
        "error": done.error[:500],
        "finished_at": now,
        # _mark_started ran before (database calls run in order); a runner that
        # never said "started" leaves it to this write.
        "started_at": Coalesce(F("started_at"), Value(started)),
        "completion_tokens": Coalesce(F("completion_tokens"), Value(0)) + done.completion_tokens,
    }
    if done.first_token_s is not None:
        fields["first_token_at"] = started + timedelta(seconds=done.first_token_s)
    if done.prompt_tokens:
        fields["prompt_tokens"] = done.prompt_tokens
    if done.seed is not None:
        fields["params"] = {**answer.params, "seed": done.seed}
    with transaction.atomic():
        if not ChatMessage.objects.filter(pk=generation.message_id).update(**fields):
            return None
        Chat.objects.filter(pk=generation.chat_id).update(updated_at=now)
    return _finished_update(generation, error=done.error)


def _finished_update(generation: Generation, *, error: str = "") -> Update | None:
    """The finished answer alone, or the whole thread when more of the page changes.

    The answer alone (one query: it and its siblings, for the pager) when it is
    the chat's active leaf and no draft: then its end changes nothing else the
    page shows (the title, the composer's parent and the pagers were sent with
    the turn). Drafts change their siblings' "pick" buttons, and an answer off
    the shown branch has no element to replace, so those get the thread.
    """
    answer = generation.answer
    siblings = list(
        ChatMessage.objects.filter(
            chat_id=generation.chat_id, parent_id=answer.parent_id
        ).select_related("chat")
    )
    message = next((m for m in siblings if m.id == generation.message_id), None)
    if message is None:
        return None  # deleted with its chat since the write
    if message.draft_group or message.chat.active_leaf_id != message.id:
        view = _view_for_message(generation.message_id)
        return Update("finished", generation.message_id, view=view, error=error)
    votes: dict[int, int] = {}
    better: dict[int, list[str]] = defaultdict(list)
    if answer.text:
        # Continued: the answer was finished before and may have been rated.
        mine = {"user_id": message.chat.user_id, "message": message}
        votes = dict(Vote.objects.filter(**mine).values_list("message_id", "score"))
        for text in BetterAnswer.objects.filter(**mine).values_list("text", flat=True):
            better[message.id].append(text)
    item = _message_view(message, siblings, votes, better, {}, read_only=False)
    return Update("finished", generation.message_id, item=item, error=error)


@dataclass(frozen=True)
class AnswerRequest:
    """A pending answer as the runner takes it, with its row as it was stored."""

    message_id: int
    chat_id: int
    spec: ModelSpec
    conversation: Conversation
    params: SamplingParams
    answer: AnswerRow


@dataclass
class StartedAnswer:
    """An answer handed to the runner: its message and the runner's handle."""

    message_id: int
    chat_id: int
    handle: Any
    answer: AnswerRow


@dataclass
class Turn:
    """An action written: the chat's messages after it, and its answers for the runner."""

    chat: Chat
    messages: list[ChatMessage]
    requests: list[AnswerRequest]
    refused: ChatError | None = None

    def error(self, runner_refused: dict[int, str]) -> ChatError | None:
        """What the person is told: the write's refusal, else the runner's first one."""
        if self.refused or not runner_refused:
            return self.refused
        return ChatError(next(iter(runner_refused.values())))


def write_turn(chat_id: int, user: User, write: Any, kwargs: dict[str, Any]) -> Turn:
    """Sync: ``write(chat, user=user, **kwargs)``, and its answers ready for the runner.

    ``write`` is one of the actions that store pending answers (``send_prompt``,
    ``edit_prompt``, ``regenerate``, ``continue_answer``) and returns their ids.
    Nothing goes to the runner here: the caller shows the thread (``turn_view``)
    and then hands the answers over (``start_answers``), so the model's thread
    does not compete with the rendering and the sending for the GIL. An answer
    whose model or parameters are no longer valid is stored as aborted.
    """
    chat = open_chat(chat_id, user)
    # One read of the chat's messages serves the write's checks, the runner's
    # input and the thread; the write appends what it creates.
    messages = read_messages(chat.id)
    ids = write(chat, user=user, messages=messages, **kwargs)
    by_id = {m.id: m for m in messages}
    requests, refused = [], None
    for message_id in ids:
        message = by_id[message_id]
        try:
            requests.append(
                AnswerRequest(
                    message_id,
                    chat.id,
                    _answer_model(chat, message).spec,
                    _conversation(chat, message, by_id),
                    parse_params(message.params),
                    AnswerRow.of(message),
                )
            )
        except (UnknownModel, InvalidParams) as exc:
            refused = refused or ChatError(str(exc))
            _store_failure(message_id, str(exc))
    if refused:
        messages = read_messages(chat.id)  # with the refusals stored
    return Turn(chat, messages, requests, refused)


def turn_view(turn: Turn, *, user: User) -> ChatView:
    """Sync: the thread after a written turn; its answers are pending, with no tokens yet."""
    return chat_view(turn.chat, user=user, messages=turn.messages)


def start_answers(
    requests: list[AnswerRequest], *, user_key: str
) -> tuple[list[StartedAnswer], dict[int, str]]:
    """Hand a turn's answers to the runner: the started ones, and the refused ones' reasons.

    No database access (the runners' ``submit`` only queues), so it runs on
    the event loop. Store the refusals with ``store_refusals``, and track the
    started answers (``track_answers``) at once.
    """
    runner = get_runner()
    started, refused = [], {}
    for request in requests:
        try:
            handle = runner.submit(
                request.spec, request.conversation, request.params, user_key=user_key
            )
        except RunnerRefused as exc:
            refused[request.message_id] = str(exc)
            continue
        started.append(StartedAnswer(request.message_id, request.chat_id, handle, request.answer))
    return started, refused


def store_refusals(turn: Turn, refused: dict[int, str], *, user: User) -> ChatView:
    """Sync: the answers the runner refused stored as aborted; returns the thread after."""
    for message_id, error in refused.items():
        _store_failure(message_id, error)
    return chat_view(turn.chat, user=user, messages=read_messages(turn.chat.id))


def track_answers(started: list[StartedAnswer]) -> None:
    """On the event loop: a Generation per started answer, reading the runner's events.

    Call it in a context of its own (``contextvars.Context().run``) when the
    caller's is inside a database call.
    """
    for answer in started:
        generation = Generation(
            message_id=answer.message_id,
            chat_id=answer.chat_id,
            handle=answer.handle,
            answer=answer.answer,
        )
        _live[answer.message_id] = generation
        generation.task = _spawn(_pump(generation))


# Background writes, held here so that they are not garbage-collected mid-way.
_background: set[asyncio.Task] = set()


def _spawn(coroutine: Any) -> asyncio.Task:
    task = asyncio.create_task(coroutine)
    _background.add(task)
    task.add_done_callback(_background.discard)
    return task


def _view_for_message(message_id: int) -> ChatView:
    chat = ChatMessage.objects.select_related("chat__user", "chat__model").get(pk=message_id).chat
    return chat_view(chat, user=chat.user)


async def _pump(generation: Generation) -> None:
    """Read the runner's events into the database and the chat's listeners."""
    handle = generation.handle
    loop = asyncio.get_running_loop()
    gather_until = None
    try:
        while True:
            events = await handle.next_events(gather_until=gather_until)
            pieces = []
            started = done = None
            for event in events:
                if event.kind == "queued":
                    generation.position = event.position
                    _broadcast(
                        generation.chat_id,
                        Update("queued", generation.message_id, position=event.position),
                    )
                elif event.kind == "started":
                    generation.position = 0
                    started = event
                elif event.kind == "token":
                    pieces.append(event.text)
                elif event.kind == "done":
                    done = event
            if pieces:
                text = "".join(pieces)
                offset = len(generation.text)
                generation.text += text
                _broadcast(
                    generation.chat_id,
                    Update("token", generation.message_id, text=text, offset=offset),
                )
                # At most one frame of tokens per FRAME_INTERVAL: a fast model is
                # not slowed by the event loop sending every token on its own (the
                # loop and the model thread share the GIL), and a page is not
                # swapped more often than a reader can follow. The end is never
                # held back.
                gather_until = loop.time() + FRAME_INTERVAL
                if started or done:
                    # The frame leaves before the database call below starts:
                    # it would hold the GIL and the frame would wait for it.
                    await asyncio.sleep(SEND_BEFORE_WRITE_S)
            if started is not None:
                # Not awaited: database calls run one at a time in order, and
                # the write only touches a pending answer, so it never undoes
                # the final state that _store_result writes.
                _spawn(database_sync_to_async(_mark_started)(generation.message_id, started))
            if done is not None:
                # Off the live list first: from now on the stored text is the whole text.
                _live.pop(generation.message_id, None)
                update = await database_sync_to_async(_store_result)(generation, done)
                if update is not None:
                    _broadcast(generation.chat_id, update)
                return
    except asyncio.CancelledError:
        handle.cancel()
        raise
    except Exception:
        log.exception("answer %s failed", generation.message_id)
        handle.cancel()
        _live.pop(generation.message_id, None)
        await database_sync_to_async(_store_failure)(generation.message_id, "internal error")


def _broadcast(chat_id: int, update: Update) -> None:
    for listener in list(_listeners.get(chat_id, ())):
        listener.put_nowait(update)


def subscribe(chat_id: int) -> asyncio.Queue[Update]:
    """Listen to a chat's generations (an open socket); a returning listener keeps them alive."""
    timer = _orphan_timers.pop(chat_id, None)
    if timer is not None:
        timer.cancel()
    listener: asyncio.Queue[Update] = asyncio.Queue()
    _listeners[chat_id].add(listener)
    return listener


def unsubscribe(chat_id: int, listener: asyncio.Queue[Update]) -> None:
    """Stop listening; the chat's generations stop when nobody returns within the grace time."""
    _listeners[chat_id].discard(listener)
    if _listeners[chat_id]:
        return
    del _listeners[chat_id]
    if not any(g.chat_id == chat_id for g in _live.values()):
        return
    grace = settings.OASST_CHAT_RECONNECT_GRACE
    loop = asyncio.get_running_loop()
    if grace <= 0:
        _cancel_orphans(chat_id)
    else:
        _orphan_timers[chat_id] = loop.call_later(grace, _cancel_orphans, chat_id)


def _cancel_orphans(chat_id: int) -> None:
    _orphan_timers.pop(chat_id, None)
    if _listeners.get(chat_id):
        return
    for generation in list(_live.values()):
        if generation.chat_id == chat_id:
            generation.handle.cancel()


def live_answers(chat_id: int) -> list[Generation]:
    return [g for g in _live.values() if g.chat_id == chat_id]


async def stop_answer(chat: Chat, *, message_id: Any) -> None:
    """Stop an answer being written: the runner stops within a token or two."""
    message = await database_sync_to_async(_message_in)(chat, message_id, role=Role.ASSISTANT)
    generation = _live.get(message.id)
    if generation is not None:
        generation.handle.cancel()
        return
    if message.state in WORKING_STATES:
        # Not running in this process (a restart, or another web node's answer).
        await database_sync_to_async(_store_cancelled)(message.id)
        view = await database_sync_to_async(_view_for_message)(message.id)
        _broadcast(chat.id, Update("finished", message.id, view=view))


def _store_cancelled(message_id: int) -> None:
    ChatMessage.objects.filter(pk=message_id, state__in=WORKING_STATES).update(
        state=State.CANCELLED, finish_reason="cancelled", finished_at=timezone.now()
    )
