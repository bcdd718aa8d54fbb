"""The chat socket through the real ASGI stack, with the fake model."""

from __future__ import annotations

import asyncio
import json
import re
from typing import Any

import pytest
from channels.db import database_sync_to_async
from django.test import override_settings

from oasst.accounts.models import User
from oasst.chat import conversation
from oasst.chat.consumers import ChatConsumer
from oasst.chat.models import Chat, ChatMessage, DraftPick, State
from oasst.inference.models import Model
from oasst.inference.runner import LocalRunner, set_runner
from tests.chat.conftest import connect, receive_until
from tests.conftest import make_user

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


def finished(frame: str) -> bool:
    """A frame with a complete answer and nothing streaming: the thread, or the answer alone."""
    return "msg-assistant state-complete" in frame and "streaming" not in frame


async def new_chat(user: User) -> Chat:
    return await database_sync_to_async(conversation.create_chat)(user)


async def messages_of(chat: Chat) -> list[ChatMessage]:
    return await database_sync_to_async(lambda: list(chat.messages.order_by("id")))()


async def send(comm, **data) -> None:  # noqa: ANN001 - test helper
    await comm.send_to(text_data=json.dumps(data))


async def open_socket(chat: Chat, user: User):  # noqa: ANN201 - test helper
    comm, connected, _ = await connect(chat.id, user)
    assert connected
    await receive_until(comm, lambda f: 'id="thread"' in f)  # the thread as it is
    return comm


async def test_a_prompt_streams_its_answer_as_out_of_band_fragments(
    volunteer: User, fake_model: Model
) -> None:
    chat = await new_chat(volunteer)
    comm = await open_socket(chat, volunteer)
    await send(comm, action="send", text="hello <b>there</b>", parent="", drafts="1")
    frames = await receive_until(comm, finished)
    tokens = [f for f in frames if 'hx-swap-oob="beforeend:#message-' in f]
    assert tokens, frames
    # A frame may hold other fragments too (the queue position before the first tokens).
    streamed = "".join(
        "".join(re.findall(r'hx-swap-oob="beforeend:#message-\d+-text">(.*?)</div>', f))
        for f in tokens
    )
    assert streamed == "Echo: hello &lt;b&gt;there&lt;/b&gt;"
    assert "Echo: hello &lt;b&gt;there&lt;/b&gt;" in frames[-1]
    prompt, answer = await messages_of(chat)
    assert (prompt.role, answer.role, answer.state) == ("prompter", "assistant", State.COMPLETE)
    assert answer.parent_id == prompt.id
    assert answer.text == "Echo: hello <b>there</b>"
    assert answer.first_token_at and answer.completion_tokens and answer.params["seed"] is not None
    await comm.disconnect()


async def test_stop_cancels_the_answer_within_a_token_or_two(
    volunteer: User, slow_model: Model
) -> None:
    chat = await new_chat(volunteer)
    comm = await open_socket(chat, volunteer)
    await send(comm, action="send", text="go")
    await receive_until(comm, lambda f: "beforeend:#message-" in f)
    answer = (await messages_of(chat))[-1]
    await send(comm, action="stop", message=answer.id)
    await receive_until(comm, lambda f: 'data-state="cancelled"' in f)
    await database_sync_to_async(answer.refresh_from_db)()
    assert answer.state == State.CANCELLED
    assert 0 < answer.completion_tokens < 300 * 5
    assert "Continue" in (await receive_continue_button(chat, volunteer))
    await comm.disconnect()


async def receive_continue_button(chat: Chat, user: User) -> str:
    comm = await connect(chat.id, user)
    frame = await comm[0].receive_from(timeout=5)
    await comm[0].disconnect()
    return frame


async def test_regenerate_adds_a_sibling_answer_and_a_pager(
    volunteer: User, fake_model: Model
) -> None:
    chat = await new_chat(volunteer)
    comm = await open_socket(chat, volunteer)
    await send(comm, action="send", text="one")
    await receive_until(comm, finished)
    first_answer = (await messages_of(chat))[-1]
    await send(comm, action="regenerate", message=first_answer.id)
    frames = await receive_until(comm, finished)
    assert "2/2" in frames[-1]
    prompt, a1, a2 = await messages_of(chat)
    assert a1.parent_id == a2.parent_id == prompt.id
    # The pager switches back to the first answer.
    await send(comm, action="show", message=a1.id)
    frames = await receive_until(comm, lambda f: "1/2" in f)
    assert f'id="message-{a1.id}"' in frames[-1]
    await comm.disconnect()


async def test_editing_a_prompt_keeps_the_old_branch(volunteer: User, fake_model: Model) -> None:
    chat = await new_chat(volunteer)
    comm = await open_socket(chat, volunteer)
    await send(comm, action="send", text="first")
    await receive_until(comm, finished)
    prompt = (await messages_of(chat))[0]
    await send(comm, action="edit", message=prompt.id, text="second")
    frames = await receive_until(comm, lambda f: finished(f) and "Echo: second" in f)
    # The turn's thread shows the prompt's pager; the answer's end replaces the answer only.
    assert "2/2" in frames[0] and 'id="thread"' in frames[0]
    assert 'id="thread"' not in frames[-1]
    texts = [m.text for m in await messages_of(chat)]
    assert texts == ["first", "Echo: first", "second", "Echo: second"]
    await comm.disconnect()


async def test_a_reconnecting_socket_resumes_the_answer_in_progress(
    volunteer: User, slow_model: Model
) -> None:
    chat = await new_chat(volunteer)
    comm = await open_socket(chat, volunteer)
    await send(comm, action="send", text="go", drafts="1")
    await receive_until(comm, lambda f: "beforeend:#message-" in f)
    await comm.disconnect()
    await asyncio.sleep(0.1)
    comm, connected, _ = await connect(chat.id, volunteer)
    assert connected
    first = await comm.receive_from(timeout=5)
    # The answer so far is in the thread, still streaming, and tokens keep coming.
    assert "streaming" in first and ">word" in first
    await receive_until(comm, lambda f: "beforeend:#message-" in f)
    answer = (await messages_of(chat))[-1]
    await send(comm, action="stop", message=answer.id)
    await receive_until(comm, lambda f: 'data-state="cancelled"' in f)
    await comm.disconnect()


async def test_closing_the_socket_cancels_the_answer_after_the_grace_time(
    volunteer: User, slow_model: Model
) -> None:
    chat = await new_chat(volunteer)
    with override_settings(OASST_CHAT_RECONNECT_GRACE=0):
        comm = await open_socket(chat, volunteer)
        await send(comm, action="send", text="go")
        await receive_until(comm, lambda f: "beforeend:#message-" in f)
        await comm.disconnect()
    answer = (await messages_of(chat))[-1]
    for _ in range(100):
        await asyncio.sleep(0.05)
        await database_sync_to_async(answer.refresh_from_db)()
        if answer.state == State.CANCELLED:
            break
    assert answer.state == State.CANCELLED


async def test_a_finished_answer_replaces_its_message_alone_with_timings_and_votes(
    volunteer: User, fake_model: Model
) -> None:
    chat = await new_chat(volunteer)
    comm = await open_socket(chat, volunteer)
    await send(comm, action="send", text="one")
    await receive_until(comm, finished)
    first_answer = (await messages_of(chat))[-1]
    await send(comm, action="regenerate", message=first_answer.id)
    frames = await receive_until(comm, finished)
    answer = (await messages_of(chat))[-1]
    end = frames[-1]
    # The answer's element out of band, and the error line cleared; not the thread.
    assert f'<article id="message-{answer.id}"' in end and 'hx-swap-oob="true"' in end
    assert 'id="thread"' not in end and 'id="chat-error"' in end
    assert "<p>Echo: one</p>" in end  # markdown, not the streamed text
    assert "tokens · first after" in end  # the timings line
    assert 'aria-label="Good answer"' in end and 'aria-label="Bad answer"' in end
    assert f"/chat/{chat.id}/messages/{answer.id}/vote/" in end  # forms of this chat
    assert "2/2" in end and f'value="{first_answer.id}"' in end  # the pager to its sibling
    assert 'name="reasons" value="too long"> too long</label>' in end  # the vote's reasons
    await comm.disconnect()


async def test_a_finished_draft_brings_the_thread_for_its_siblings_pick_buttons(
    volunteer: User, fake_model: Model
) -> None:
    chat = await new_chat(volunteer)
    comm = await open_socket(chat, volunteer)
    await send(comm, action="send", text="pick", drafts="2")
    frames = await receive_until(comm, lambda f: finished(f) and "This draft is best" in f)
    assert 'id="thread"' in frames[-1]
    assert 'name="reasons" value="helpful"> helpful</label>' in frames[-1]
    await comm.disconnect()


async def test_drafts_are_generated_together_and_the_pick_is_stored(
    volunteer: User, fake_model: Model
) -> None:
    chat = await new_chat(volunteer)
    comm = await open_socket(chat, volunteer)
    await send(comm, action="send", text="pick", drafts="2")
    await receive_until(comm, lambda f: finished(f) and "This draft is best" in f)
    _prompt, a1, a2 = await messages_of(chat)
    assert a1.draft_group == a2.draft_group is not None
    await database_sync_to_async(conversation.pick_draft)(chat, user=volunteer, message_id=a2.id)
    pick = await database_sync_to_async(DraftPick.objects.get)()
    assert (pick.selected_id, pick.rejected) == (a2.id, [a1.id])
    await comm.disconnect()


async def test_the_thread_is_sent_before_the_answer_goes_to_the_runner(
    volunteer: User, fake_model: Model, runner: LocalRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The model's thread starts after the turn's own work, not beside it (the GIL)."""
    chat = await new_chat(volunteer)
    comm = await open_socket(chat, volunteer)
    sent = record_frames(monkeypatch)
    frames_at_submit = []
    submit = runner.submit

    def recording_submit(*args: Any, **kwargs: Any) -> Any:
        frames_at_submit.append(list(sent))
        return submit(*args, **kwargs)

    monkeypatch.setattr(runner, "submit", recording_submit)
    await send(comm, action="send", text="hello")
    await receive_until(comm, finished)
    [frames] = frames_at_submit
    assert len(frames) == 1 and 'id="thread"' in frames[0] and "state-pending" in frames[0]
    await comm.disconnect()


async def test_the_first_and_last_tokens_are_sent_before_their_database_writes(
    volunteer: User, fake_model: Model, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The write of "in progress" and of the result hold the GIL for milliseconds:
    the frames of the first and of the last tokens leave before they start."""
    chat = await new_chat(volunteer)
    comm = await open_socket(chat, volunteer)
    sent = record_frames(monkeypatch)
    streamed_at_write: dict[str, str] = {}
    wrap = conversation.database_sync_to_async

    def recording_wrap(function: Any) -> Any:
        if function in (conversation._mark_started, conversation._store_result):
            streamed_at_write[function.__name__] = "".join(
                "".join(re.findall(r'beforeend:#message-\d+-text">(.*?)</div>', frame))
                for frame in sent
            )
        return wrap(function)

    monkeypatch.setattr(conversation, "database_sync_to_async", recording_wrap)
    await send(comm, action="send", text="hello")
    await receive_until(comm, finished)
    first = streamed_at_write["_mark_started"]
    assert first and "Echo: hello".startswith(first)
    assert streamed_at_write["_store_result"] == "Echo: hello"
    await comm.disconnect()


async def test_an_answer_the_runner_refuses_is_shown_aborted_with_the_reason(
    volunteer: User, fake_model: Model
) -> None:
    strict = LocalRunner(user_limit=1, queue_size=8)
    previous = set_runner(strict)
    try:
        chat = await new_chat(volunteer)
        comm = await open_socket(chat, volunteer)
        await send(comm, action="send", text="two drafts", drafts=2)
        frames = [await comm.receive_from(timeout=5) for _ in range(3)]
        await receive_until(comm, finished)
        await comm.disconnect()
    finally:
        strict.shutdown()
        set_runner(previous)
    # The thread with the first draft being written, again once the other is
    # stored as refused (the drafts' pager shows both), and why.
    first, again, error = frames
    assert 'id="thread"' in first and "state-pending" in first and 'id="thread"' in again
    assert 'id="chat-error"' in error and "answers being written" in error
    states = sorted(m.state for m in await messages_of(chat) if m.role == "assistant")
    assert states == [State.ABORTED, State.COMPLETE]


def record_frames(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The text frames the chat's sockets send from now on, in order."""
    sent: list[str] = []
    send = ChatConsumer.send

    async def recording_send(self: ChatConsumer, text_data: str | None = None, **kwargs: Any):
        sent.append(text_data or "")
        await send(self, text_data=text_data, **kwargs)

    monkeypatch.setattr(ChatConsumer, "send", recording_send)
    return sent


async def test_anonymous_sockets_are_closed_with_4401(fake_model: Model, volunteer: User) -> None:
    chat = await new_chat(volunteer)
    comm, connected, code = await connect(chat.id, None)
    assert not connected and code == 4401


async def test_someone_elses_chat_is_closed_with_4403(fake_model: Model, volunteer: User) -> None:
    chat = await new_chat(volunteer)
    other = await database_sync_to_async(make_user)("mallory")
    comm, connected, code = await connect(chat.id, other)
    assert not connected and code == 4403


async def test_a_foreign_origin_is_refused(fake_model: Model, volunteer: User) -> None:
    chat = await new_chat(volunteer)
    comm, connected, _ = await connect(chat.id, volunteer, origin=b"http://evil.example")
    assert not connected


async def test_bad_input_gets_an_error_frame_and_changes_nothing(
    volunteer: User, fake_model: Model
) -> None:
    chat = await new_chat(volunteer)
    comm = await open_socket(chat, volunteer)
    cases = [
        ({"action": "send", "text": "x" * 9000}, "too long"),
        ({"action": "send", "text": "   "}, "Write a message first"),
        ({"action": "send", "text": "hi", "parent": "999999"}, "does not exist"),
        ({"action": "send", "text": "hi", "drafts": "50"}, "1 to 3 drafts"),
        ({"action": "explode"}, "Unknown action"),
        ({"action": "stop", "message": "abc"}, "does not exist"),
    ]
    for data, expected in cases:
        await send(comm, **data)
        frame = await comm.receive_from(timeout=5)
        assert 'id="chat-error"' in frame and expected in frame, (data, frame)
    await comm.send_to(text_data="{not json")
    assert "could not be read" in await comm.receive_from(timeout=5)
    await comm.send_to(text_data="x" * (70 * 1024))
    assert "too large" in await comm.receive_from(timeout=5)
    assert await messages_of(chat) == []
    await comm.disconnect()


async def test_an_unknown_or_disabled_model_is_a_clear_error(
    volunteer: User, fake_model: Model
) -> None:
    chat = await new_chat(volunteer)
    await database_sync_to_async(Model.objects.filter(pk=fake_model.pk).update)(enabled=False)
    comm = await open_socket(chat, volunteer)
    await send(comm, action="send", text="hi")
    frame = await comm.receive_from(timeout=5)
    assert "chat-error" in frame and "disabled model" in frame
    assert await messages_of(chat) == []
    await comm.disconnect()


async def test_a_flood_of_messages_is_refused(volunteer: User, fake_model: Model) -> None:
    chat = await new_chat(volunteer)
    comm = await open_socket(chat, volunteer)
    for _ in range(12):
        await send(comm, action="show", message="0")
    frames = [await comm.receive_from(timeout=5) for _ in range(12)]
    assert any("slow down" in f for f in frames)
    await comm.disconnect()


def test_a_joining_socket_skips_the_tokens_its_snapshot_already_showed() -> None:
    from oasst.chat.consumers import skip_seen
    from oasst.chat.conversation import Update

    updates = [
        Update("token", 7, text="abc", offset=0),  # all in the snapshot
        Update("token", 7, text="def", offset=3),  # "d" in the snapshot
        Update("token", 8, text="xyz", offset=0),  # another answer, not live then
        Update("token", 7, text="gh", offset=6),
    ]
    kept = skip_seen(updates, {7: 4})
    assert [(u.message_id, u.text, u.offset) for u in kept] == [
        (7, "ef", 4),
        (8, "xyz", 0),
        (7, "gh", 6),
    ]
