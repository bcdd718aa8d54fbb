"""An answer's end: its result stored in one write, and what the page is sent."""

from __future__ import annotations

from typing import Any

from oasst.accounts.models import User
from oasst.chat import conversation
from oasst.chat.models import Chat, ChatMessage, State
from oasst.inference.models import Model
from oasst.inference.runner import Event
from tests.chat.conftest import take_turn


def started_answer(
    chat: Chat, user: User, write: Any = None, **kwargs: Any
) -> conversation.Generation:
    """A turn's first answer as its generation, the runner's own answer cancelled."""
    result = take_turn(chat.id, user, write or conversation.send_prompt, kwargs)
    answer = result.started[0]
    answer.handle.cancel()
    return conversation.Generation(
        message_id=answer.message_id, chat_id=chat.id, handle=answer.handle, answer=answer.answer
    )


def done(text: str, *, tokens: int = 3, reason: str = "stop") -> Event:
    return Event(
        "done",
        reason=reason,
        text=text,
        prompt_tokens=12,
        completion_tokens=tokens,
        seed=42,
        first_token_s=0.01,
        generation_s=0.05,
    )


def test_the_result_is_stored_and_the_answer_alone_is_sent_in_constant_queries(
    volunteer: User,
    fake_model: Model,
    django_assert_max_num_queries: Any,
) -> None:
    chat = conversation.create_chat(volunteer)
    parent = None
    for turn in range(6):
        generation = started_answer(chat, volunteer, text=f"q{turn}", parent_id=parent)
        conversation._store_result(generation, done(f"a{turn}"))
        parent = generation.message_id
    generation = started_answer(chat, volunteer, text="last", parent_id=parent)
    # The answer's row, the chat's time (in one transaction), the answer and its siblings.
    with django_assert_max_num_queries(5):
        update = conversation._store_result(generation, done("**the** end"))
    assert update is not None and update.view is None and update.item is not None
    item = update.item
    assert (item.id, item.state, item.html) == (
        generation.message_id,
        State.COMPLETE,
        "<p><strong>the</strong> end</p>\n",
    )
    assert item.completion_tokens == 3 and item.ttft_ms is not None and item.tokens_per_second
    stored = ChatMessage.objects.get(pk=generation.message_id)
    assert (stored.text, stored.finish_reason, stored.prompt_tokens) == ("**the** end", "stop", 12)
    assert stored.params["seed"] == 42 and stored.params["temperature"] is not None
    assert stored.started_at is not None and stored.first_token_at > stored.started_at


def test_a_continued_answer_keeps_its_text_tokens_and_vote(
    volunteer: User, fake_model: Model
) -> None:
    chat = conversation.create_chat(volunteer)
    first = started_answer(chat, volunteer, text="go on")
    conversation._store_result(first, done("Once upon", reason="length"))
    answer = ChatMessage.objects.get(pk=first.message_id)
    conversation.vote(answer, user=volunteer, score=1, reasons=[])
    conversation.write_better_answer(answer, user=volunteer, text="Mine")
    again = started_answer(chat, volunteer, conversation.continue_answer, message_id=answer.id)
    update = conversation._store_result(again, done(" a time", tokens=2))
    assert update is not None and update.item is not None
    assert (update.item.text, update.item.vote, update.item.better_answers) == (
        "Once upon a time",
        1,
        ["Mine"],
    )
    answer.refresh_from_db()
    assert (answer.text, answer.completion_tokens, answer.state) == (
        "Once upon a time",
        5,
        State.COMPLETE,
    )


def test_an_answer_off_the_shown_branch_brings_the_thread(
    volunteer: User, fake_model: Model
) -> None:
    chat = conversation.create_chat(volunteer)
    first = started_answer(chat, volunteer, text="one")
    conversation._store_result(first, done("first"))
    second = started_answer(chat, volunteer, conversation.regenerate, message_id=first.message_id)
    conversation.show_message(chat, message_id=first.message_id)  # the pager, back to 1/2
    update = conversation._store_result(second, done("second"))
    assert update is not None and update.item is None and update.view is not None
    assert update.view.items[-1].id == first.message_id


def test_an_answer_whose_chat_was_deleted_is_not_announced(
    volunteer: User, fake_model: Model
) -> None:
    chat = conversation.create_chat(volunteer)
    generation = started_answer(chat, volunteer, text="bye")
    Chat.objects.filter(pk=chat.id).delete()
    assert conversation._store_result(generation, done("gone")) is None
