"""Choosing the next tokens from logits, the same way for every backend."""

from __future__ import annotations

from collections.abc import Collection, Sequence

import torch

from oasst.inference.specs import SamplingParams


def pick_tokens(
    logits: torch.Tensor,
    params: SamplingParams,
    *,
    generators: Sequence[torch.Generator],
    histories: Sequence[list[int]],
    banned: Sequence[Collection[int]] = (),
) -> list[int]:
    """One token id per row of 2-D logits, every row sampled with the same ``params``.

    Row ``i`` draws from ``generators[i]``, is penalised for the ids in
    ``histories[i]`` (its prompt and what it generated) and never picks an id
    in ``banned[i]``. The filters run once for the whole batch, not row by
    row. Each row then takes one uniform number from its own generator and
    picks by the cumulative distribution: so a seed gives the same tokens
    whether its row is decoded alone or in a batch, and a row costs one
    random number, where ``torch.multinomial`` draws one per vocabulary
    entry (most of a small model's sampling time).
    """
    changed = any(banned) or params.repetition_penalty != 1.0
    scores = logits.clone() if changed else logits
    for row, ids in enumerate(banned):
        if ids:
            scores[row, list(ids)] = float("-inf")
    if params.repetition_penalty != 1.0:
        for row, history in enumerate(histories):
            if history:
                # As transformers does it: shrink the score of every token already seen.
                seen = torch.tensor(sorted(set(history)), dtype=torch.long)
                values = scores[row, seen]
                scores[row, seen] = torch.where(
                    values > 0,
                    values / params.repetition_penalty,
                    values * params.repetition_penalty,
                )
    if params.is_greedy:
        return scores.argmax(dim=-1).tolist()
    if params.temperature != 1.0:
        scores = scores / params.temperature
    # Past top_k, the other filters and the draw look at the k best tokens
    # only (the rest could not be picked anyway): sorting 30 scores, not 2000.
    candidates = None
    if params.top_k is not None and params.top_k < scores.shape[-1]:
        scores, candidates = torch.topk(scores, params.top_k, dim=-1)
    if params.typical_p is not None and params.typical_p < 1.0:
        scores = _typical_filter(scores, params.typical_p)
    if params.top_p is not None and params.top_p < 1.0:
        scores = _nucleus_filter(scores, params.top_p)
    # In float64, and with float32 draws (below 1 - 2**-24), the point drawn
    # always falls before the total: a token of probability 0 is never picked.
    cumulative = torch.softmax(scores, dim=-1).double().cumsum(dim=-1)
    draws = torch.tensor(
        [[torch.rand(1, generator=generator).item()] for generator in generators],
        dtype=torch.float64,
    )
    picked = torch.searchsorted(cumulative, draws * cumulative[:, -1:], right=True)
    if candidates is not None:
        picked = candidates.gather(-1, picked)
    return picked.squeeze(-1).tolist()


def _nucleus_filter(scores: torch.Tensor, top_p: float) -> torch.Tensor:
    ordered, order = torch.sort(scores, dim=-1, descending=True)
    probs = torch.softmax(ordered, dim=-1)
    # Drop a token when the ones before it already reach top_p; keep the best one always.
    drop = probs.cumsum(-1) - probs >= top_p
    drop[:, 0] = False
    return scores.masked_fill(drop.scatter(-1, order, drop), float("-inf"))


def _typical_filter(scores: torch.Tensor, mass: float) -> torch.Tensor:
    log_probs = torch.log_softmax(scores, dim=-1)
    probs = log_probs.exp()
    entropy = -torch.nansum(probs * log_probs, dim=-1, keepdim=True)
    distance = (-log_probs - entropy).abs()
    ordered, order = torch.sort(distance, dim=-1)
    ordered_probs = probs.gather(-1, order)
    drop = ordered_probs.cumsum(-1) - ordered_probs >= mass
    drop[:, 0] = False
    return scores.masked_fill(drop.scatter(-1, order, drop), float("-inf"))
