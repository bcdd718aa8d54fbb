"""The OpenAI-compatible API at /v1/: list models, chat completions (streamed or not).

Authenticated with personal API tokens (``Authorization: Bearer oat_…``) and
served by the same runner, queue and per-person limits as the chat, so tools
written for OpenAI can use the models of this server. Errors have OpenAI's
shape: ``{"error": {"message", "type", "param", "code"}}``.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, ValidationError

from oasst.accounts.auth import token_auth
from oasst.inference.models import Model
from oasst.inference.prompts import ASSISTANT, PROMPTER, Conversation
from oasst.inference.quotas import QuotaExceeded, take_quota
from oasst.inference.registry import UnknownModel, find_model
from oasst.inference.runner import Busy, Event, Handle, LimitExceeded, get_runner
from oasst.inference.schemas import ChatCompletionIn, ModelList
from oasst.inference.specs import InvalidParams, parse_params

openai_api = NinjaAPI(
    title="oasst OpenAI-compatible API",
    version="1",
    urls_namespace="openai",
    docs_url="/docs",
    description="`/v1/models` and `/v1/chat/completions` for tools written for OpenAI.",
)

# The runner's end reasons, as OpenAI names them.
FINISH_REASONS = {"stop": "stop", "length": "length"}


class ApiError(Exception):
    def __init__(self, status: int, message: str, *, kind: str, param: str | None = None) -> None:
        super().__init__(message)
        self.status, self.kind, self.param = status, kind, param


def error_response(
    request: HttpRequest, status: int, message: str, kind: str, param: str | None = None
) -> HttpResponse:
    body = {"error": {"message": message, "type": kind, "param": param, "code": None}}
    return openai_api.create_response(request, body, status=status)


@openai_api.exception_handler(ApiError)
def _api_error(request: HttpRequest, exc: ApiError) -> HttpResponse:
    return error_response(request, exc.status, str(exc), exc.kind, exc.param)


@openai_api.exception_handler(AuthenticationError)
def _unauthenticated(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
    return error_response(
        request, 401, "A valid personal API token is needed.", "invalid_request_error"
    )


@openai_api.exception_handler(ValidationError)
def _invalid(request: HttpRequest, exc: ValidationError) -> HttpResponse:
    first = exc.errors[0] if exc.errors else {}
    param = ".".join(str(p) for p in first.get("loc", []) if p != "body") or None
    return error_response(
        request, 400, f"Invalid request: {first.get('msg', exc)}", "invalid_request_error", param
    )


@openai_api.get("/models", auth=token_auth, response=ModelList)
def list_models(request: HttpRequest) -> dict[str, Any]:
    return {
        "object": "list",
        "data": [
            {"id": m.name, "created": int(m.created_at.timestamp())}
            for m in Model.objects.enabled()
        ],
    }


@openai_api.post("/chat/completions", auth=token_auth)
def chat_completions(request: HttpRequest, body: ChatCompletionIn) -> Any:
    if body.n != 1:
        raise ApiError(400, "Only n=1 is supported.", kind="invalid_request_error", param="n")
    try:
        model = find_model(body.model)
    except UnknownModel as exc:
        raise ApiError(404, str(exc), kind="invalid_request_error", param="model") from None
    params = _params(body, model.default_params)
    conversation = _conversation(body)
    try:
        take_quota(request.user.pk)
        handle = get_runner().submit(
            model.spec, conversation, params, user_key=f"user:{request.user.pk}"
        )
    except (QuotaExceeded, LimitExceeded) as exc:
        raise ApiError(429, str(exc), kind="rate_limit_error") from None
    except Busy as exc:
        raise ApiError(503, str(exc), kind="server_error") from None
    completion_id = f"chatcmpl-{uuid.uuid4().hex}"
    if body.stream:
        response = StreamingHttpResponse(
            _stream(handle, completion_id, model.name), content_type="text/event-stream"
        )
        response["Cache-Control"] = "no-cache"
        response["X-Accel-Buffering"] = "no"
        return response
    done = _wait(handle)
    return {
        "id": completion_id,
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model.name,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": done.text},
                "finish_reason": FINISH_REASONS[done.reason],
            }
        ],
        "usage": _usage(done),
        "system_fingerprint": f"seed-{done.seed}",
    }


def _params(body: ChatCompletionIn, defaults: dict[str, Any]) -> Any:
    given = {
        "temperature": body.temperature,
        "top_p": body.top_p,
        "max_new_tokens": body.max_tokens,
        "min_new_tokens": body.min_tokens,
        "seed": body.seed,
        "stop": body.stop,
        "top_k": body.top_k,
        "typical_p": body.typical_p,
        "repetition_penalty": body.repetition_penalty,
    }
    try:
        base = parse_params(defaults)
        return parse_params({k: v for k, v in given.items() if v is not None}, base=base)
    except InvalidParams as exc:
        raise ApiError(400, str(exc), kind="invalid_request_error") from None


def _conversation(body: ChatCompletionIn) -> Conversation:
    system = "\n".join(m.content for m in body.messages if m.role == "system")
    roles = {"user": PROMPTER, "assistant": ASSISTANT}
    turns = tuple((roles[m.role], m.content) for m in body.messages if m.role != "system")
    if not turns or turns[-1][0] != PROMPTER:
        raise ApiError(
            400,
            "The last message must be from the user.",
            kind="invalid_request_error",
            param="messages",
        )
    return Conversation(turns=turns, system_prompt=system)


def _wait(handle: Handle) -> Event:
    for event in handle.iter_events():
        if event.kind == "done":
            break
    if event.reason not in FINISH_REASONS:
        status = 504 if event.reason == "timeout" else 500
        raise ApiError(
            status, event.error or f"The generation ended: {event.reason}.", kind="server_error"
        )
    return event


def _usage(done: Event) -> dict[str, int]:
    return {
        "prompt_tokens": done.prompt_tokens,
        "completion_tokens": done.completion_tokens,
        "total_tokens": done.prompt_tokens + done.completion_tokens,
    }


async def _stream(handle: Handle, completion_id: str, model: str) -> AsyncIterator[str]:
    """Server-sent events; a client that goes away cancels the generation."""
    created = int(time.time())

    def chunk(delta: dict[str, str], finish: str | None = None, **extra: Any) -> str:
        data = {
            "id": completion_id,
            "object": "chat.completion.chunk",
            "created": created,
            "model": model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
            **extra,
        }
        return f"data: {json.dumps(data)}\n\n"

    try:
        yield chunk({"role": "assistant"})
        async for event in handle.stream():
            if event.kind == "token":
                yield chunk({"content": event.text})
            elif event.kind == "done":
                if event.reason in FINISH_REASONS:
                    yield chunk({}, FINISH_REASONS[event.reason], usage=_usage(event))
                else:
                    error = {"message": event.error or event.reason, "type": "server_error"}
                    yield f"data: {json.dumps({'error': error})}\n\n"
        yield "data: [DONE]\n\n"
    finally:
        handle.cancel()
