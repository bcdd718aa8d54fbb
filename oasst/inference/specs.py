"""Plain values passed between the registry, the runner and the backends."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class ModelSpec:
    """What the runner needs to load a model; ``version`` changes when the row does."""

    name: str
    backend: str
    path: str
    prompt_format: str = "oasst"
    context_length: int = 2048
    version: str = ""

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


class InvalidParams(ValueError):
    """Sampling parameters out of range; the message names the parameter."""


# (minimum, maximum) of every numeric parameter; None means "not used".
LIMITS: dict[str, tuple[float, float]] = {
    "temperature": (0.0, 2.0),
    "top_k": (0, 2000),
    "top_p": (0.0, 1.0),
    "typical_p": (0.0, 1.0),
    "repetition_penalty": (1.0, 3.0),
    "max_new_tokens": (1, 4096),
    "min_new_tokens": (0, 4096),
    "seed": (0, 2**63 - 1),
}
MAX_STOP_SEQUENCES = 4
MAX_STOP_LENGTH = 32


@dataclass(frozen=True)
class SamplingParams:
    temperature: float = 0.4
    top_k: int | None = 30
    top_p: float | None = 0.18
    typical_p: float | None = None
    repetition_penalty: float = 1.0
    max_new_tokens: int = 256
    # Stop tokens (end of text, role tokens) cannot end an answer before this
    # many tokens; stop sequences and max_new_tokens still do. As transformers'
    # min_new_tokens: answers of a known length, for benchmarks and tools.
    min_new_tokens: int = 0
    seed: int | None = None
    stop: tuple[str, ...] = field(default_factory=tuple)

    @property
    def is_greedy(self) -> bool:
        return self.temperature == 0 or self.top_k == 1

    def as_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["stop"] = list(self.stop)
        return data


def parse_params(data: dict[str, Any], *, base: SamplingParams | None = None) -> SamplingParams:
    """Overlay ``data`` on ``base``; raises InvalidParams naming the bad value.

    Empty strings and None switch an optional filter off (top_k, top_p,
    typical_p, seed), as an empty field in the advanced panel means "not set".
    """
    base = base or SamplingParams()
    values = base.as_dict()
    for key, raw in data.items():
        if key not in values:
            raise InvalidParams(f"unknown sampling parameter {key!r}")
        if key == "stop":
            values["stop"] = _parse_stop(raw)
            continue
        if raw is None or raw == "":
            if key in {"top_k", "top_p", "typical_p", "seed"}:
                values[key] = None
                continue
            raise InvalidParams(f"{key} needs a value")
        integer = key in {"top_k", "max_new_tokens", "min_new_tokens", "seed"}
        try:
            number = int(raw) if integer else float(raw)
        except (TypeError, ValueError):
            kind = "an integer" if integer else "a number"
            raise InvalidParams(f"{key} must be {kind}, got {raw!r}") from None
        if integer and isinstance(raw, float) and raw != int(raw):
            raise InvalidParams(f"{key} must be an integer, got {raw!r}")
        low, high = LIMITS[key]
        if not low <= number <= high:
            raise InvalidParams(f"{key} must be between {low:g} and {high:g}, got {raw!r}")
        values[key] = number
    if values["top_k"] == 0:
        values["top_k"] = None
    values["stop"] = tuple(values["stop"])
    return SamplingParams(**values)


def _parse_stop(raw: object) -> list[str]:
    if raw is None or raw == "":
        return []
    items = [raw] if isinstance(raw, str) else raw
    if not isinstance(items, list | tuple) or not all(isinstance(s, str) for s in items):
        raise InvalidParams("stop must be a string or a list of strings")
    items = [s for s in items if s]
    if len(items) > MAX_STOP_SEQUENCES or any(len(s) > MAX_STOP_LENGTH for s in items):
        raise InvalidParams(
            f"stop takes at most {MAX_STOP_SEQUENCES} sequences of {MAX_STOP_LENGTH} characters"
        )
    return list(items)


# Open-Assistant's chat presets (same list for every model), plus the settings
# its community used with llama.cpp and a greedy one for reproducible answers.
PRESETS: dict[str, dict[str, Any]] = {
    "llama.cpp": {"temperature": 0.4, "top_k": 30, "top_p": 0.18, "repetition_penalty": 1.0},
    "k50": {"temperature": 0.75, "top_k": 50, "top_p": 0.95, "repetition_penalty": 1.2},
    "k50-Creative": {"temperature": 0.85, "top_k": 50, "top_p": 0.95, "repetition_penalty": 1.2},
    "k50-Precise": {"temperature": 0.1, "top_k": 50, "top_p": 0.95, "repetition_penalty": 1.2},
    "k50-Original": {"temperature": 0.9, "top_k": 50, "top_p": 0.95, "repetition_penalty": 1.2},
    "k50-Plugins": {"temperature": 0.35, "top_k": 50, "top_p": None, "repetition_penalty": 1.111},
    "nucleus9": {"temperature": 0.8, "top_k": None, "top_p": 0.9, "repetition_penalty": 1.2},
    "typical2": {"temperature": 0.8, "top_k": None, "top_p": None, "typical_p": 0.2, "repetition_penalty": 1.2},
    "typical3": {"temperature": 0.8, "top_k": None, "top_p": None, "typical_p": 0.3, "repetition_penalty": 1.2},
    "greedy": {"temperature": 0.0, "top_k": None, "top_p": None, "repetition_penalty": 1.0},
}  # fmt: skip
DEFAULT_PRESET = "llama.cpp"


def preset_params(name: str, *, model_defaults: dict[str, Any] | None = None) -> SamplingParams:
    """A preset's parameters over the model's defaults; raises InvalidParams if unknown."""
    if name not in PRESETS:
        raise InvalidParams(f"unknown preset {name!r}")
    base = parse_params(model_defaults or {})
    return parse_params(PRESETS[name], base=base)
