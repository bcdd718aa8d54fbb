from __future__ import annotations

from collections.abc import Iterator

import pytest

from oasst.inference.prompts import Conversation
from oasst.inference.runner import Event, Handle, LocalRunner
from oasst.inference.specs import ModelSpec


@pytest.fixture
def runner() -> Iterator[LocalRunner]:
    runner = LocalRunner(queue_size=4, user_limit=3, time_limit=30, queue_timeout=30)
    yield runner
    runner.shutdown()


def fake(options: str = "", name: str = "fake", version: str = "") -> ModelSpec:
    return ModelSpec(name=name, backend="fake", path=f"fake:{options}", version=version)


def ask(text: str) -> Conversation:
    return Conversation(turns=(("prompter", text),))


def collect(handle: Handle, timeout: float = 20) -> list[Event]:
    return list(handle.iter_events(timeout=timeout))


def text_of(events: list[Event]) -> str:
    return "".join(e.text for e in events if e.kind == "token")
