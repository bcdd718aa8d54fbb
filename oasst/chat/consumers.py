"""The chat socket: parses what the page sends, calls conversation.py, renders fragments.

The page (htmx's websocket extension) sends its forms as JSON with an
``action``; every answer is HTML with out-of-band swaps: tokens are appended
to the message being written, a finished answer replaces its message, the whole
thread is replaced when its shape changes, and errors go to ``#chat-error``. No database access happens here.
"""

from __future__ import annotations

import asyncio
import contextvars
import json
import time
from dataclasses import replace
from typing import Any

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.template.loader import render_to_string
from django.utils.html import escape, format_html
from django.utils.translation import gettext as _

from oasst.chat import conversation
from oasst.chat.conversation import (
    VOTE_REASON_CHOICES,
    ChatError,
    ChatNotFound,
    ChatView,
    MessageView,
    Turn,
    Update,
)

CLOSE_UNAUTHENTICATED = 4401
CLOSE_FORBIDDEN = 4403
MAX_FRAME_BYTES = 64 * 1024
# A burst of this many messages, then one per FLOOD_INTERVAL seconds.
FLOOD_BURST = 8
FLOOD_INTERVAL = 1.0


class ChatConsumer(AsyncWebsocketConsumer):
    chat_id: int
    listener: asyncio.Queue[Update] | None = None
    relay: asyncio.Task | None = None

    async def connect(self) -> None:
        self.user = self.scope.get("user")
        if self.user is None or not self.user.is_authenticated:
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        self.chat_id = int(self.scope["url_route"]["kwargs"]["chat_id"])
        try:
            chat = await database_sync_to_async(conversation.open_chat)(self.chat_id, self.user)
        except ChatNotFound:
            await self.close(code=CLOSE_FORBIDDEN)
            return
        await self.accept()
        self.allowance = float(FLOOD_BURST)
        self.sending = asyncio.Lock()
        self.checked = time.monotonic()
        # A page that reconnects gets the thread as it is now, answers in
        # progress included, and then their next tokens: listen first (tokens
        # wait in the queue), take the snapshot, send it, then relay what the
        # snapshot does not already hold.
        self.listener = conversation.subscribe(self.chat_id)
        view = await database_sync_to_async(conversation.chat_view)(chat, user=self.user)
        await self.send(text_data=render_thread(view))
        seen = {item.id: item.live_chars for item in view.items if item.is_live}
        self.relay = asyncio.create_task(self._relay(seen))

    async def disconnect(self, code: int) -> None:
        if self.relay is not None:
            self.relay.cancel()
        if self.listener is not None:
            conversation.unsubscribe(self.chat_id, self.listener)
            self.listener = None

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if text_data is None or len(text_data.encode()) > MAX_FRAME_BYTES:
            await self.send_error(_("That message is too large."))
            return
        if not self._allowed():
            await self.send_error(_("Too many messages at once; slow down a little."))
            return
        try:
            data = json.loads(text_data)
        except json.JSONDecodeError:
            await self.send_error(_("That message could not be read."))
            return
        if not isinstance(data, dict):
            await self.send_error(_("That message could not be read."))
            return
        handler = ACTIONS.get(str(data.get("action", "send")))
        if handler is None:
            await self.send_error(_("Unknown action."))
            return
        try:
            await handler(self, data)
        except ChatError as exc:
            await self.send_error(str(exc))
        except ChatNotFound:
            await self.close(code=CLOSE_FORBIDDEN)

    def _allowed(self) -> bool:
        now = time.monotonic()
        self.allowance = min(FLOOD_BURST, self.allowance + (now - self.checked) / FLOOD_INTERVAL)
        self.checked = now
        if self.allowance < 1:
            return False
        self.allowance -= 1
        return True

    async def send_error(self, message: str) -> None:
        await self.send(text_data=render_error(message))

    # --- actions ---------------------------------------------------------------
    async def _chat(self) -> Any:
        return await database_sync_to_async(conversation.open_chat)(self.chat_id, self.user)

    async def _write_then_generate(self, write: Any, **kwargs: Any) -> None:
        # One database hop writes the action and renders the thread; then, on
        # the loop, the thread is sent and the answers go to the runner. The
        # model's thread starts only after that: while it decodes, the loop
        # and the database thread wait long for the GIL (it takes the GIL
        # back after every tensor operation), and every step of the start
        # would wait behind it. The lock keeps the answers' updates behind
        # the thread that holds their elements.
        async with self.sending:
            turn, html = await database_sync_to_async(write_and_render)(
                self.chat_id, self.user, write, kwargs
            )
            try:
                await self.send(text_data=html)
            finally:
                # Even if this socket is gone meanwhile: the answers are
                # stored as pending and must finish.
                started, refused = conversation.start_answers(
                    turn.requests, user_key=f"user:{self.user.pk}"
                )
                contextvars.Context().run(conversation.track_answers, started)
            if refused:
                view = await database_sync_to_async(conversation.store_refusals)(
                    turn, refused, user=self.user
                )
                await self.send(text_data=render_thread(view))
        error = turn.error(refused)
        if error:
            raise error

    async def do_send(self, data: dict[str, Any]) -> None:
        await self._write_then_generate(
            conversation.send_prompt,
            text=data.get("text"),
            parent_id=data.get("parent"),
            drafts=data.get("drafts", 1),
        )

    async def do_edit(self, data: dict[str, Any]) -> None:
        await self._write_then_generate(
            conversation.edit_prompt,
            message_id=data.get("message"),
            text=data.get("text"),
            drafts=data.get("drafts", 1),
        )

    async def do_regenerate(self, data: dict[str, Any]) -> None:
        await self._write_then_generate(
            conversation.regenerate, message_id=data.get("message"), drafts=data.get("drafts", 1)
        )

    async def do_continue(self, data: dict[str, Any]) -> None:
        await self._write_then_generate(
            conversation.continue_answer, message_id=data.get("message")
        )

    async def do_stop(self, data: dict[str, Any]) -> None:
        await conversation.stop_answer(await self._chat(), message_id=data.get("message"))

    async def do_show(self, data: dict[str, Any]) -> None:
        chat = await self._chat()
        await database_sync_to_async(conversation.show_message)(
            chat, message_id=data.get("message")
        )
        view = await database_sync_to_async(conversation.chat_view)(chat, user=self.user)
        await self.send(text_data=render_thread(view))

    # --- the chat's updates -----------------------------------------------------
    async def _relay(self, seen: dict[int, int]) -> None:
        """Send the chat's updates; ``seen`` holds how much of each live answer was sent already."""
        assert self.listener is not None
        while True:
            updates = [await self.listener.get()]
            while not self.listener.empty():
                updates.append(self.listener.get_nowait())
            if seen:
                updates = skip_seen(updates, seen)
            if updates:
                async with self.sending:
                    await self.send(
                        text_data="".join(render_updates(updates, chat_id=self.chat_id))
                    )


ACTIONS = {
    "send": ChatConsumer.do_send,
    "edit": ChatConsumer.do_edit,
    "regenerate": ChatConsumer.do_regenerate,
    "continue": ChatConsumer.do_continue,
    "stop": ChatConsumer.do_stop,
    "show": ChatConsumer.do_show,
}


def write_and_render(
    chat_id: int, user: Any, write: Any, kwargs: dict[str, Any]
) -> tuple[Turn, str]:
    """Sync: an action written (``conversation.write_turn``) and the thread after it, rendered.

    Rendering here rather than on the event loop keeps the loop free to relay
    other answers' tokens meanwhile.
    """
    turn = conversation.write_turn(chat_id, user, write, kwargs)
    return turn, render_thread(conversation.turn_view(turn, user=user))


def skip_seen(updates: list[Update], seen: dict[int, int]) -> list[Update]:
    """Drop the token text a snapshot already showed (``seen``: characters per message)."""
    kept = []
    for update in updates:
        done = seen.get(update.message_id)
        if update.kind == "token" and done is not None:
            end = update.offset + len(update.text)
            if end <= done:
                continue
            if update.offset < done:
                update = replace(update, text=update.text[done - update.offset :], offset=done)
        elif update.kind == "finished":
            seen.pop(update.message_id, None)
        kept.append(update)
    return kept


def render_updates(updates: list[Update], *, chat_id: int) -> list[str]:
    """Fragments for a run of the chat's updates; consecutive tokens of a message become one."""
    frames: list[str] = []
    pending_id, pending_text = None, []
    for update in updates + [Update("end", -1)]:
        if update.kind == "token" and update.message_id == pending_id:
            pending_text.append(update.text)
            continue
        if pending_id is not None:
            frames.append(render_tokens(pending_id, "".join(pending_text)))
            pending_id, pending_text = None, []
        if update.kind == "token":
            pending_id, pending_text = update.message_id, [update.text]
        elif update.kind == "queued":
            frames.append(render_status(update.message_id, update.position))
        elif update.kind == "finished" and update.view is not None:
            frames.append(render_thread(update.view, error=update.error))
        elif update.kind == "finished" and update.item is not None:
            frames.append(render_message(chat_id, update.item, error=update.error))
    return frames


def render_tokens(message_id: int, text: str) -> str:
    # Escaped text while streaming; the finished message is replaced by its markdown.
    return f'<div hx-swap-oob="beforeend:#message-{message_id}-text">{escape(text)}</div>'


def render_status(message_id: int, position: int) -> str:
    label = _("Waiting: %(n)d in line") % {"n": position}
    return format_html(
        '<span id="message-{}-status" class="msg-status" hx-swap-oob="true">{}</span>',
        message_id,
        label,
    )


def render_error(message: str) -> str:
    return render_to_string("chat/_error.html", {"error": message, "oob": True})


def render_message(chat_id: int, item: MessageView, *, error: str = "") -> str:
    """One message of a chat's page, replacing its element, and the error line."""
    context = {
        "m": item,
        "chat": {"id": chat_id, "read_only": False},
        "message_oob": True,
        "vote_reasons": VOTE_REASON_CHOICES,
    }
    return render_to_string("chat/_message.html", context) + render_error(error)


def render_thread(view: ChatView, *, error: str = "") -> str:
    context = {"chat": view, "oob": True, "vote_reasons": VOTE_REASON_CHOICES}
    return render_to_string("chat/_thread.html", context) + render_to_string(
        "chat/_error.html", {"error": error, "oob": True}
    )
