"""Choosing the next token from logits, the same way for every backend."""

from __future__ import annotations

import torch

from oasst.inference.specs import SamplingParams


def pick_token(
    logits: torch.Tensor, params: SamplingParams, *, generator: torch.Generator, history: list[int]
) -> int:
    """One token id from a 1-D logits row; ``history`` is the prompt plus what was generated."""
    scores = logits.clone()
    if params.repetition_penalty != 1.0 and history:
        # As transformers does it: shrink the score of every token already seen.
        seen = torch.tensor(sorted(set(history)), dtype=torch.long)
        values = scores[seen]
        scores[seen] = torch.where(
            values > 0, values / params.repetition_penalty, values * params.repetition_penalty
        )
    if params.is_greedy:
        return int(torch.argmax(scores))
    scores = scores / params.temperature
    if params.top_k is not None and params.top_k < scores.numel():
        threshold = torch.topk(scores, params.top_k).values[-1]
        scores = scores.masked_fill(scores < threshold, float("-inf"))
    if params.typical_p is not None and params.typical_p < 1.0:
        scores = _typical_filter(scores, params.typical_p)
    if params.top_p is not None and params.top_p < 1.0:
        scores = _nucleus_filter(scores, params.top_p)
    probs = torch.softmax(scores, dim=-1)
    return int(torch.multinomial(probs, 1, generator=generator))


def _nucleus_filter(scores: torch.Tensor, top_p: float) -> torch.Tensor:
    ordered, order = torch.sort(scores, descending=True)
    cumulative = torch.softmax(ordered, dim=-1).cumsum(-1)
    # Drop a token when the ones before it already reach top_p; keep the best one always.
    drop = cumulative - torch.softmax(ordered, dim=-1) >= top_p
    drop[0] = False
    return scores.masked_fill(drop.scatter(0, order, drop), float("-inf"))


def _typical_filter(scores: torch.Tensor, mass: float) -> torch.Tensor:
    log_probs = torch.log_softmax(scores, dim=-1)
    probs = log_probs.exp()
    entropy = -torch.nansum(probs * log_probs)
    distance = (-log_probs - entropy).abs()
    ordered, order = torch.sort(distance)
    cumulative = probs[order].cumsum(-1)
    drop = cumulative - probs[order] >= mass
    drop[0] = False
    return scores.masked_fill(drop.scatter(0, order, drop), float("-inf"))
