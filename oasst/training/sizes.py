"""The demo model's shapes, apart from the builder so that reading them needs no torch."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Size:
    n_layer: int
    n_embd: int
    n_head: int
    vocab_size: int
    n_positions: int
    steps: int
    batch_size: int
    learning_rate: float


SIZES = {
    # Small enough to build in well under two minutes on 2 CPU cores.
    "demo": Size(n_layer=2, n_embd=96, n_head=4, vocab_size=2000, n_positions=512,
                 steps=600, batch_size=12, learning_rate=4e-3),
    # About 26M parameters, for benchmarks: a few steps only (minutes otherwise).
    "m25": Size(n_layer=8, n_embd=512, n_head=8, vocab_size=2000, n_positions=512,
                steps=10, batch_size=8, learning_rate=1e-3),
}  # fmt: skip
