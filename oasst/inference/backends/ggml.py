"""ctransformers: GGML files, one sequence at a time.

Per stack-notes: ctransformers' own tokenizer is wrong for byte-level BPE and
ignores special tokens, and its transformers integration (hf=True) is broken
with transformers 5, so the HF tokenizer beside the file makes the ids and we
feed them with ``eval``. More than one ggml thread spin-waits against the
runner's other threads on small machines, hence threads=1.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import torch
from transformers import AutoTokenizer

from oasst.inference.backends import BackendUnavailable
from oasst.inference.specs import ModelSpec


class GGMLSession:
    def __init__(self, backend: GGMLBackend, prompts: list[list[int]]) -> None:
        if len(prompts) != 1:
            raise ValueError("the ctransformers backend decodes one sequence at a time")
        self.llm = backend.llm
        with warnings.catch_warnings():
            # reset() is deprecated in favour of the high-level API, which
            # tokenises by itself (wrongly, for our models); it still works.
            warnings.simplefilter("ignore", UserWarning)
            self.llm.reset()
        self.llm.eval(prompts[0], threads=1)

    def logits(self) -> torch.Tensor:
        return torch.tensor(list(self.llm.logits), dtype=torch.float32).unsqueeze(0)

    def advance(self, tokens: list[int]) -> None:
        self.llm.eval(tokens, threads=1)

    def keep(self, rows: list[int]) -> None:
        if rows != [0]:
            raise ValueError("the ctransformers backend decodes one sequence at a time")


class GGMLBackend:
    kind = "ctransformers"
    max_batch = 1

    def __init__(self, spec: ModelSpec) -> None:
        try:
            from ctransformers import AutoModelForCausalLM
        except ImportError as exc:
            raise BackendUnavailable(
                "the ctransformers backend needs the ctransformers package"
            ) from exc
        path = Path(spec.path)
        folder = path.parent
        config_file = folder / "config.json"
        model_type = "gpt2"
        if config_file.exists():
            model_type = json.loads(config_file.read_text()).get("model_type", model_type)
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(str(folder))
        except (OSError, ValueError) as exc:
            raise BackendUnavailable(
                f"the HF tokenizer files must sit next to {path.name} in {folder}: {exc}"
            ) from exc
        if not path.is_file():
            raise BackendUnavailable(f"no GGML file at {path}")
        try:
            self.llm = AutoModelForCausalLM.from_pretrained(
                str(path), model_type=model_type, threads=1, context_length=spec.context_length
            )
        except (OSError, RuntimeError, ValueError) as exc:
            raise BackendUnavailable(f"ctransformers cannot load {path}: {exc}") from exc
        self.max_context = min(spec.context_length, self.llm.context_length)
        self.eos_token_id = self.tokenizer.eos_token_id
        self._size = path.stat().st_size

    def start(self, prompts: list[list[int]]) -> GGMLSession:
        return GGMLSession(self, prompts)

    def memory_bytes(self) -> int:
        return self._size


def load(spec: ModelSpec, *, max_batch: int = 1, threads: int = 0) -> GGMLBackend:
    return GGMLBackend(spec)
