"""Ranked pairs (§3.7): a pure function, tested on known electorates."""

from __future__ import annotations

import itertools

from oasst.trees.ranking import common_items, rank_by_ranked_pairs, tally_preferences


def test_unanimous_rankings_keep_their_order() -> None:
    assert rank_by_ranked_pairs([["a", "b", "c"]] * 3) == ["a", "b", "c"]


def test_a_single_ranking_is_its_own_consensus() -> None:
    assert rank_by_ranked_pairs([["c", "a", "b"]]) == ["c", "a", "b"]


def test_majority_wins_each_pair() -> None:
    rankings = [["a", "b", "c"], ["a", "b", "c"], ["b", "a", "c"]]
    assert rank_by_ranked_pairs(rankings) == ["a", "b", "c"]


def test_condorcet_cycle_is_broken_at_the_weakest_margin() -> None:
    # a>b by 7-2... the classic: a beats b (margin 5), b beats c (margin 3), c beats a (margin 1).
    rankings = [["a", "b", "c"]] * 4 + [["b", "c", "a"]] * 2 + [["c", "a", "b"]] * 3
    tally = tally_preferences(rankings, ["a", "b", "c"])
    assert tally[0][1] - tally[1][0] == 5
    assert tally[1][2] - tally[2][1] == 3
    assert tally[2][0] - tally[0][2] == 1
    # c>a is the weakest edge and would close the cycle, so it is dropped.
    assert rank_by_ranked_pairs(rankings) == ["a", "b", "c"]


def test_condorcet_winner_comes_first_even_when_never_ranked_first_by_a_majority() -> None:
    rankings = [["a", "c", "b"], ["b", "c", "a"], ["c", "a", "b"], ["c", "b", "a"], ["a", "c", "b"]]
    assert rank_by_ranked_pairs(rankings)[0] == "c"


def test_only_items_in_every_ranking_take_part() -> None:
    rankings = [["a", "x", "b", "c"], ["c", "b", "a"], ["b", "a", "c", "y"]]
    assert common_items(rankings) == ["a", "b", "c"]
    assert sorted(rank_by_ranked_pairs(rankings)) == ["a", "b", "c"]


def test_fewer_than_two_shared_items_give_no_consensus() -> None:
    assert rank_by_ranked_pairs([["a", "b"], ["a", "c"]]) == []
    assert rank_by_ranked_pairs([]) == []


def test_exact_tie_is_deterministic_and_complete() -> None:
    rankings = [["a", "b"], ["b", "a"]]
    first = rank_by_ranked_pairs(rankings)
    assert first == rank_by_ranked_pairs(rankings)
    assert sorted(first) == ["a", "b"]


def test_result_is_always_a_permutation_of_the_shared_items() -> None:
    items = ["a", "b", "c", "d"]
    orders = list(itertools.permutations(items))
    for start in range(0, len(orders), 5):
        rankings = [list(order) for order in orders[start : start + 3]]
        result = rank_by_ranked_pairs(rankings)
        assert sorted(result) == items


def test_clear_loser_is_last() -> None:
    rankings = [["b", "a", "d", "c"], ["a", "b", "c", "d"], ["a", "c", "b", "d"]]
    assert rank_by_ranked_pairs(rankings)[-1] == "d"
    assert rank_by_ranked_pairs(rankings)[0] == "a"
