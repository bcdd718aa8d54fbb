from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.test import Client

from oasst.accounts.models import User
from oasst.chat import conversation
from oasst.inference.models import Backend, Model
from oasst.inference.registry import register_model
from oasst.inference.runner import LocalRunner, set_runner


@pytest.fixture
def runner() -> Iterator[LocalRunner]:
    runner = LocalRunner(queue_size=8, user_limit=4, time_limit=30, queue_timeout=30)
    previous = set_runner(runner)
    yield runner
    runner.shutdown()
    set_runner(previous)


@pytest.fixture
def fake_model(db: None, runner: LocalRunner) -> Model:
    return register_model("fake", "fake:delay=0.002", backend=Backend.FAKE, make_default=True)


@pytest.fixture
def slow_model(db: None, runner: LocalRunner) -> Model:
    """Writes a long answer slowly, to stop it or reconnect in the middle."""
    return register_model(
        "slow", "fake:delay=0.03&reply=word &repeat=300", backend=Backend.FAKE, make_default=True
    )


def session_cookie(user: User) -> bytes:
    client = Client()
    client.force_login(user)
    return f"sessionid={client.cookies['sessionid'].value}".encode()


async def connect(
    chat_id: int, user: User | None, *, origin: bytes = b"http://testserver"
) -> tuple[WebsocketCommunicator, bool, int | None]:
    """A socket to the chat through the real ASGI stack (origin check, session auth)."""
    headers = [(b"origin", origin), (b"host", b"testserver")]
    if user is not None:
        headers.append((b"cookie", await database_sync_to_async(session_cookie)(user)))
    from oasst.asgi import application

    comm = WebsocketCommunicator(application, f"/ws/chat/{chat_id}/", headers=headers)
    connected, code = await comm.connect(timeout=10)
    return comm, connected, code


async def receive_until(
    comm: WebsocketCommunicator, done: Callable[[str], bool], *, timeout: float = 15
) -> list[str]:
    """Frames up to and including the first one for which ``done`` is true."""
    frames: list[str] = []
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        remaining = deadline - loop.time()
        if remaining <= 0:
            raise AssertionError(f"no matching frame in {timeout}s; got {frames[-3:]}")
        frame = await comm.receive_from(timeout=remaining)
        frames.append(frame)
        if done(frame):
            return frames


@pytest.fixture(autouse=True)
def _roles(request: pytest.FixtureRequest) -> None:
    """Transactional tests flush the groups that a data migration made; put them back."""
    if request.node.get_closest_marker("django_db") is None:
        return
    request.getfixturevalue("db")
    from django.contrib.auth.models import Group

    from oasst.accounts.roles import ROLES

    for role in ROLES:
        Group.objects.get_or_create(name=role)


@dataclass
class TakenTurn:
    view: conversation.ChatView
    started: list[conversation.StartedAnswer]
    refused: conversation.ChatError | None


def take_turn(chat_id: int, user: User, write: Any, kwargs: dict[str, Any]) -> TakenTurn:
    """Sync: what the socket does for one action, in one call: the write and the thread
    (one hop), the answers handed to the runner, and the ones it refused stored (with
    the thread after them); the answers' generations are not tracked."""
    turn = conversation.write_turn(chat_id, user, write, kwargs)
    view = conversation.turn_view(turn, user=user)
    started, refused = conversation.start_answers(turn.requests, user_key=f"user:{user.pk}")
    if refused:
        view = conversation.store_refusals(turn, refused, user=user)
    return TakenTurn(view, started, turn.error(refused))
