"""One action of the person (send, edit, regenerate, continue) as one database hop."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from channels.db import database_sync_to_async
from django.db import connection
from django.test.utils import CaptureQueriesContext

from oasst.accounts.models import User
from oasst.chat import conversation
from oasst.chat.models import Chat, ChatMessage, State
from oasst.inference.models import Backend, Model
from oasst.inference.registry import register_model
from oasst.inference.runner import LocalRunner, set_runner
from tests.chat.conftest import TakenTurn, receive_until, take_turn


def turn(chat: Chat, user: User, **kwargs: Any) -> TakenTurn:
    result = take_turn(chat.id, user, conversation.send_prompt, kwargs)
    for answer in result.started:
        answer.handle.cancel()
    return result


def finish(message_id: int) -> None:
    ChatMessage.objects.filter(pk=message_id).update(state=State.COMPLETE, text="an answer")


def test_a_first_prompt_and_its_answer_take_eight_queries(
    volunteer: User,
    fake_model: Model,
    django_assert_max_num_queries: Any,
) -> None:
    chat = conversation.create_chat(volunteer)
    # The chat with its model; is it empty; the prompt, the answer and the chat
    # in one transaction (begin and commit count on SQLite); the messages.
    with django_assert_max_num_queries(8):
        result = turn(chat, volunteer, text="hello")
    assert [item.role for item in result.view.items] == ["prompter", "assistant"]
    assert len(result.started) == 1 and result.refused is None


def test_a_reply_takes_ten_queries_however_long_the_chat(
    volunteer: User,
    fake_model: Model,
    django_assert_max_num_queries: Any,
) -> None:
    chat = conversation.create_chat(volunteer)
    parent = None
    for _ in range(4):
        result = turn(chat, volunteer, text="hello", parent_id=parent)
        parent = result.view.items[-1].id
        finish(parent)
    # As above, plus the parent answer, its votes and better answers.
    with django_assert_max_num_queries(10):
        result = turn(chat, volunteer, text="and then?", parent_id=parent)
    assert len(result.view.items) == 10


@pytest.mark.parametrize("action", ["send", "edit", "regenerate"])
def test_a_turn_reads_the_chats_messages_once(
    volunteer: User, fake_model: Model, action: str
) -> None:
    chat = conversation.create_chat(volunteer)
    first = turn(chat, volunteer, text="hello")
    prompt, answer = (item.id for item in first.view.items)
    finish(answer)
    write, kwargs = {
        "send": (conversation.send_prompt, {"text": "more", "parent_id": answer}),
        "edit": (conversation.edit_prompt, {"message_id": prompt, "text": "hi"}),
        "regenerate": (conversation.regenerate, {"message_id": answer}),
    }[action]
    with CaptureQueriesContext(connection) as queries:
        result = take_turn(chat.id, volunteer, write, kwargs)
    for started in result.started:
        started.handle.cancel()
    table = ChatMessage._meta.db_table
    reads = [q["sql"] for q in queries.captured_queries if q["sql"].startswith("SELECT")]
    # The checks (the parent, the prompt edited or answered), the runner's
    # input and the thread all use the one read.
    assert sum(f"FROM {table} " in sql or f'FROM "{table}"' in sql for sql in reads) == 1
    assert len(result.started) == 1 and result.view.items[-1].state == State.PENDING


def test_the_answer_goes_to_the_runner_after_the_write_and_the_thread(
    volunteer: User,
    fake_model: Model,
    runner: LocalRunner,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The model's thread starts only when the database work of the turn is done:
    while it decodes, the other threads wait long for the GIL."""
    chat = conversation.create_chat(volunteer)
    first = turn(chat, volunteer, text="hello")
    finish(first.view.items[-1].id)
    submitted_at = []
    submit = runner.submit

    def recording_submit(*args: Any, **kwargs: Any) -> Any:
        submitted_at.append(len(queries.captured_queries))
        return submit(*args, **kwargs)

    monkeypatch.setattr(runner, "submit", recording_submit)
    with CaptureQueriesContext(connection) as queries:
        result = turn(chat, volunteer, text="more", parent_id=first.view.items[-1].id)
    [at] = submitted_at
    kinds = [q["sql"].split()[0] for q in queries.captured_queries]
    # The write, then the thread's reads (the votes and better answers of the
    # finished answer), and nothing after the answer went to the runner.
    assert kinds.count("INSERT") == 2 and "UPDATE" in kinds and kinds[-1] == "SELECT"
    assert at == len(kinds)
    assert result.view.items[-1].state == State.PENDING


def test_a_changed_model_row_is_used_by_the_next_answer(
    volunteer: User, fake_model: Model, runner: LocalRunner
) -> None:
    chat = conversation.create_chat(volunteer)
    first = turn(chat, volunteer, text="hello")
    register_model("fake", "fake:reply=swapped", backend=Backend.FAKE, make_default=True)
    finish(first.view.items[-1].id)
    turn(chat, volunteer, text="again", parent_id=first.view.items[-1].id)
    worker = runner.workers["fake"]
    assert worker.wanted.path == "fake:reply=swapped"
    assert worker.wanted.version == Model.objects.get(name="fake").spec.version


def test_an_answer_the_runner_refuses_is_stored_as_failed_and_the_turn_says_why(
    volunteer: User, fake_model: Model
) -> None:
    strict = LocalRunner(user_limit=1, queue_size=8)
    previous = set_runner(strict)
    try:
        chat = conversation.create_chat(volunteer)
        result = turn(chat, volunteer, text="two drafts", drafts=2)
    finally:
        strict.shutdown()
        set_runner(previous)
    assert len(result.started) == 1
    assert result.refused is not None and "answers being written" in str(result.refused)
    refused = ChatMessage.objects.filter(chat=chat, state=State.ABORTED).get()
    assert "answers being written" in refused.error
    # The thread shows the first draft, the one being written.
    assert result.view.items[-1].id == result.started[0].message_id != refused.id


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
async def test_a_turns_answers_run_to_the_end_without_the_caller(
    volunteer: User, fake_model: Model
) -> None:
    """The generations are tracked by the turn itself, so a socket that goes away
    in the middle of the hop leaves no answer pending forever."""
    chat = await database_sync_to_async(conversation.create_chat)(volunteer)
    turn = await database_sync_to_async(conversation.write_turn)(
        chat.id, volunteer, conversation.send_prompt, {"text": "hello"}
    )
    # As the socket does whether or not its thread could be sent.
    started, _refused = conversation.start_answers(turn.requests, user_key="u")
    conversation.track_answers(started)
    for _ in range(500):
        answer = await database_sync_to_async(
            lambda: ChatMessage.objects.filter(chat=chat, role="assistant").get()
        )()
        if answer.state == State.COMPLETE:
            break
        await asyncio.sleep(0.01)
    assert (answer.state, answer.text) == (State.COMPLETE, "Echo: hello")


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
async def test_the_turns_thread_holds_none_of_the_answers_tokens(
    volunteer: User, fake_model: Model
) -> None:
    """Its tokens reach the page once, after the thread: none are in the thread itself."""
    chat = await database_sync_to_async(conversation.create_chat)(volunteer)
    result = await database_sync_to_async(take_turn)(
        chat.id, volunteer, conversation.send_prompt, {"text": "hi"}
    )
    conversation.track_answers(result.started)
    answer = result.view.items[-1]
    assert (answer.text, answer.is_live) == ("", False)
    await asyncio.sleep(0.5)  # the answer runs to its end meanwhile
    assert conversation.live_answers(chat.id) == []


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
async def test_started_answers_run_nothing_of_their_own_until_they_are_tracked(
    volunteer: User, fake_model: Model
) -> None:
    """The socket's steps: the write and the thread in one hop, the answers to the
    runner, and only tracking reads the runner's events into the database."""
    chat = await database_sync_to_async(conversation.create_chat)(volunteer)
    turn = await database_sync_to_async(conversation.write_turn)(
        chat.id, volunteer, conversation.send_prompt, {"text": "hi"}
    )
    view = await database_sync_to_async(conversation.turn_view)(turn, user=volunteer)
    started, refused = conversation.start_answers(turn.requests, user_key="u")
    [answer] = started
    assert refused == {} and (view.items[-1].id, view.items[-1].text) == (answer.message_id, "")
    await asyncio.sleep(0.3)  # the runner writes the whole answer meanwhile
    assert conversation.live_answers(chat.id) == []
    stored = await database_sync_to_async(ChatMessage.objects.get)(pk=answer.message_id)
    assert stored.state == State.PENDING
    conversation.track_answers(started)
    for _ in range(300):
        stored = await database_sync_to_async(ChatMessage.objects.get)(pk=answer.message_id)
        if stored.state == State.COMPLETE:
            break
        await asyncio.sleep(0.01)
    assert (stored.state, stored.text) == (State.COMPLETE, "Echo: hi")


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
async def test_chats_sending_at_once_each_get_their_thread_then_their_answer(
    volunteer: User, fake_model: Model
) -> None:
    from tests.chat.test_consumer import finished, open_socket, send

    chats = [await database_sync_to_async(conversation.create_chat)(volunteer) for _ in range(3)]
    sockets = [await open_socket(chat, volunteer) for chat in chats]
    await asyncio.gather(*(send(s, action="send", text=f"n{i}") for i, s in enumerate(sockets)))
    for i, socket_ in enumerate(sockets):
        frames = await receive_until(socket_, finished)
        assert 'id="thread"' in frames[0] and f"Echo: n{i}" in frames[-1]
        await socket_.disconnect()
