"""Merging several people's rankings of the same replies into one order (§3.7).

Tideman's ranked pairs, as Open-Assistant does it: only the replies present
in every ranking take part; pairs are locked in by falling margin unless they
would close a cycle; the winner is the one nobody beats in the locked graph.
Pure functions, no database.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import TypeVar

Item = TypeVar("Item", bound=Hashable)


def common_items(rankings: Sequence[Sequence[Item]]) -> list[Item]:
    """The items every ranking contains, in the order of the first ranking."""
    if not rankings:
        return []
    shared = set(rankings[0]).intersection(*map(set, rankings[1:]))
    return [item for item in rankings[0] if item in shared]


def tally_preferences(rankings: Sequence[Sequence[Item]], items: Sequence[Item]) -> list[list[int]]:
    """tally[i][j] = how many rankings put items[i] above items[j]."""
    index = {item: position for position, item in enumerate(items)}
    tally = [[0] * len(items) for _ in items]
    for ranking in rankings:
        order = [index[item] for item in ranking if item in index]
        for better_position, better in enumerate(order):
            for worse in order[better_position + 1 :]:
                tally[better][worse] += 1
    return tally


def _reaches(edges: dict[int, set[int]], start: int, goal: int) -> bool:
    seen = {start}
    stack = [start]
    while stack:
        node = stack.pop()
        if node == goal:
            return True
        for following in edges[node]:
            if following not in seen:
                seen.add(following)
                stack.append(following)
    return False


def rank_by_ranked_pairs(rankings: Sequence[Sequence[Item]]) -> list[Item]:
    """The consensus order, best first; [] when fewer than two items are shared.

    Zero margins enter in both directions (the second is dropped as a cycle),
    and ties in margin keep the first ranking's order, so the result is
    deterministic.
    """
    items = common_items(rankings)
    if len(items) < 2:
        return []
    tally = tally_preferences(rankings, items)
    size = len(items)
    pairs = [
        (tally[i][j] - tally[j][i], i, j)
        for i in range(size)
        for j in range(size)
        if i != j and tally[i][j] - tally[j][i] >= 0
    ]
    # Stable sort on the margin only: equal margins stay in (i, j) order.
    pairs.sort(key=lambda pair: -pair[0])
    locked: dict[int, set[int]] = {node: set() for node in range(size)}
    for _margin, winner, loser in pairs:
        if not _reaches(locked, loser, winner):
            locked[winner].add(loser)
    order: list[int] = []
    remaining = set(range(size))
    while remaining:
        beaten = {loser for node in remaining for loser in locked[node] if loser in remaining}
        sources = sorted(remaining - beaten)
        top = sources[0]
        order.append(top)
        remaining.remove(top)
    return [items[position] for position in order]
