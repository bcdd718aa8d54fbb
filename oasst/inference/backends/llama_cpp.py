"""llama.cpp through llama-cpp-python (an optional extra) for GGUF files.

The package is built from source on install (minutes), so it is not a
dependency: ``pip install 'oasst[llama]'``. Its tokenizer matches HF's,
special tokens included, so the HF tokenizer is used when it sits beside the
file and llama.cpp's own otherwise.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch

from oasst.inference.backends import BackendUnavailable
from oasst.inference.specs import ModelSpec

MISSING = (
    "the llama_cpp backend needs llama-cpp-python, an optional extra that is built from "
    "source: pip install 'llama-cpp-python==0.3.36' (or the project's [llama] extra)"
)


def import_llama_cpp() -> Any:
    try:
        import llama_cpp
    except ImportError as exc:
        raise BackendUnavailable(MISSING) from exc
    return llama_cpp


class LlamaTokenizer:
    """llama.cpp's own tokenizer, with the calls the runner makes."""

    chat_template = None

    def __init__(self, llm: Any) -> None:
        self.llm = llm

    def encode(self, text: str, add_special_tokens: bool = False) -> list[int]:
        return self.llm.tokenize(text.encode(), add_bos=add_special_tokens, special=True)

    def decode(self, ids: list[int], skip_special_tokens: bool = False) -> str:
        return self.llm.detokenize(ids).decode("utf-8", errors="replace")

    def convert_tokens_to_ids(self, token: str) -> int | None:
        ids = self.encode(token)
        return ids[0] if len(ids) == 1 else None


class LlamaSession:
    def __init__(self, backend: LlamaBackend, prompts: list[list[int]]) -> None:
        if len(prompts) != 1:
            raise ValueError("the llama_cpp backend decodes one sequence at a time")
        self.llm = backend.llm
        self.llm.reset()
        self.llm.eval(prompts[0])

    def logits(self) -> torch.Tensor:
        return torch.tensor(self.llm.scores[self.llm.n_tokens - 1], dtype=torch.float32)[None]

    def advance(self, tokens: list[int]) -> None:
        self.llm.eval(tokens)

    def keep(self, rows: list[int]) -> None:
        if rows != [0]:
            raise ValueError("the llama_cpp backend decodes one sequence at a time")


class LlamaBackend:
    kind = "llama_cpp"
    max_batch = 1

    def __init__(self, spec: ModelSpec, *, threads: int) -> None:
        llama_cpp = import_llama_cpp()
        path = Path(spec.path)
        if not path.is_file():
            raise BackendUnavailable(f"no GGUF file at {path}")
        self.llm = llama_cpp.Llama(
            model_path=str(path),
            n_ctx=spec.context_length,
            n_threads=threads or min(2, os.cpu_count() or 1),
            logits_all=True,
            verbose=False,
        )
        try:
            from transformers import AutoTokenizer

            self.tokenizer = AutoTokenizer.from_pretrained(str(path.parent))
            self.eos_token_id = self.tokenizer.eos_token_id
        except (OSError, ValueError):
            self.tokenizer = LlamaTokenizer(self.llm)
            self.eos_token_id = self.llm.token_eos()
        self.max_context = min(spec.context_length, self.llm.n_ctx())
        self._size = path.stat().st_size

    def start(self, prompts: list[list[int]]) -> LlamaSession:
        return LlamaSession(self, prompts)

    def memory_bytes(self) -> int:
        return self._size


def load(spec: ModelSpec, *, max_batch: int = 1, threads: int = 0) -> LlamaBackend:
    return LlamaBackend(spec, threads=threads)
