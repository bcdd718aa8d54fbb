"""The runner with the fake backend: queueing, batching, cancellation, limits, timeouts."""

from __future__ import annotations

import sys
import threading
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from oasst.inference.backends import BackendUnavailable, load_backend
from oasst.inference.runner import (
    Busy,
    Event,
    Handle,
    LimitExceeded,
    LocalRunner,
    RunnerRefused,
    stop_token_ids,
)
from oasst.inference.specs import ModelSpec, SamplingParams
from tests.inference.conftest import ask, collect, fake, text_of

GREEDY = SamplingParams(temperature=0, max_new_tokens=200)


def test_runner_streams_the_answer_then_reports_done(runner: LocalRunner) -> None:
    events = collect(runner.submit(fake(), ask("hi there"), GREEDY, user_key="u1"))
    kinds = [e.kind for e in events]
    assert kinds[0] == "queued" and "started" in kinds and kinds[-1] == "done"
    assert text_of(events) == "Echo: hi there"
    done = events[-1]
    assert done.reason == "stop"
    assert done.text == "Echo: hi there"
    assert done.completion_tokens == len("Echo: hi there")
    assert done.first_token_s is not None and done.seed is not None


def test_requests_arriving_during_a_batch_join_it_at_the_next_step(runner: LocalRunner) -> None:
    spec = fake("delay=0.01&reply=abcdefghijklmnopqrstuvwxyz")
    first = runner.submit(spec, ask("a"), GREEDY, user_key="u1")
    next(e for e in first.iter_events(timeout=10) if e.kind == "token")
    later = [runner.submit(spec, ask("b"), GREEDY, user_key=f"u{i}") for i in range(2, 5)]
    results = [collect(h) for h in later] + [collect(first)]
    assert all(r[-1].reason == "stop" for r in results)
    assert all(r[-1].text == "abcdefghijklmnopqrstuvwxyz" for r in results)
    backend = runner.backend_for("fake")
    # The first request ran alone, then the batch was rebuilt with the newcomers.
    assert backend.batch_sizes[0] == 1
    assert max(backend.batch_sizes) >= 3
    # Batched decoding took far fewer steps than four requests one after another.
    assert backend.steps < 4 * 26


def test_cancel_stops_decoding_within_two_tokens(runner: LocalRunner) -> None:
    spec = fake("delay=0.02&reply=x&repeat=500")
    handle = runner.submit(spec, ask("a"), GREEDY, user_key="u1")
    tokens = 0
    for event in handle.iter_events(timeout=10):
        if event.kind == "token":
            tokens += 1
            if tokens == 3:
                handle.cancel()
                steps_at_cancel = runner.backend_for("fake").steps
        if event.kind == "done":
            done = event
    assert done.reason == "cancelled"
    assert runner.backend_for("fake").steps - steps_at_cancel <= 2
    assert done.completion_tokens <= 5


def test_waiting_requests_hear_their_position_and_can_be_cancelled(runner: LocalRunner) -> None:
    spec = fake("delay=0.02&batch=1&reply=y&repeat=200")
    first = runner.submit(spec, ask("a"), GREEDY, user_key="u1")
    next(e for e in first.iter_events(timeout=10) if e.kind == "token")
    second = runner.submit(spec, ask("b"), GREEDY, user_key="u2")
    third = runner.submit(spec, ask("c"), GREEDY, user_key="u3")
    assert [e.position for e in third.drain() if e.kind == "queued"] == [2]
    second.cancel()
    events = collect(second, timeout=5)
    assert events[-1].kind == "done" and events[-1].reason == "cancelled"
    # The third moved up when the second left the queue.
    assert 1 in [e.position for e in collect_until_started(third)]
    first.cancel()
    third.cancel()


def collect_until_started(handle):  # noqa: ANN001, ANN201 - test helper
    events = []
    for event in handle.iter_events(timeout=10):
        events.append(event)
        if event.kind in {"started", "done"}:
            break
    return events


def test_a_full_queue_refuses_with_a_busy_message() -> None:
    runner = LocalRunner(queue_size=1, user_limit=10)
    try:
        spec = fake("delay=0.05&batch=1&reply=z&repeat=100")
        first = runner.submit(spec, ask("a"), GREEDY, user_key="u1")
        next(e for e in first.iter_events(timeout=10) if e.kind == "token")
        runner.submit(spec, ask("b"), GREEDY, user_key="u2")
        with pytest.raises(Busy, match="busy: 1 requests are waiting"):
            runner.submit(spec, ask("c"), GREEDY, user_key="u3")
    finally:
        runner.shutdown()


def test_a_person_has_at_most_user_limit_generations_at_once(runner: LocalRunner) -> None:
    spec = fake("delay=0.05&reply=w&repeat=100")
    handles = [runner.submit(spec, ask("a"), GREEDY, user_key="same") for _ in range(3)]
    with pytest.raises(LimitExceeded, match="3 answers being written"):
        runner.submit(spec, ask("a"), GREEDY, user_key="same")
    # Someone else is not affected, and a finished generation frees a slot.
    other = runner.submit(spec, ask("a"), GREEDY, user_key="other")
    handles[0].cancel()
    collect(handles[0])
    again = runner.submit(spec, ask("a"), GREEDY, user_key="same")
    for handle in [*handles[1:], other, again]:
        handle.cancel()


def test_a_generation_past_the_time_limit_ends_as_timeout() -> None:
    runner = LocalRunner(time_limit=0.2)
    try:
        spec = fake("delay=0.02&reply=v&repeat=1000")
        done = collect(runner.submit(spec, ask("a"), GREEDY, user_key="u"))[-1]
        assert done.reason == "timeout"
        assert 0 < done.completion_tokens < 1000
    finally:
        runner.shutdown()


def test_a_request_waiting_past_the_queue_timeout_ends_as_timeout() -> None:
    runner = LocalRunner(queue_timeout=0.3)
    try:
        spec = fake("delay=0.02&batch=1&reply=v&repeat=200")
        first = runner.submit(spec, ask("a"), GREEDY, user_key="u1")
        second = runner.submit(spec, ask("b"), GREEDY, user_key="u2")
        done = collect(second)[-1]
        assert done.reason == "timeout" and "queue" in done.error
        first.cancel()
    finally:
        runner.shutdown()


def test_stop_sequences_end_the_answer_before_them(runner: LocalRunner) -> None:
    params = SamplingParams(temperature=0, stop=("STOP",))
    events = collect(runner.submit(fake("reply=Hello STOP world"), ask("a"), params, user_key="u"))
    assert text_of(events) == "Hello "
    assert events[-1].reason == "stop"


def test_max_new_tokens_ends_the_answer_as_length(runner: LocalRunner) -> None:
    params = SamplingParams(temperature=0, max_new_tokens=5)
    events = collect(runner.submit(fake("reply=abcdefghij"), ask("a"), params, user_key="u"))
    assert text_of(events) == "abcde"
    assert events[-1].reason == "length"


def test_min_new_tokens_holds_the_end_of_text_off_until_then(runner: LocalRunner) -> None:
    params = SamplingParams(temperature=0, min_new_tokens=10)
    events = collect(runner.submit(fake("reply=Hi"), ask("a"), params, user_key="u"))
    assert events[-1].reason == "stop"
    assert events[-1].completion_tokens == 10
    assert text_of(events).startswith("Hi")
    shorter = SamplingParams(temperature=0, min_new_tokens=10, max_new_tokens=4)
    events = collect(runner.submit(fake("reply=Hi"), ask("a"), shorter, user_key="u"))
    assert (events[-1].reason, events[-1].completion_tokens) == ("length", 4)


def test_rows_with_different_parameters_in_one_batch_each_keep_their_own(
    runner: LocalRunner,
) -> None:
    spec = fake("delay=0.01&reply=abcdefghijklmnopqrstuvwxyz")
    first = runner.submit(spec, ask("a"), GREEDY, user_key="u1")
    next(e for e in first.iter_events(timeout=10) if e.kind == "token")
    short = runner.submit(
        spec, ask("b"), SamplingParams(temperature=0, max_new_tokens=3), user_key="u2"
    )
    sampled = runner.submit(spec, ask("c"), SamplingParams(temperature=1.0, top_k=5), user_key="u3")
    assert text_of(collect(short)) == "abc"
    # The fake's logits make its reply far likelier than anything else at any temperature.
    assert text_of(collect(sampled)) == "abcdefghijklmnopqrstuvwxyz"
    assert collect(first)[-1].text == "abcdefghijklmnopqrstuvwxyz"
    assert max(runner.backend_for("fake").batch_sizes) >= 2


def test_cancelling_one_row_of_a_batch_leaves_the_other_rows_whole(runner: LocalRunner) -> None:
    spec = fake("delay=0.01&reply=abcdefghijklmnopqrstuvwxyz")
    sampled = SamplingParams(temperature=1.0, top_k=5)
    handles = [
        runner.submit(spec, ask(prompt), params, user_key=f"u{i}")
        for i, (prompt, params) in enumerate([("a", GREEDY), ("b", GREEDY), ("c", sampled)])
    ]
    next(e for e in handles[1].iter_events(timeout=10) if e.kind == "token")
    handles[1].cancel()
    first, cancelled, last = (collect(h) for h in handles)
    assert cancelled[-1].reason == "cancelled"
    assert cancelled[-1].completion_tokens < 26
    for events in (first, last):
        assert (events[-1].reason, events[-1].text) == ("stop", "abcdefghijklmnopqrstuvwxyz")
    assert max(runner.backend_for("fake").batch_sizes) >= 2


def test_a_changed_registry_row_is_used_without_a_restart(runner: LocalRunner) -> None:
    first = collect(runner.submit(fake("reply=old", version="1"), ask("a"), GREEDY, user_key="u"))
    second = collect(runner.submit(fake("reply=new", version="2"), ask("a"), GREEDY, user_key="u"))
    assert text_of(first) == "old"
    assert text_of(second) == "new"


def test_warm_up_loads_a_model_before_any_request(runner: LocalRunner) -> None:
    assert runner.load(fake(), wait=10) is True
    status = runner.status()
    assert status["ok"] is True
    assert status["models"]["fake"]["loaded"] is True


def test_a_model_that_cannot_load_fails_its_requests_with_a_clear_error(
    runner: LocalRunner,
) -> None:
    spec = fake("fail=broken weights", name="broken")
    done = collect(runner.submit(spec, ask("a"), GREEDY, user_key="u"))[-1]
    assert done.reason == "error"
    assert "broken could not be loaded" in done.error
    status = runner.status()
    assert status["ok"] is False
    assert "broken weights" in status["models"]["broken"]["error"]


def test_the_llama_cpp_backend_says_how_to_install_its_package(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "llama_cpp", None)  # as where the extra is missing
    gguf = tmp_path / "model.gguf"
    gguf.write_bytes(b"GGUF")
    spec = ModelSpec(name="l", backend="llama_cpp", path=str(gguf))
    with pytest.raises(BackendUnavailable, match="llama-cpp-python"):
        load_backend(spec)


def test_async_readers_receive_tokens_coalesced(runner: LocalRunner) -> None:
    import asyncio

    async def read() -> tuple[str, int]:
        handle = runner.submit(fake("delay=0.001&reply=abcdef"), ask("a"), GREEDY, user_key="u")
        text, frames = "", 0
        async for event in handle.stream():
            if event.kind == "token":
                text += event.text
                frames += 1
        return text, frames

    text, frames = asyncio.run(read())
    assert text == "abcdef"
    assert 1 <= frames <= 6


def test_a_reader_gathering_tokens_gets_them_together_and_the_end_at_once(
    runner: LocalRunner,
) -> None:
    import asyncio

    async def read() -> tuple[list[list[str]], float]:
        handle = runner.submit(fake("delay=0.002&reply=abcdef"), ask("a"), GREEDY, user_key="u")
        loop = asyncio.get_running_loop()
        batches = [[e.kind for e in await handle.next_events()]]
        started = loop.time()
        while batches[-1][-1] != "done":
            events = await handle.next_events(gather_until=loop.time() + 5)
            batches.append([e.kind for e in events])
        return batches, loop.time() - started

    batches, waited = asyncio.run(read())
    # Everything after the first batch comes in one, when "done" arrives, not after 5 s.
    assert batches[-1][-1] == "done" and batches[-1].count("token") >= 2
    assert len(batches) <= 3
    assert waited < 2


def test_tokens_that_a_gathering_reader_holds_wake_nobody_but_the_end_does() -> None:
    import asyncio

    async def read() -> tuple[list[Event], int, float]:
        handle = Handle(user_key="u", model="m")
        wakes = []
        wake = handle._wake_reader
        handle._wake_reader = lambda: (wakes.append(1), wake())  # type: ignore[method-assign]
        handle.put(Event("token", text="a"))
        loop = asyncio.get_running_loop()
        started = loop.time()
        reader = asyncio.ensure_future(handle.next_events(gather_until=started + 5))
        await asyncio.sleep(0.05)  # the reader holds "a" and waits for its timer
        for text in "bcd":
            await asyncio.to_thread(handle.put, Event("token", text=text))
        await asyncio.sleep(0.05)
        woken_by_tokens = len(wakes)
        await asyncio.to_thread(handle.put, Event("done"))
        events = await reader
        return events, woken_by_tokens, loop.time() - started

    events, woken_by_tokens, elapsed = asyncio.run(read())
    assert woken_by_tokens == 0
    assert [e.text for e in events if e.kind == "token"] == ["a", "b", "c", "d"]
    assert events[-1].kind == "done"
    assert elapsed < 2


def test_a_gathering_reader_with_nothing_yet_is_woken_by_its_timer_not_by_the_tokens() -> None:
    import asyncio

    async def read() -> tuple[list[list[str]], int, float]:
        handle = Handle(user_key="u", model="m")
        wakes = []
        wake = handle._wake_reader
        handle._wake_reader = lambda: (wakes.append(1), wake())  # type: ignore[method-assign]
        loop = asyncio.get_running_loop()
        started = loop.time()
        reader = asyncio.ensure_future(handle.next_events(gather_until=started + 0.3))
        await asyncio.sleep(0.05)  # nothing gathered yet: the reader waits for its timer
        for text in "ab":
            await asyncio.to_thread(handle.put, Event("token", text=text))
        first = [e.text for e in await reader]
        woken_by_tokens, held = len(wakes), loop.time() - started
        # Past its time with nothing gathered, the next token returns at once.
        later = asyncio.ensure_future(handle.next_events(gather_until=loop.time() + 0.05))
        await asyncio.sleep(0.2)
        await asyncio.to_thread(handle.put, Event("token", text="c"))
        second = [e.text for e in await asyncio.wait_for(later, 2)]
        return [first, second], woken_by_tokens, held

    batches, woken_by_tokens, held = asyncio.run(read())
    assert batches == [["a", "b"], ["c"]]
    assert woken_by_tokens == 0
    assert held >= 0.29


def test_cancel_from_another_thread_is_safe(runner: LocalRunner) -> None:
    spec = fake("delay=0.01&reply=q&repeat=300")
    handle = runner.submit(spec, ask("a"), GREEDY, user_key="u")
    threading.Timer(0.1, handle.cancel).start()
    started = time.monotonic()
    assert collect(handle)[-1].reason == "cancelled"
    assert time.monotonic() - started < 2


def test_end_of_text_stops_answers_even_when_it_is_also_the_unknown_token() -> None:
    # The demo model's tokenizer uses end of text as its unknown token; a role
    # token it does not know comes back as that id too.
    vocabulary = {"<|endoftext|>": 0, "<|prompter|>": 1, "<|assistant|>": 2}
    tokenizer = SimpleNamespace(
        unk_token_id=0, convert_tokens_to_ids=lambda token: vocabulary.get(token, 0)
    )
    assert stop_token_ids(SimpleNamespace(tokenizer=tokenizer, eos_token_id=0)) == {0, 1, 2}
    tokenizer.unk_token_id = 9
    vocabulary.pop("<|assistant|>")
    tokenizer.convert_tokens_to_ids = lambda token: vocabulary.get(token, 9)
    assert stop_token_ids(SimpleNamespace(tokenizer=tokenizer, eos_token_id=0)) == {0, 1}


def test_status_says_how_long_the_model_thread_decoded_and_how_much_of_it_waited(
    runner: LocalRunner,
) -> None:
    # The fake model sleeps 10 ms a step: wall time on its thread, no CPU time.
    spec = fake("delay=0.01&reply=abcdefghij")
    events = collect(runner.submit(spec, ask("a"), GREEDY, user_key="u"))
    assert events[-1].completion_tokens == 10
    totals = runner.status()["models"]["fake"]["decoding"]
    # Ten tokens and the end of text, one step each; ten advances of 10 ms.
    assert (totals["batches"], totals["steps"], totals["sampled"]) == (1, 11, 11)
    assert totals["busy_s"] >= 0.1
    assert 0 < totals["cpu_s"] < totals["busy_s"]
    assert totals["waiting_share"] > 0.5
    collect(runner.submit(spec, ask("b"), GREEDY, user_key="u"))
    assert runner.status()["models"]["fake"]["decoding"]["steps"] == 22


def test_a_call_runs_on_the_model_thread_between_batches(runner: LocalRunner) -> None:
    spec = fake("delay=0.01&reply=abcdefghij")
    with pytest.raises(LookupError):
        runner.call("fake", lambda backend: None)
    handle = runner.submit(spec, ask("a"), GREEDY, user_key="u")
    next(e for e in handle.iter_events(timeout=10) if e.kind == "token")

    def look(backend: object) -> tuple[str, object, list[Event]]:
        return threading.current_thread().name, backend, collect(handle, timeout=0)

    # Queued while the answer decodes, it runs after the answer has ended.
    name, backend, rest = runner.call("fake", look).result(timeout=10)
    assert name == "model-fake"
    assert backend is runner.backend_for("fake")
    assert rest[-1].kind == "done" and rest[-1].completion_tokens == 10
    failing = runner.call("fake", lambda backend: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        failing.result(timeout=10)
    # The thread goes on serving requests after a call that failed.
    assert text_of(collect(runner.submit(spec, ask("b"), GREEDY, user_key="u"))) == "abcdefghij"


def test_a_call_to_a_model_that_cannot_load_fails_with_the_reason(runner: LocalRunner) -> None:
    spec = fake("fail=broken weights", name="broken")
    runner.load(spec, wait=10)
    with pytest.raises(RunnerRefused, match="broken could not be loaded"):
        runner.call("broken", lambda backend: backend).result(timeout=10)
