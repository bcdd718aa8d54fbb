"""Model backends behind one step-wise interface.

A backend turns token ids into next-token logits; sampling, stop rules,
batching decisions and threads live in the runner, so every backend samples
the same way (greedy answers are identical across backends). Each backend
module is imported only when a model of its kind is loaded, so the web tier
starts without torch-heavy imports and an optional package (llama-cpp-python)
may be missing.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    import torch

    from oasst.inference.specs import ModelSpec


class BackendUnavailable(RuntimeError):
    """The backend's package is not installed, or the model files are unusable."""


class Tokenizer(Protocol):
    def encode(self, text: str, add_special_tokens: bool = ...) -> list[int]: ...

    def decode(self, ids: list[int], skip_special_tokens: bool = ...) -> str: ...

    def convert_tokens_to_ids(self, token: str) -> int | None: ...


class Session(Protocol):
    """A batch of sequences being decoded together; rows keep their order.

    A session may also offer ``join(prompts) -> bool``: prefill new rows and
    add them after the others (False where it cannot). Without it, the runner
    rebuilds the batch from every row's ids when a request joins.
    """

    def logits(self) -> torch.Tensor:
        """Float32 logits of the next token, one row per sequence."""
        ...

    def advance(self, tokens: list[int]) -> None:
        """Append one token to each row and compute the next logits."""
        ...

    def keep(self, rows: list[int]) -> None:
        """Drop every row not listed (finished or cancelled sequences)."""
        ...


class Backend(Protocol):
    kind: str
    tokenizer: Tokenizer
    # How many sequences one session may decode at once (1: no batching).
    max_batch: int
    # The longest sequence the model accepts (its position embeddings).
    max_context: int
    eos_token_id: int | None

    def start(self, prompts: list[list[int]]) -> Session: ...

    def memory_bytes(self) -> int: ...


MODULES = {
    "transformers": "oasst.inference.backends.hf",
    "ctransformers": "oasst.inference.backends.ggml",
    "llama_cpp": "oasst.inference.backends.llama_cpp",
    "fake": "oasst.inference.backends.fake",
}


def load_backend(spec: ModelSpec, *, max_batch: int = 8, threads: int = 0) -> Backend:
    """Load the model that ``spec`` names; slow (seconds), so call it from the runner's thread."""
    module_name = MODULES.get(spec.backend)
    if module_name is None:
        raise BackendUnavailable(f"unknown backend {spec.backend!r}")
    module = importlib.import_module(module_name)
    return module.load(spec, max_batch=max_batch, threads=threads)
