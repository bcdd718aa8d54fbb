"""The runner across processes: `manage.py runworker inference` on the Redis channel layer."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings

from oasst.inference.remote import RemoteRunner
from oasst.inference.specs import SamplingParams
from tests.inference.conftest import ask, collect, fake, text_of

pytestmark = pytest.mark.services

ROOT = Path(__file__).resolve().parents[2]
GREEDY = SamplingParams(temperature=0)


@pytest.fixture
def inference_worker() -> Iterator[subprocess.Popen]:
    if settings.CHANNEL_LAYERS["default"]["BACKEND"] == "channels.layers.InMemoryChannelLayer":
        pytest.skip(
            "needs the Redis channel layer (REDIS_URL, the PostgreSQL + Redis CI leg): "
            "the in-memory layer cannot reach another process"
        )
    env = {
        **os.environ,
        "OASST_RUNNER": "local",
        "OASST_RUNNER_WARMUP": "false",
        "PYTHONPATH": str(ROOT),
    }
    worker = subprocess.Popen(
        [sys.executable, "manage.py", "runworker", "inference"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    # Wait for the worker to listen (imports take long on a busy machine), then keep
    # draining its output so a full pipe never blocks it.
    started: list[str] = []
    listening = threading.Event()

    def read_output() -> None:
        for line in worker.stdout:
            started.append(line.decode(errors="replace"))
            if "Running worker for channels" in started[-1]:
                listening.set()

    threading.Thread(target=read_output, daemon=True).start()
    deadline = time.monotonic() + 120
    while not listening.wait(0.2):
        assert worker.poll() is None, "".join(started)
        assert time.monotonic() < deadline, "the worker did not start:\n" + "".join(started)
    yield worker
    worker.terminate()
    worker.wait(timeout=10)


def test_a_web_node_gets_answers_from_an_inference_worker(
    inference_worker: subprocess.Popen,
) -> None:
    runner = RemoteRunner()
    try:
        events = collect(runner.submit(fake(), ask("from afar"), GREEDY, user_key="u1"), timeout=30)
        assert text_of(events) == "Echo: from afar"
        assert events[-1].reason == "stop"
        # Stop reaches the worker that holds the request.
        handle = runner.submit(
            fake("delay=0.02&reply=z&repeat=2000"), ask("x"), GREEDY, user_key="u2"
        )
        for event in handle.iter_events(timeout=30):
            if event.kind == "token":
                handle.cancel()
            if event.kind == "done":
                assert event.reason == "cancelled"
                assert event.completion_tokens < 2000
                break
    finally:
        runner.shutdown()
