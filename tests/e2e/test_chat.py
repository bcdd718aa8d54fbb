"""The chat in a real browser: a streamed answer over the websocket, regenerate, stop."""

from __future__ import annotations

from typing import Any

import pytest

from oasst.chat.models import Chat, ChatMessage, State
from oasst.inference.models import Backend
from oasst.inference.registry import register_model
from tests.chat.conftest import runner  # noqa: F401 - the fake-model runner fixture
from tests.conftest import make_user
from tests.e2e.conftest import shot, sign_in

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
    pytest.mark.usefixtures("runner"),
]


def open_new_chat(page: Any, server: str) -> Chat:
    page.goto(f"{server}/chat/")
    page.click("form[action$='/chat/new/'] button[type=submit]")
    page.wait_for_selector("#composer-text")
    return Chat.objects.get()


@pytest.mark.parametrize(
    "page", [{"width": 1280, "height": 900}, {"width": 360, "height": 740}], indirect=True
)
def test_an_answer_streams_in_and_can_be_regenerated(page: Any, asgi_server: str) -> None:
    register_model("fake", "fake:delay=0.01", backend=Backend.FAKE, make_default=True)
    sign_in(page, asgi_server, make_user("chatter"))
    chat = open_new_chat(page, asgi_server)
    page.fill("#composer-text", "Hello <b>model</b>")
    page.keyboard.press("Control+Enter")
    answer = page.locator("article.msg-assistant[data-state=complete]")
    answer.wait_for()
    assert "Echo: Hello <b>model</b>" in answer.inner_text()
    assert page.locator("article.msg-assistant b").count() == 0  # escaped, never markup
    # The title comes from the first prompt and shows without a reload.
    page.wait_for_selector("#chat-title:has-text('Hello <b>model</b>')")
    shot(page, f"chat_answer_{page.viewport_size['width']}")
    # The composer was cleared, and the answer is stored with its timings.
    assert page.input_value("#composer-text") == ""
    stored = ChatMessage.objects.get(chat=chat, role="assistant")
    assert stored.state == State.COMPLETE and stored.first_token_at is not None

    page.click("article.msg-assistant button:has-text('Regenerate')")
    page.wait_for_selector("article.msg-assistant .pager-count:has-text('2/2')")
    page.locator("article.msg-assistant[data-state=complete]").wait_for()
    assert ChatMessage.objects.filter(chat=chat, role="assistant").count() == 2
    page.click("article.msg-assistant button[aria-label='Previous version']")
    page.wait_for_selector("article.msg-assistant .pager-count:has-text('1/2')")


def test_stop_ends_a_long_answer(page: Any, asgi_server: str) -> None:
    register_model(
        "slow", "fake:delay=0.05&reply=word &repeat=400", backend=Backend.FAKE, make_default=True
    )
    sign_in(page, asgi_server, make_user("stopper"))
    chat = open_new_chat(page, asgi_server)
    page.fill("#composer-text", "Write a lot")
    page.click("#send-button")
    page.wait_for_selector("article.msg-assistant .msg-text.streaming:has-text('word word')")
    page.click("article.msg-assistant .stop-button")
    page.locator("article.msg-assistant[data-state=cancelled]").wait_for()
    answer = ChatMessage.objects.get(chat=chat, role="assistant")
    assert answer.state == State.CANCELLED
    assert 0 < answer.text.count("word") < 400
