"""The runner across processes: web nodes send generations to inference workers.

``manage.py runworker inference`` starts a Channels worker on the channel
layer's ``inference`` channel (Redis in production); it runs a local runner and
streams each request's events back to the web node's reply channel. Web nodes
with OASST_RUNNER=remote use ``RemoteRunner``, which has the local runner's
``submit`` and hands out the same ``Handle``. A refusal (busy, per-person
limit) arrives as the end of the answer with its message, as it happens on
the worker.
"""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

from channels.consumer import AsyncConsumer
from channels.layers import get_channel_layer

from oasst.inference.prompts import Conversation
from oasst.inference.runner import Event, Handle, LocalRunner, RunnerRefused, make_local_runner
from oasst.inference.specs import ModelSpec, SamplingParams, parse_params

CHANNEL = "inference"
# How long a web node waits for a worker to accept a request.
ACCEPT_TIMEOUT = 30.0


class RemoteRunner:
    mode = "remote"

    def __init__(self) -> None:
        # One event loop in a thread of our own talks to the channel layer, so
        # both async callers (the chat) and sync ones (the API) can submit.
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(
            target=self.loop.run_forever, name="inference-client", daemon=True
        )
        self.thread.start()
        self.layer = get_channel_layer()
        self.sent = 0

    def submit(
        self, spec: ModelSpec, conversation: Conversation, params: SamplingParams, *, user_key: str
    ) -> Handle:
        handle = Handle(user_key=user_key, model=spec.name)
        request = {
            "id": handle.id,
            "spec": spec.as_dict(),
            "conversation": conversation.as_dict(),
            "params": params.as_dict(),
            "user_key": user_key,
        }
        worker: dict[str, str] = {}
        handle._on_cancel.append(lambda h: self._schedule(self._cancel(h, worker)))
        self._schedule(self._run(handle, request, worker))
        self.sent += 1
        return handle

    def _schedule(self, coroutine: Any) -> None:
        asyncio.run_coroutine_threadsafe(coroutine, self.loop)

    async def _run(self, handle: Handle, request: dict[str, Any], worker: dict[str, str]) -> None:
        reply = await self.layer.new_channel()
        await self.layer.send(
            CHANNEL, {"type": "inference.generate", "reply": reply, "request": request}
        )
        deadline = time.monotonic() + ACCEPT_TIMEOUT
        while True:
            timeout = deadline - time.monotonic() if not worker else None
            try:
                message = await asyncio.wait_for(self.layer.receive(reply), timeout=timeout)
            except TimeoutError:
                handle.put(Event("done", reason="error", error="No inference worker answered."))
                return
            if "worker" in message:
                worker["channel"] = message["worker"]
                if handle.cancelled.is_set():
                    await self._cancel(handle, worker)
            for data in message.get("events", []):
                event = Event.from_dict(data)
                handle.put(event)
                if event.kind == "done":
                    handle.finished = True
                    return

    async def _cancel(self, handle: Handle, worker: dict[str, str]) -> None:
        if "channel" in worker:
            await self.layer.send(worker["channel"], {"type": "inference.cancel", "id": handle.id})

    def load(self, spec: ModelSpec, *, wait: float | None = None) -> bool:
        return False  # workers load their models themselves

    def status(self) -> dict[str, Any]:
        return {"ok": True, "mode": self.mode, "sent": self.sent, "models": {}}

    def shutdown(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)


_worker_runner: LocalRunner | None = None


def worker_runner() -> LocalRunner:
    global _worker_runner
    if _worker_runner is None:
        _worker_runner = make_local_runner()
    return _worker_runner


class InferenceWorkerConsumer(AsyncConsumer):
    """Serves generation requests from the ``inference`` channel with a local runner."""

    handles: dict[str, Handle]

    async def inference_generate(self, message: dict[str, Any]) -> None:
        if not hasattr(self, "handles"):
            self.handles = {}
        request = message["request"]
        reply = message["reply"]
        try:
            handle = worker_runner().submit(
                ModelSpec(**request["spec"]),
                Conversation.from_dict(request["conversation"]),
                parse_params(request["params"]),
                user_key=request["user_key"],
            )
        except RunnerRefused as exc:
            done = Event("done", reason="error", error=str(exc))
            await self.channel_layer.send(
                reply,
                {
                    "type": "inference.events",
                    "worker": self.channel_name,
                    "events": [done.as_dict()],
                },
            )
            return
        self.handles[request["id"]] = handle
        await self.channel_layer.send(
            reply, {"type": "inference.events", "worker": self.channel_name, "events": []}
        )
        asyncio.create_task(self._relay(request["id"], handle, reply))

    async def _relay(self, request_id: str, handle: Handle, reply: str) -> None:
        try:
            while True:
                events = await handle.next_events()
                await self.channel_layer.send(
                    reply, {"type": "inference.events", "events": [e.as_dict() for e in events]}
                )
                if any(e.kind == "done" for e in events):
                    return
        finally:
            self.handles.pop(request_id, None)

    async def inference_cancel(self, message: dict[str, Any]) -> None:
        handle = getattr(self, "handles", {}).get(message["id"])
        if handle is not None:
            handle.cancel()
