"""The server bench/chat.py starts: oasst's ASGI application and two routes of the bench's own.

``POST /bench-raw/`` with ``{"model", "params", "prompt_reserve"}`` times one
answer of the raw backend (``chat.generate``: no queue, database or socket)
on the runner's own thread of that model (``LocalRunner.call``), between its
batches, while the event loop only waits. So the raw baseline and the
websocket answers run in the same process and the same thread, on the same
weights in memory, in turns: identical processes run the same model at
speeds up to 25% apart on a shared VM, and two threads of one process at up
to 15% apart, more than the goal's 5%, so a baseline from another process or
thread would measure that draw rather than the server. ``GET
/bench-decoding/?model=NAME`` returns that thread's decoding totals
(``DecodingTotals``), read on the thread after any batch in progress.
Everything else is the application as ``oasst.asgi`` builds it. For
benchmarks only: daphne binds 127.0.0.1, and this module is not part of the
installed server.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import asdict
from typing import Any
from urllib.parse import parse_qs

from oasst.asgi import application as oasst_application
from oasst.inference.runner import get_runner

RAW_PATH = "/bench-raw/"
DECODING_PATH = "/bench-decoding/"


async def application(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "http" and scope["path"] == RAW_PATH:
        await respond(send, raw_answer(json.loads(await read_body(receive))))
    elif scope["type"] == "http" and scope["path"] == DECODING_PATH:
        model = parse_qs(scope["query_string"].decode())["model"][0]
        await respond(send, decoding_totals(model))
    else:
        await oasst_application(scope, receive, send)


async def read_body(receive: Any) -> bytes:
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            return body


async def raw_answer(command: dict[str, Any]) -> dict[str, Any]:
    from oasst.inference.models import Model
    from oasst.inference.specs import parse_params

    name = command["model"]
    spec = await asyncio.to_thread(lambda: Model.objects.get(name=name).spec)
    params = parse_params(command["params"])

    def answer(backend: Any) -> Any:
        from bench.chat import generate, prompt_ids
        from oasst.inference.runner import stop_token_ids

        ids = prompt_ids(backend, spec, prompt_reserve=command["prompt_reserve"])
        return generate(backend, ids, params, stop_token_ids(backend))

    return asdict(await asyncio.wrap_future(get_runner().call(name, answer)))


async def decoding_totals(model: str) -> dict[str, Any]:
    runner = get_runner()
    return await asyncio.wrap_future(
        runner.call(model, lambda _: runner.status()["models"][model]["decoding"])
    )


async def respond(send: Any, work: Any) -> None:
    try:
        status, payload = 200, await work
    except Exception as exc:  # noqa: BLE001 - the bench prints why and stops
        status, payload = 500, {"error": f"{type(exc).__name__}: {exc}"}
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json")],
        }
    )
    await send({"type": "http.response.body", "body": json.dumps(payload).encode()})
