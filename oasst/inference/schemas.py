"""Request and response shapes of the OpenAI-compatible API."""

from __future__ import annotations

from typing import Literal

from ninja import Schema
from pydantic import Field


class ChatMessageIn(Schema):
    role: Literal["system", "user", "assistant"]
    content: str = Field(max_length=100_000)


class ChatCompletionIn(Schema):
    model: str | None = None
    messages: list[ChatMessageIn] = Field(min_length=1, max_length=200)
    stream: bool = False
    temperature: float | None = None
    top_p: float | None = None
    max_tokens: int | None = None
    seed: int | None = None
    stop: str | list[str] | None = None
    n: int = 1
    # Not in OpenAI's API, but what llama.cpp and Open-Assistant expose.
    top_k: int | None = None
    typical_p: float | None = None
    repetition_penalty: float | None = None
    # As vLLM's: the end of text cannot come before this many tokens.
    min_tokens: int | None = None


class ModelOut(Schema):
    id: str
    object: str = "model"
    created: int
    owned_by: str = "oasst"


class ModelList(Schema):
    object: str = "list"
    data: list[ModelOut]
