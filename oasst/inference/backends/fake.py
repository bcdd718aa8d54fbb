"""A model without weights, for tests: it echoes the prompt or says a fixed reply.

Its path is ``fake:`` followed by options, e.g. ``fake:delay=0.01&batch=4&reply=Hi``:
``reply`` is the answer (default: "Echo: " and the last prompt), ``repeat``
repeats it, ``delay`` sleeps that many seconds per decoding step (to test
cancellation and time limits), ``batch`` is the largest batch. Every session
size is recorded in ``batch_sizes`` so tests can see batching happen.
"""

from __future__ import annotations

import time
from urllib.parse import parse_qs

import torch

from oasst.inference.specs import ModelSpec

SPECIALS = ["<|endoftext|>", "<|prompter|>", "<|assistant|>", "<|system|>"]
EOS = 256
VOCAB = 256 + len(SPECIALS)


class FakeTokenizer:
    """Bytes are tokens 0-255; the four special tokens follow."""

    eos_token = "<|endoftext|>"  # noqa: S105 - a token, not a secret
    chat_template = None

    def encode(self, text: str, add_special_tokens: bool = False) -> list[int]:
        ids: list[int] = []
        rest = text
        while rest:
            hits = [(rest.find(s), s) for s in SPECIALS if s in rest]
            if not hits:
                ids.extend(rest.encode())
                break
            index, special = min(hits)
            ids.extend(rest[:index].encode())
            ids.append(256 + SPECIALS.index(special))
            rest = rest[index + len(special) :]
        return ids

    def decode(self, ids: list[int], skip_special_tokens: bool = False) -> str:
        out = bytearray()
        for i in ids:
            if i < 256:
                out.append(i)
            elif not skip_special_tokens:
                out.extend(SPECIALS[i - 256].encode())
        return out.decode("utf-8", errors="replace")

    def convert_tokens_to_ids(self, token: str) -> int | None:
        return 256 + SPECIALS.index(token) if token in SPECIALS else None


class FakeSession:
    def __init__(self, backend: FakeBackend, prompts: list[list[int]]) -> None:
        self.backend = backend
        self.targets = [backend.answer_for(p) for p in prompts]
        # Rows re-started mid-answer (a batch rebuilt when requests join) carry
        # part of their answer already; find where they are.
        self.positions = [
            _resume_position(p, t) for p, t in zip(prompts, self.targets, strict=True)
        ]
        backend.batch_sizes.append(len(prompts))

    def logits(self) -> torch.Tensor:
        rows = torch.zeros(len(self.targets), VOCAB)
        for i, (target, pos) in enumerate(zip(self.targets, self.positions, strict=True)):
            rows[i, target[pos] if pos < len(target) else EOS] = 100.0
        return rows

    def advance(self, tokens: list[int]) -> None:
        if self.backend.delay:
            time.sleep(self.backend.delay)
        self.positions = [p + 1 for p in self.positions]
        self.backend.steps += 1

    def keep(self, rows: list[int]) -> None:
        self.targets = [self.targets[i] for i in rows]
        self.positions = [self.positions[i] for i in rows]


def _resume_position(prompt: list[int], target: list[int]) -> int:
    for n in range(min(len(target), len(prompt)), 0, -1):
        if prompt[-n:] == target[:n]:
            return n
    return 0


class FakeBackend:
    kind = "fake"

    def __init__(self, options: dict[str, str]) -> None:
        self.tokenizer = FakeTokenizer()
        self.reply = options.get("reply")
        self.repeat = int(options.get("repeat", "1"))
        self.delay = float(options.get("delay", "0"))
        self.max_batch = int(options.get("batch", "8"))
        self.max_context = int(options.get("context", "4096"))
        self.eos_token_id = EOS
        self.batch_sizes: list[int] = []
        self.steps = 0

    def answer_for(self, prompt: list[int]) -> list[int]:
        if self.reply is not None:
            text = self.reply
        else:
            # The text of the last prompter turn, up to its end-of-text.
            marker = 256 + SPECIALS.index("<|prompter|>")
            start = len(prompt) - 1 - prompt[::-1].index(marker) if marker in prompt else -1
            tail = prompt[start + 1 :]
            tail = tail[: tail.index(EOS)] if EOS in tail else tail
            text = "Echo: " + self.tokenizer.decode(tail, skip_special_tokens=True)
        return self.tokenizer.encode(text * self.repeat)

    def start(self, prompts: list[list[int]]) -> FakeSession:
        return FakeSession(self, prompts)

    def memory_bytes(self) -> int:
        return 0


def load(spec: ModelSpec, *, max_batch: int = 8, threads: int = 0) -> FakeBackend:
    _, _, query = spec.path.partition(":")
    options = {k: v[-1] for k, v in parse_qs(query, keep_blank_values=True).items()}
    options.setdefault("batch", str(max_batch))
    if options.get("fail"):
        raise RuntimeError(options["fail"])
    return FakeBackend(options)
