"""The server bench/chat.py starts: oasst's ASGI application and one route of the bench's own.

``POST /bench-raw/`` with ``{"model", "params", "prompt_reserve"}`` times one
answer of the raw backend (``chat.generate``: no runner, queue, database or
socket) on the very model the runner of this process has loaded, in a
thread, while the event loop only waits. So the raw baseline and the
websocket answers run in the same process, on the same weights in memory,
in turns: identical processes run the same model at speeds up to 25% apart
on a shared VM, more than the goal's 5%, and a baseline from another
process would measure that draw rather than the server. Everything else is
the application as ``oasst.asgi`` builds it. For benchmarks only: daphne
binds 127.0.0.1, and this module is not part of the installed server.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import asdict
from typing import Any

from oasst.asgi import application as oasst_application

RAW_PATH = "/bench-raw/"


async def application(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "http" and scope["path"] == RAW_PATH:
        await raw_answer(receive, send)
    else:
        await oasst_application(scope, receive, send)


async def raw_answer(receive: Any, send: Any) -> None:
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    command = json.loads(body)
    try:
        answer = await asyncio.to_thread(
            time_raw, command["model"], command["params"], command["prompt_reserve"]
        )
        status, payload = 200, asdict(answer)
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


def time_raw(name: str, params: dict[str, Any], prompt_reserve: int) -> Any:
    """One raw answer on the runner's loaded backend of ``name``."""
    import torch

    from bench.chat import generate, prompt_ids
    from oasst.inference.models import Model
    from oasst.inference.runner import get_runner, stop_token_ids
    from oasst.inference.specs import parse_params

    backend = get_runner().backend_for(name)
    if backend is None:
        raise RuntimeError(f"the runner has not loaded {name}; answer on the socket first")
    spec = Model.objects.get(name=name).spec
    ids = prompt_ids(backend, spec, prompt_reserve=prompt_reserve)
    with torch.inference_mode():
        return generate(backend, ids, parse_params(params), stop_token_ids(backend))
