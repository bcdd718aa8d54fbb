"""Building the prompt ids of a conversation, within the context length."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

PROMPTER = "prompter"
ASSISTANT = "assistant"
# llama.cpp's n_keep, as Open-Assistant's community ran it: when even the
# newest turn does not fit, keep the start of the prompt and the end.
KEEP_HEAD_TOKENS = 512


@dataclass(frozen=True)
class Conversation:
    """What to answer: a system prompt and alternating turns, newest last.

    With ``continue_last`` the last turn is an unfinished assistant answer that
    the model goes on writing.
    """

    turns: tuple[tuple[str, str], ...]
    system_prompt: str = ""
    continue_last: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {
            "turns": [list(t) for t in self.turns],
            "system_prompt": self.system_prompt,
            "continue_last": self.continue_last,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Conversation:
        return cls(
            turns=tuple((str(r), str(t)) for r, t in data["turns"]),
            system_prompt=str(data.get("system_prompt", "")),
            continue_last=bool(data.get("continue_last", False)),
        )


@dataclass
class Prompt:
    ids: list[int]
    dropped_turns: int = 0
    truncated: bool = False
    pieces: list[list[int]] = field(default_factory=list)


def build_prompt(
    tokenizer: Any, conversation: Conversation, *, prompt_format: str, budget: int
) -> Prompt:
    """The ids to feed the model, at most ``budget`` of them.

    Over the budget, the system prompt and the first exchange are kept and the
    middle turns dropped, oldest first; if the newest turn alone is too long,
    its middle goes.
    """
    if prompt_format == "chat_template" and getattr(tokenizer, "chat_template", None):
        pieces = _template_pieces(tokenizer, conversation)
    else:
        pieces = _oasst_pieces(tokenizer, conversation)
    head, turns, tail = pieces
    # Turns that must stay: the newest one (and the one being continued).
    needed = 1
    kept_first = turns[:2] if len(turns) > needed + 2 else []
    middle = turns[len(kept_first) : len(turns) - needed]
    newest = turns[len(turns) - needed :]

    def total(parts: list[list[int]]) -> int:
        return len(head) + sum(len(p) for p in parts) + len(tail)

    dropped = 0
    while middle and total(kept_first + middle + newest) > budget:
        middle = middle[1:]
        dropped += 1
    parts = kept_first + middle + newest
    if total(parts) > budget and kept_first:
        dropped += len(kept_first)
        parts = newest
    ids = head + [i for p in parts for i in p] + tail
    truncated = False
    if len(ids) > budget:
        keep = min(KEEP_HEAD_TOKENS, budget // 2)
        ids = ids[:keep] + ids[len(ids) - (budget - keep) :]
        truncated = True
    return Prompt(ids=ids, dropped_turns=dropped, truncated=truncated)


def _eos_text(tokenizer: Any) -> str:
    return getattr(tokenizer, "eos_token", None) or "<|endoftext|>"


def _oasst_pieces(
    tokenizer: Any, conversation: Conversation
) -> tuple[list[int], list[list[int]], list[int]]:
    """Open-Assistant's format: ``<|prompter|>q{eos}<|assistant|>a{eos}…<|assistant|>``."""
    eos = _eos_text(tokenizer)
    head = []
    if conversation.system_prompt:
        head = tokenizer.encode(f"<|system|>{conversation.system_prompt}{eos}")
    turns = list(conversation.turns)
    partial = None
    if conversation.continue_last and turns and turns[-1][0] == ASSISTANT:
        partial = turns.pop()[1]
    pieces = [tokenizer.encode(f"<|{role}|>{text}{eos}") for role, text in turns]
    tail = tokenizer.encode("<|assistant|>" + (partial or ""))
    return head, pieces, tail


def _template_pieces(
    tokenizer: Any, conversation: Conversation
) -> tuple[list[int], list[list[int]], list[int]]:
    """The model's chat template, split per turn by rendering growing prefixes."""
    roles = {PROMPTER: "user", ASSISTANT: "assistant"}
    messages: list[dict[str, str]] = []
    if conversation.system_prompt:
        messages.append({"role": "system", "content": conversation.system_prompt})
    head_len = len(_render(tokenizer, messages, generation_prompt=False)) if messages else 0
    turns = list(conversation.turns)
    partial = turns.pop()[1] if conversation.continue_last and turns else None
    rendered_before = head_len
    boundaries = []
    for role, text in turns:
        messages.append({"role": roles[role], "content": text})
        rendered = _render(tokenizer, messages, generation_prompt=False)
        boundaries.append((rendered_before, len(rendered)))
        rendered_before = len(rendered)
    full = _render(tokenizer, messages, generation_prompt=True)
    if partial:
        full = full + tokenizer.encode(partial, add_special_tokens=False)
    head = full[:head_len]
    pieces = [full[a:b] for a, b in boundaries]
    tail = full[rendered_before:]
    return head, pieces, tail


def _render(
    tokenizer: Any, messages: list[dict[str, str]], *, generation_prompt: bool
) -> list[int]:
    result = tokenizer.apply_chat_template(
        messages, add_generation_prompt=generation_prompt, tokenize=True
    )
    if isinstance(result, dict) or hasattr(result, "input_ids"):
        result = result["input_ids"]
    return list(result)
