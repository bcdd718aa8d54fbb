"""The model runner: loaded models, their queues and the only threads.

One thread per loaded model decodes for every request of that model. A
request waits in the model's queue (bounded: past ``queue_size`` it is refused
as busy, and while it waits it hears its position), then decodes in a batch
with the other requests of that model: on the transformers backend, requests
that arrive while a batch runs join it at the next step. Each step checks
every row for cancellation and its time limit, so a stopped answer costs at
most one more token. Callers get a ``Handle`` to read events from and to
cancel with; the runner never touches the database (see conversation.py).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import dataclasses
import logging
import queue
import secrets
import threading
import time
import uuid
from collections import Counter, defaultdict, deque
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from typing import Any

import torch
from django.conf import settings

from oasst.inference.backends import Backend, load_backend
from oasst.inference.decoding import TextStream
from oasst.inference.prompts import Conversation, build_prompt
from oasst.inference.sampling import pick_tokens
from oasst.inference.specs import ModelSpec, SamplingParams

log = logging.getLogger(__name__)

ROLE_TOKENS = ("<|prompter|>", "<|assistant|>", "<|system|>", "<|endoftext|>")
# Why a generation ended.
STOP, LENGTH, CANCELLED, TIMEOUT, ERROR = "stop", "length", "cancelled", "timeout", "error"


@dataclass
class Event:
    """What a handle hears: ``queued``, ``started``, ``token`` and finally ``done``."""

    kind: str
    text: str = ""
    position: int = 0
    reason: str = ""
    error: str = ""
    prompt_tokens: int = 0
    completion_tokens: int = 0
    seed: int | None = None
    queued_s: float = 0.0
    first_token_s: float | None = None
    generation_s: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Event:
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})


class RunnerRefused(Exception):
    """The request was not queued; the message says why, for the person."""


class Busy(RunnerRefused):
    pass


class LimitExceeded(RunnerRefused):
    pass


class Handle:
    """One request as its caller sees it: events to read, and ``cancel()``."""

    def __init__(self, *, user_key: str, model: str) -> None:
        self.id = uuid.uuid4().hex
        self.user_key = user_key
        self.model = model
        self.cancelled = threading.Event()
        self.finished = False
        self._events: queue.SimpleQueue[Event] = queue.SimpleQueue()
        self._wake: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        # A wake-up of the reader is already on its way (set by the model
        # thread, cleared on the loop): tokens that come meanwhile need no other.
        self._wake_pending = False
        # The reader holds tokens until its own timer (``gather_until``): a
        # token needs no wake-up then, only the other events do (set on the loop).
        self._gathering = False
        self._on_cancel: list[Any] = []

    def cancel(self) -> None:
        if not self.cancelled.is_set():
            self.cancelled.set()
            for callback in self._on_cancel:
                callback(self)

    def put(self, event: Event) -> None:
        """Called from the model thread.

        A wake-up writes to the loop's self-pipe, and the model thread then
        waits for the GIL while the loop runs: done for every token, that
        paces the model by the event loop. So a token that the reader would
        only hold until its timer anyway wakes nobody, and neither does
        "started" (nothing waits on it; it travels with the first token).
        """
        self._events.put(event)
        loop = self._loop
        if event.kind == "started" or (event.kind == "token" and self._gathering):
            return
        if loop is not None and not self._wake_pending:
            self._wake_pending = True
            # A closed loop means the reader has gone; nobody is listening.
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(self._wake_reader)

    def _wake_reader(self) -> None:
        """On the reader's loop: from now on a new event needs a new wake-up."""
        self._wake_pending = False
        assert self._wake is not None
        self._wake.set()

    def drain(self) -> list[Event]:
        events = []
        while True:
            try:
                events.append(self._events.get_nowait())
            except queue.Empty:
                return events

    async def next_events(self, *, gather_until: float | None = None) -> list[Event]:
        """Wait for at least one event; returns all that are ready (so tokens coalesce).

        With ``gather_until`` (a time of the running loop), tokens are gathered
        until then rather than returned one by one; any other event returns at once.
        The tokens of the whole wait wake nobody, the first one included: the
        timer does (one wake-up of the loop per frame, not two). A reader with
        nothing by then returns with the next token.
        """
        if self._loop is None:
            self._wake = asyncio.Event()
            self._loop = asyncio.get_running_loop()
        assert self._wake is not None
        events: list[Event] = []
        timer = None
        try:
            while True:
                events += self.drain()
                now = self._loop.time()
                gathering = gather_until is not None and now < gather_until
                if events and (not gathering or events[-1].kind != "token"):
                    return events
                if gathering and timer is None:
                    timer = self._loop.call_at(gather_until, self._wake.set)
                    self._gathering = True
                elif not gathering:
                    # Set before the drain below: a token put after it wakes this reader.
                    self._gathering = False
                self._wake.clear()
                more = self.drain()
                if more:
                    events += more
                    continue
                await self._wake.wait()
        finally:
            self._gathering = False
            if timer is not None:
                timer.cancel()

    async def stream(self) -> AsyncIterator[Event]:
        while True:
            for event in await self.next_events():
                yield event
                if event.kind == "done":
                    return

    def iter_events(self, *, timeout: float | None = None) -> Iterator[Event]:
        """Blocking iteration, for synchronous callers and tests."""
        while True:
            event = self._events.get(timeout=timeout)
            yield event
            if event.kind == "done":
                return


def stop_token_ids(backend: Backend) -> set[int]:
    """The ids that end an answer: end of text and the role tokens.

    A role token the tokenizer does not know comes back as its unknown-token
    id, which must not end answers; the end-of-text id always does, even where
    it doubles as the unknown token (as in the demo model's tokenizer).
    """
    unknown = getattr(backend.tokenizer, "unk_token_id", None)
    roles = (backend.tokenizer.convert_tokens_to_ids(t) for t in ROLE_TOKENS)
    ids = {i for i in roles if isinstance(i, int) and i >= 0 and i != unknown}
    eos = backend.eos_token_id
    if isinstance(eos, int) and eos >= 0:
        ids.add(eos)
    return ids


@dataclass
class _Waiting:
    handle: Handle
    conversation: Conversation
    params: SamplingParams
    submitted: float


@dataclass
class _Row:
    handle: Handle
    params: SamplingParams
    ids: list[int]
    prompt_tokens: int
    stream: TextStream
    generator: torch.Generator
    seed: int
    max_new: int
    queued_s: float
    started: float
    deadline: float
    generated: int = 0
    first_token: float | None = None


@dataclass
class _Group:
    """Rows of a batch that sample with the same parameters, by their index in the batch."""

    params: SamplingParams
    indexes: list[int]

    @classmethod
    def of(cls, rows: list[_Row], indexes: list[int] | None = None) -> list[_Group]:
        """The groups of ``rows``, or of those at ``indexes`` only."""
        by_params: dict[SamplingParams, list[int]] = defaultdict(list)
        for index in range(len(rows)) if indexes is None else indexes:
            by_params[rows[index].params].append(index)
        return [cls(params, members) for params, members in by_params.items()]


@dataclass
class DecodingTotals:
    """What a model's thread has spent decoding, since it started.

    ``busy_s`` is the wall time of its batches, from the first prefill to the
    last token, and ``cpu_s`` the CPU time the thread itself used meanwhile
    (``time.thread_time``): the difference is time it was ready to compute
    but waited, for the GIL (the event loop and the database thread share it)
    or for a core. With one torch thread, ``1 - cpu_s / busy_s`` is the share
    of decoding the rest of the process costs the model; with more, the other
    threads' work is not in ``cpu_s`` and the share overstates it.
    """

    batches: int = 0
    steps: int = 0
    # Tokens sampled, over every row of every step (the one that ends an answer included).
    sampled: int = 0
    busy_s: float = 0.0
    cpu_s: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            **dataclasses.asdict(self),
            "waiting_share": round(1 - self.cpu_s / self.busy_s, 4) if self.busy_s else None,
            "cpu_us_per_token": round(self.cpu_s / self.sampled * 1e6, 1) if self.sampled else None,
        }


class ModelWorker:
    """The thread that owns one model: loads it, queues and decodes its requests."""

    def __init__(self, runner: LocalRunner, spec: ModelSpec) -> None:
        self.runner = runner
        self.spec = spec
        self.wanted = spec
        self.backend: Backend | None = None
        self.load_error = ""
        self.loaded_at: float | None = None
        self.waiting: deque[_Waiting] = deque()
        # Work to do on this thread between batches (``LocalRunner.call``).
        self.calls: deque[tuple[Callable[[Backend], Any], concurrent.futures.Future]] = deque()
        self.active = 0
        self.totals = DecodingTotals()
        self.cond = threading.Condition()
        self.stopping = False
        self.thread = threading.Thread(target=self._run, name=f"model-{spec.name}", daemon=True)
        self.thread.start()

    # --- called from other threads -------------------------------------------
    def enqueue(self, item: _Waiting) -> int:
        """Queue a request; returns its position. Raises Busy when the queue is full."""
        with self.cond:
            if len(self.waiting) >= self.runner.queue_size:
                raise Busy(
                    f"The model {self.spec.name} is busy: {len(self.waiting)} requests are "
                    "waiting. Please try again in a moment."
                )
            self.waiting.append(item)
            position = len(self.waiting)
            self.cond.notify()
        return position

    def withdraw(self, handle: Handle) -> bool:
        """Take a cancelled request out of the queue; False when it is already decoding."""
        with self.cond:
            for item in self.waiting:
                if item.handle is handle:
                    self.waiting.remove(item)
                    break
            else:
                return False
        self._finish_waiting(item, CANCELLED)
        self._announce_positions()
        return True

    def call(self, function: Callable[[Backend], Any]) -> concurrent.futures.Future:
        """Run ``function(backend)`` on this thread between batches; its future has the result."""
        future: concurrent.futures.Future = concurrent.futures.Future()
        with self.cond:
            if self.stopping:
                future.set_exception(RunnerRefused("The runner is shutting down."))
            else:
                self.calls.append((function, future))
                self.cond.notify()
        return future

    def want(self, spec: ModelSpec) -> None:
        with self.cond:
            self.wanted = spec
            self.cond.notify()

    def stop(self) -> None:
        with self.cond:
            self.stopping = True
            self.cond.notify()

    def status(self) -> dict[str, Any]:
        return {
            "backend": self.spec.backend,
            "loaded": self.backend is not None,
            "error": self.load_error,
            "waiting": len(self.waiting),
            "active": self.active,
            "max_batch": self.backend.max_batch if self.backend else None,
            "decoding": self.totals.as_dict(),
        }

    # --- the model thread ------------------------------------------------------
    def _run(self) -> None:
        while True:
            with self.cond:
                while (
                    not self.stopping
                    and not self.waiting
                    and not self.calls
                    and self._loaded_as_wanted()
                ):
                    self.cond.wait(timeout=1.0)
                    self._expire_waiting_locked()
                if self.stopping:
                    self._fail_calls("The runner is shutting down.")
                    return
            if not self._loaded_as_wanted():
                self._load()
                continue
            self._run_calls()
            rows = self._admit_next(self.backend.max_batch if self.backend else 1)
            if rows:
                # Sampling outside inference mode pays for autograd's bookkeeping
                # on every tensor operation: a few percent of a small model's step.
                with torch.inference_mode():
                    self._decode(rows)

    def _run_calls(self) -> None:
        while self.calls:
            function, future = self.calls.popleft()
            if not future.set_running_or_notify_cancel():
                continue
            try:
                with torch.inference_mode():
                    result = function(self.backend)
            except Exception as exc:  # noqa: BLE001 - the caller gets it from the future
                future.set_exception(exc)
            else:
                future.set_result(result)

    def _fail_calls(self, error: str) -> None:
        while self.calls:
            _, future = self.calls.popleft()
            if future.set_running_or_notify_cancel():
                future.set_exception(RunnerRefused(error))

    def _loaded_as_wanted(self) -> bool:
        return self.backend is not None and self.wanted == self.spec

    def _load(self) -> None:
        spec = self.wanted
        self.backend = None
        try:
            started = time.monotonic()
            backend = load_backend(
                spec, max_batch=self.runner.max_batch, threads=self.runner.threads
            )
            log.info(
                "loaded model %s (%s) in %.1f s",
                spec.name,
                spec.backend,
                time.monotonic() - started,
            )
        except Exception as exc:  # noqa: BLE001 - any load failure is reported to the waiting requests
            self.load_error = f"{type(exc).__name__}: {exc}"
            log.warning("cannot load model %s: %s", spec.name, self.load_error)
            with self.cond:
                failed = list(self.waiting)
                self.waiting.clear()
                # Wait for a new request (or a changed row) before trying again.
                while not self.stopping and not self.waiting and self.wanted == spec:
                    for item in failed:
                        self._finish_waiting(
                            item, ERROR, error=f"The model {spec.name} could not be loaded."
                        )
                    failed = []
                    self._fail_calls(f"The model {spec.name} could not be loaded.")
                    self.cond.wait(timeout=1.0)
            return
        self.spec = spec
        self.backend = backend
        self.load_error = ""
        self.loaded_at = time.time()
        self.stop_ids = stop_token_ids(backend)

    def _expire_waiting_locked(self) -> None:
        limit = self.runner.queue_timeout
        now = time.monotonic()
        expired = [w for w in self.waiting if now - w.submitted > limit]
        for item in expired:
            self.waiting.remove(item)
            self._finish_waiting(item, TIMEOUT, error="Waited too long in the queue.")

    def _take(self, room: int) -> list[_Waiting]:
        with self.cond:
            self._expire_waiting_locked()
            taken: list[_Waiting] = []
            while self.waiting and len(taken) < room:
                item = self.waiting.popleft()
                if item.handle.cancelled.is_set():
                    self._finish_waiting(item, CANCELLED)
                    continue
                taken.append(item)
        if taken:
            self._announce_positions()
        return taken

    def _announce_positions(self) -> None:
        with self.cond:
            waiting = list(self.waiting)
        for position, item in enumerate(waiting, start=1):
            item.handle.put(Event("queued", position=position))

    def _admit_next(self, room: int) -> list[_Row]:
        rows = []
        for item in self._take(room):
            row = self._admit(item)
            if row is not None:
                rows.append(row)
        return rows

    def _admit(self, item: _Waiting) -> _Row | None:
        backend = self.backend
        assert backend is not None
        params = item.params
        try:
            reserve = min(params.max_new_tokens, backend.max_context // 2)
            prompt = build_prompt(
                backend.tokenizer,
                item.conversation,
                prompt_format=self.spec.prompt_format,
                budget=backend.max_context - reserve,
            )
        except Exception as exc:  # noqa: BLE001 - a broken template fails this request only
            self._finish_waiting(item, ERROR, error=f"Cannot build the prompt: {exc}")
            return None
        seed = params.seed if params.seed is not None else secrets.randbits(63)
        now = time.monotonic()
        stream = TextStream(
            lambda ids: backend.tokenizer.decode(ids, skip_special_tokens=True), params.stop
        )
        item.handle.put(Event("started", prompt_tokens=len(prompt.ids), seed=seed))
        return _Row(
            handle=item.handle,
            params=params,
            ids=list(prompt.ids),
            prompt_tokens=len(prompt.ids),
            stream=stream,
            generator=torch.Generator().manual_seed(seed),
            seed=seed,
            max_new=max(1, min(params.max_new_tokens, backend.max_context - len(prompt.ids))),
            queued_s=now - item.submitted,
            started=now,
            deadline=now + self.runner.time_limit,
        )

    def _decode(self, rows: list[_Row]) -> None:
        backend = self.backend
        assert backend is not None
        self.active = len(rows)
        totals = self.totals
        started, cpu_started = time.perf_counter(), time.thread_time()
        try:
            session = backend.start([r.ids for r in rows])
            groups = _Group.of(rows)
            while rows:
                reasons = self._step(rows, groups, session.logits())
                totals.steps += 1
                totals.sampled += len(rows)
                kept, survivors = rows, None
                if any(reasons):
                    survivors = [i for i, reason in enumerate(reasons) if not reason]
                    for row, reason in zip(rows, reasons, strict=True):
                        if reason:
                            self._finish(row, reason)
                    kept = [rows[i] for i in survivors]
                room = backend.max_batch - len(kept)
                # The queue is looked at without its lock first: a request put in
                # meanwhile joins at the next step.
                joining = (
                    self._admit_next(room)
                    if self.waiting and backend.max_batch > 1 and room > 0
                    else []
                )
                # A request that arrives joins at the next step. Where the session
                # can merge, the rows decoding go one step on and only the new
                # prompts are prefilled; otherwise the batch is rebuilt from every
                # row's ids (one prefill, no step of the old session wasted).
                can_join = bool(joining and kept) and hasattr(session, "join")
                if kept and (can_join or not joining):
                    if survivors is not None:
                        session.keep(survivors)
                    session.advance([row.ids[-1] for row in kept])
                if joining and not (can_join and session.join([r.ids for r in joining])):
                    session = backend.start([r.ids for r in kept + joining])
                if kept is not rows or joining:
                    rows = kept + joining
                    groups = _Group.of(rows)
                    self.active = len(rows)
        except Exception as exc:
            log.exception("decoding failed on model %s", self.spec.name)
            for row in rows:
                if not row.handle.finished:
                    self._finish(row, ERROR, error=f"The model failed: {type(exc).__name__}")
        finally:
            self.active = 0
            totals.batches += 1
            totals.busy_s += time.perf_counter() - started
            totals.cpu_s += time.thread_time() - cpu_started

    def _step(self, rows: list[_Row], groups: list[_Group], logits: torch.Tensor) -> list[str]:
        """Sample one token for every row; returns why each row ended, or "".

        A cancelled or late row ends before sampling. Rows with the same
        parameters are sampled together (one set of tensor operations per
        step, not one per row).
        """
        now = time.monotonic()
        reasons = [
            CANCELLED if row.handle.cancelled.is_set() else TIMEOUT if now > row.deadline else ""
            for row in rows
        ]
        if any(reasons):
            groups = _Group.of(rows, [i for i, reason in enumerate(reasons) if not reason])
        for group in groups:
            params, indexes = group.params, group.indexes
            tokens = pick_tokens(
                # Every row alike (a lone answer, most batches): no copy of the logits.
                logits if len(indexes) == len(rows) else logits[indexes],
                params,
                generators=[rows[i].generator for i in indexes],
                histories=[rows[i].ids for i in indexes],
                banned=[
                    self.stop_ids if rows[i].generated < params.min_new_tokens else ()
                    for i in indexes
                ]
                if params.min_new_tokens
                else (),
            )
            for index, token in zip(indexes, tokens, strict=True):
                reasons[index] = self._accept(rows[index], token)
        return reasons

    def _accept(self, row: _Row, token: int) -> str:
        """Add a sampled token to ``row`` and pass on its text; returns why it ended, or ""."""
        if row.first_token is None:
            row.first_token = time.monotonic()
        if token in self.stop_ids:
            return STOP
        row.ids.append(token)
        row.generated += 1
        text = row.stream.push(token)
        if text:
            row.handle.put(Event("token", text=text))
        if row.stream.stopped:
            return STOP
        if row.generated >= row.max_new or len(row.ids) >= self.backend.max_context:
            return LENGTH
        return ""

    def _finish(self, row: _Row, reason: str, *, error: str = "") -> None:
        if reason in {STOP, LENGTH}:
            rest = row.stream.finish()
            if rest:
                row.handle.put(Event("token", text=rest))
        if reason == TIMEOUT and not error:
            error = "The answer took longer than the time limit."
        now = time.monotonic()
        row.handle.finished = True
        row.handle.put(
            Event(
                "done",
                reason=reason,
                error=error,
                text=row.stream.text,
                prompt_tokens=row.prompt_tokens,
                completion_tokens=row.generated,
                seed=row.seed,
                queued_s=row.queued_s,
                first_token_s=(row.first_token - row.started) if row.first_token else None,
                generation_s=now - row.started,
            )
        )
        self.runner.release(row.handle)

    def _finish_waiting(self, item: _Waiting, reason: str, *, error: str = "") -> None:
        item.handle.finished = True
        item.handle.put(
            Event(
                "done",
                reason=reason,
                error=error,
                queued_s=time.monotonic() - item.submitted,
                seed=item.params.seed,
            )
        )
        self.runner.release(item.handle)


class LocalRunner:
    """Runs models in this process; one per process (``get_runner()``)."""

    mode = "local"

    def __init__(
        self,
        *,
        queue_size: int = 32,
        user_limit: int = 4,
        max_batch: int = 8,
        time_limit: float = 300.0,
        queue_timeout: float = 120.0,
        threads: int = 0,
    ) -> None:
        self.queue_size = queue_size
        self.user_limit = user_limit
        self.max_batch = max_batch
        self.time_limit = time_limit
        self.queue_timeout = queue_timeout
        self.threads = threads
        self.workers: dict[str, ModelWorker] = {}
        self.live: Counter[str] = Counter()
        self.lock = threading.Lock()

    def submit(
        self,
        spec: ModelSpec,
        conversation: Conversation,
        params: SamplingParams,
        *,
        user_key: str,
    ) -> Handle:
        """Queue a generation; raises LimitExceeded or Busy instead of queueing."""
        handle = Handle(user_key=user_key, model=spec.name)
        with self.lock:
            if user_key and self.live[user_key] >= self.user_limit:
                raise LimitExceeded(
                    f"You already have {self.live[user_key]} answers being written; "
                    "wait for one to finish or stop it."
                )
            worker = self._worker_for(spec)
            position = worker.enqueue(_Waiting(handle, conversation, params, time.monotonic()))
            self.live[user_key] += 1
        handle._on_cancel.append(lambda h: worker.withdraw(h))
        handle.put(Event("queued", position=position))
        return handle

    def release(self, handle: Handle) -> None:
        with self.lock:
            self.live[handle.user_key] -= 1
            if self.live[handle.user_key] <= 0:
                del self.live[handle.user_key]

    def load(self, spec: ModelSpec, *, wait: float | None = None) -> bool:
        """Start loading a model (warm-up or hot-swap); with ``wait``, block until loaded."""
        with self.lock:
            worker = self._worker_for(spec)
        if wait is None:
            return False
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if worker.backend is not None and worker.spec == spec:
                return True
            if worker.load_error and worker.wanted == spec and worker.backend is None:
                return False
            time.sleep(0.02)
        return False

    def call(self, name: str, function: Callable[[Backend], Any]) -> concurrent.futures.Future:
        """Run ``function(backend)`` on the thread of the loaded model ``name``, between batches.

        For work that must see the model as its requests do (the same thread,
        weights and memory): a benchmark's baseline, a check. Raises
        LookupError when no such model was loaded in this process.
        """
        worker = self.workers.get(name)
        if worker is None:
            raise LookupError(f"The model {name} is not loaded here.")
        return worker.call(function)

    def backend_for(self, name: str) -> Backend | None:
        worker = self.workers.get(name)
        return worker.backend if worker else None

    def _worker_for(self, spec: ModelSpec) -> ModelWorker:
        """Should be called while holding ``self.lock``."""
        worker = self.workers.get(spec.name)
        if worker is None:
            worker = self.workers[spec.name] = ModelWorker(self, spec)
        elif worker.wanted != spec:
            # Hot-swap: the row changed; the thread reloads between batches.
            worker.want(spec)
        return worker

    def status(self) -> dict[str, Any]:
        models = {name: w.status() for name, w in self.workers.items()}
        return {
            "ok": not any(m["error"] for m in models.values()),
            "mode": self.mode,
            "models": models,
        }

    def shutdown(self) -> None:
        for worker in self.workers.values():
            worker.stop()
        for worker in self.workers.values():
            worker.thread.join(timeout=5)
        self.workers.clear()


_runner: Any = None
_runner_lock = threading.Lock()


def get_runner() -> Any:
    """The process's runner: local, or a client of inference workers (OASST_RUNNER=remote)."""
    global _runner
    with _runner_lock:
        if _runner is None:
            if settings.OASST_RUNNER == "remote":
                from oasst.inference.remote import RemoteRunner

                _runner = RemoteRunner()
            else:
                _runner = make_local_runner()
        return _runner


def make_local_runner() -> LocalRunner:
    return LocalRunner(
        queue_size=settings.OASST_RUNNER_QUEUE_SIZE,
        user_limit=settings.OASST_RUNNER_USER_LIMIT,
        max_batch=settings.OASST_RUNNER_MAX_BATCH,
        time_limit=settings.OASST_RUNNER_TIME_LIMIT,
        queue_timeout=settings.OASST_RUNNER_QUEUE_TIMEOUT,
        threads=settings.OASST_RUNNER_THREADS,
    )


def set_runner(runner: Any) -> Any:
    """Replace the process's runner (tests); returns the previous one."""
    global _runner
    with _runner_lock:
        previous, _runner = _runner, runner
    return previous


def check_runner() -> dict[str, object]:
    """For /healthz: the loaded models, their queues and load errors."""
    if _runner is None:
        return {"ok": True, "mode": settings.OASST_RUNNER, "models": {}}
    return _runner.status()
