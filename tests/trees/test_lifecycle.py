"""The tree state machine (§3.2–§3.5, §3.7, §3.8): the table, each rule and each threshold edge."""

from __future__ import annotations

import random
from collections import Counter, deque
from datetime import timedelta

import pytest
from django.utils import timezone

from oasst.accounts.models import User
from oasst.accounts.people import ban_user
from oasst.trees import lifecycle
from oasst.trees.lifecycle import TRANSITIONS, InvalidTransition, set_tree_state
from oasst.trees.models import (
    TERMINAL_STATES,
    Emoji,
    JournalEvent,
    Message,
    MessageTree,
    TreeState,
)
from oasst.trees.submissions import set_emoji
from tests.conftest import make_user
from tests.trees.factories import accept, people, rank, review, tree_of, write_prompt, write_reply

S = TreeState


def bare_tree(state: str, *, author: User, lang: str = "en") -> MessageTree:
    tree = MessageTree.objects.create(
        state=state,
        active=state not in TERMINAL_STATES,
        lang=lang,
        goal_tree_size=4,
        max_depth=2,
        max_children_count=2,
    )
    Message.objects.create(
        id=tree.pk, tree=tree, user=author, role="prompter", text="Hello?", lang=lang
    )
    return tree


# --- The table ----------------------------------------------------------------------


def test_transitions_table_names_all_ten_states() -> None:
    assert set(TRANSITIONS) == set(S.values)
    assert len(TRANSITIONS) == 10
    for targets in TRANSITIONS.values():
        assert targets <= set(S.values)


def test_every_state_but_the_import_backlog_is_reachable_from_prompt_review() -> None:
    seen = {S.INITIAL_PROMPT_REVIEW}
    queue = deque(seen)
    while queue:
        for following in TRANSITIONS[queue.popleft()]:
            if following not in seen:
                seen.add(following)
                queue.append(following)
    assert set(S.values) - seen == {S.BACKLOG_RANKING}


@pytest.mark.parametrize(
    ("old", "new"), [(old, new) for old, targets in TRANSITIONS.items() for new in sorted(targets)]
)
def test_set_tree_state_takes_every_edge_of_the_table(
    volunteer: User, settings: object, old: str, new: str
) -> None:
    settings.OASST_P_ACTIVATE_BACKLOG_TREE = 0.0
    tree = bare_tree(old, author=volunteer)

    assert set_tree_state(tree, new, reason="test") is True

    tree.refresh_from_db()
    assert tree.state == new
    assert tree.active == (new not in TERMINAL_STATES)
    assert JournalEvent.objects.filter(tree_id=tree.pk, event_type="tree_state_changed").exists()


@pytest.mark.parametrize(
    ("old", "new"),
    [(old, new) for old in S.values for new in S.values if new not in TRANSITIONS[old]],
)
def test_set_tree_state_refuses_every_other_pair(volunteer: User, old: str, new: str) -> None:
    tree = bare_tree(old, author=volunteer)

    with pytest.raises(InvalidTransition):
        set_tree_state(tree, new)

    tree.refresh_from_db()
    assert tree.state == old


def test_set_tree_state_loses_the_race_when_the_state_changed_underneath(volunteer: User) -> None:
    tree = bare_tree(S.RANKING, author=volunteer)
    stale = MessageTree.objects.get(pk=tree.pk)
    assert set_tree_state(tree, S.READY_FOR_SCORING)

    assert set_tree_state(stale, S.READY_FOR_SCORING) is False
    assert stale.state == S.READY_FOR_SCORING  # refreshed after losing


def test_entering_growing_stamps_the_lottery_date_once(volunteer: User) -> None:
    tree = bare_tree(S.PROMPT_LOTTERY_WAITING, author=volunteer)
    set_tree_state(tree, S.GROWING)
    first = tree.won_lottery_at
    assert first is not None
    set_tree_state(tree, S.HALTED_BY_MODERATOR)
    set_tree_state(tree, S.GROWING)
    assert tree.won_lottery_at == first


# --- Prompt review (§3.5) --------------------------------------------------------------


def test_prompt_is_accepted_only_at_the_required_number_of_reviews(small_trees: object) -> None:
    author, first, second = people(3)
    prompt = write_prompt(author)
    review(prompt, first)
    assert tree_of(prompt).state == S.INITIAL_PROMPT_REVIEW

    review(prompt, second)

    tree = tree_of(prompt)
    assert tree.state == S.PROMPT_LOTTERY_WAITING
    assert tree.active is False
    assert Message.objects.get(pk=prompt.pk).review_result is True


def test_acceptance_exactly_at_the_threshold_rejects_the_prompt(small_trees: object) -> None:
    author, first, second = people(3)
    prompt = write_prompt(author)
    review(prompt, first, spam=0.4)
    review(prompt, second, spam=0.4)  # acceptance = 1 - 0.4 = 0.6, not > 0.6

    assert tree_of(prompt).state == S.ABORTED_LOW_GRADE
    assert Message.objects.get(pk=prompt.pk).review_result is False


def test_acceptance_just_above_the_threshold_accepts_the_prompt(small_trees: object) -> None:
    author, first, second = people(3)
    prompt = write_prompt(author)
    review(prompt, first, spam=0.3)
    review(prompt, second, spam=0.4)  # acceptance 0.65

    assert tree_of(prompt).state == S.PROMPT_LOTTERY_WAITING


def test_language_mismatch_counts_against_acceptance(small_trees: object) -> None:
    author, first, second = people(3)
    prompt = write_prompt(author)
    review(prompt, first, spam=0.0, lang_mismatch=1.0)
    review(prompt, second, spam=0.0, lang_mismatch=0.0)  # 1 - (0 + 0.5) = 0.5

    assert tree_of(prompt).state == S.ABORTED_LOW_GRADE


# --- Growing (§3.3) -------------------------------------------------------------------


def growing_tree(settings: object) -> tuple[Message, list[User]]:
    """An accepted prompt that won the lottery (max active trees 2)."""
    crowd = people(6)
    prompt = write_prompt(crowd[0])
    accept(prompt, crowd[1:3])
    assert lifecycle.run_lottery("en", max_activate=1) == 1
    assert tree_of(prompt).state == S.GROWING
    return prompt, crowd


def test_reply_is_accepted_or_rejected_by_its_reviews(small_trees: object) -> None:
    prompt, crowd = growing_tree(small_trees)
    good = write_reply(crowd[1], prompt)
    bad = write_reply(crowd[2], prompt)
    accept(good, crowd[3:5])
    review(bad, crowd[3], spam=1.0)
    review(bad, crowd[4], spam=1.0)

    assert Message.objects.get(pk=good.pk).review_result is True
    assert Message.objects.get(pk=bad.pk).review_result is False


def test_an_accepted_reply_is_never_turned_down_by_later_reviews(small_trees: object) -> None:
    prompt, crowd = growing_tree(small_trees)
    reply = write_reply(crowd[1], prompt)
    accept(reply, crowd[2:4])
    review(reply, crowd[4], spam=1.0)
    review(reply, crowd[5], spam=1.0)

    assert Message.objects.get(pk=reply.pk).review_result is True


def test_growing_moves_to_ranking_at_goal_size_and_not_before(small_trees: object) -> None:
    prompt, crowd = growing_tree(small_trees)
    first = write_reply(crowd[1], prompt)
    accept(first, crowd[3:5])
    second = write_reply(crowd[2], prompt)
    accept(second, crowd[3:5])
    follow_up = write_reply(crowd[3], first)
    review(follow_up, crowd[4])
    assert tree_of(prompt).state == S.GROWING  # 3 accepted, goal 4, one in review

    review(follow_up, crowd[5])

    assert tree_of(prompt).state == S.RANKING


def test_a_message_still_in_review_holds_the_tree_in_growing(small_trees: object) -> None:
    prompt, crowd = growing_tree(small_trees)
    first = write_reply(crowd[1], prompt)
    second = write_reply(crowd[2], prompt)
    accept(first, crowd[3:5])
    third = write_reply(crowd[3], first)
    accept(third, crowd[4:6])
    assert lifecycle.count_tree_size(tree_of(prompt)) == 3
    accept(second, [crowd[4]])
    assert tree_of(prompt).state == S.GROWING  # size 3 < 4 while second waits

    accept(second, [crowd[5]])
    assert tree_of(prompt).state == S.RANKING


def test_stalled_growing_tree_with_siblings_moves_on_to_ranking(small_trees: object) -> None:
    small_trees.OASST_GOAL_TREE_SIZE = 10
    small_trees.OASST_MAX_TREE_DEPTH = 1  # only replies to the prompt, at most 2
    crowd = people(6)
    prompt = write_prompt(crowd[0])
    accept(prompt, crowd[1:3])
    lifecycle.run_lottery("en", max_activate=1)
    first = write_reply(crowd[1], prompt)
    second = write_reply(crowd[2], prompt)
    accept(first, crowd[3:5])
    assert tree_of(prompt).state == S.GROWING

    accept(second, crowd[3:5])

    tree = tree_of(prompt)
    assert tree.state == S.RANKING
    assert JournalEvent.objects.filter(
        tree_id=tree.pk, payload__reason="stalled at 3 messages"
    ).exists()


def test_stalled_growing_tree_with_nothing_to_rank_is_halted_for_a_moderator(
    small_trees: object,
) -> None:
    small_trees.OASST_GOAL_TREE_SIZE = 10
    small_trees.OASST_MAX_TREE_DEPTH = 1
    small_trees.OASST_MAX_CHILDREN_COUNT = 1
    crowd = people(6)
    prompt = write_prompt(crowd[0])
    accept(prompt, crowd[1:3])
    lifecycle.run_lottery("en", max_activate=1)
    only = write_reply(crowd[1], prompt)
    review(only, crowd[3])
    assert tree_of(prompt).state == S.GROWING

    review(only, crowd[4])

    assert tree_of(prompt).state == S.HALTED_BY_MODERATOR


def test_growing_tree_whose_messages_are_all_deleted_is_halted(small_trees: object) -> None:
    prompt, _crowd = growing_tree(small_trees)
    tree = tree_of(prompt)
    lifecycle.delete_message(Message.objects.get(pk=prompt.pk))
    lifecycle.check_growing_done(tree)
    assert tree.state == S.HALTED_BY_MODERATOR


# --- Ranking and scoring (§3.7) ---------------------------------------------------------


def ranking_tree(settings: object) -> tuple[Message, list[Message], list[User]]:
    prompt, crowd = growing_tree(settings)
    first = write_reply(crowd[1], prompt)
    second = write_reply(crowd[2], prompt)
    accept(first, crowd[3:5])
    accept(second, crowd[3:5])
    follow_up = write_reply(crowd[3], first)
    accept(follow_up, crowd[4:6])
    assert tree_of(prompt).state == S.RANKING
    return prompt, [first, second], crowd


def test_ranking_completes_at_the_required_number_and_scores_the_tree(small_trees: object) -> None:
    prompt, (first, second), crowd = ranking_tree(small_trees)
    rank(prompt, crowd[4], order=[second, first])
    assert tree_of(prompt).state == S.RANKING

    rank(prompt, crowd[5], order=[second, first])

    assert tree_of(prompt).state == S.READY_FOR_EXPORT
    assert Message.objects.get(pk=second.pk).rank == 0
    assert Message.objects.get(pk=first.pk).rank == 1
    assert Message.objects.get(pk=first.pk).ranking_count == 2


def test_scoring_failure_goes_to_scoring_failed_and_a_retry_exports(
    small_trees: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    prompt, (first, second), crowd = ranking_tree(small_trees)

    def broken(tree: MessageTree) -> None:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(lifecycle, "write_consensus_ranks", broken)
    rank(prompt, crowd[4])
    rank(prompt, crowd[5])
    tree = tree_of(prompt)
    assert tree.state == S.SCORING_FAILED
    assert tree.active is False

    monkeypatch.undo()
    lifecycle.retry_scoring(tree)

    assert tree.state == S.READY_FOR_EXPORT
    assert Message.objects.get(pk=first.pk).rank == 0


def test_scoring_retry_goes_back_to_ranking_when_rankings_are_missing(small_trees: object) -> None:
    prompt, _replies, _crowd = ranking_tree(small_trees)
    tree = tree_of(prompt)
    tree.state = S.SCORING_FAILED
    MessageTree.objects.filter(pk=tree.pk).update(state=S.SCORING_FAILED, active=False)

    lifecycle.retry_scoring(tree)

    assert tree.state == S.RANKING


# --- Auto-moderation (§3.8) -------------------------------------------------------------


def test_three_red_flags_leave_a_prompt_alone_and_the_fourth_aborts_it(volunteer: User) -> None:
    prompt = write_prompt(volunteer)
    flaggers = people(4)
    for flagger in flaggers[:3]:
        set_emoji(prompt, user=flagger, emoji=Emoji.RED_FLAG)
    assert tree_of(prompt).state == S.INITIAL_PROMPT_REVIEW

    set_emoji(prompt, user=flaggers[3], emoji=Emoji.RED_FLAG)

    assert tree_of(prompt).state == S.ABORTED_LOW_GRADE


def test_four_red_flags_delete_a_reply_and_everything_below_it(small_trees: object) -> None:
    prompt, crowd = growing_tree(small_trees)
    reply = write_reply(crowd[1], prompt)
    accept(reply, crowd[2:4])
    below = write_reply(crowd[2], reply)
    for flagger in people(4):
        set_emoji(reply, user=flagger, emoji=Emoji.RED_FLAG)

    assert Message.objects.get(pk=reply.pk).deleted is True
    assert Message.objects.get(pk=below.pk).deleted is True
    assert tree_of(prompt).state == S.GROWING


def test_skip_reply_limit_halts_the_tree(small_trees: object) -> None:
    small_trees.OASST_AUTO_MOD_MAX_SKIP_REPLY = 2
    from oasst.trees.tasks import nack_task
    from tests.trees.factories import assign

    prompt, crowd = growing_tree(small_trees)
    nack_task(assign(crowd[1], "assistant_reply", prompt), user=crowd[1])
    assert tree_of(prompt).state == S.GROWING

    nack_task(assign(crowd[2], "assistant_reply", prompt), user=crowd[2])

    assert tree_of(prompt).state == S.HALTED_BY_MODERATOR


def test_auto_moderation_sweep_catches_flags_counted_before_the_threshold_was_lowered(
    volunteer: User, settings: object
) -> None:
    prompt = write_prompt(volunteer)
    for flagger in people(2):
        set_emoji(prompt, user=flagger, emoji=Emoji.RED_FLAG)
    settings.OASST_AUTO_MOD_RED_FLAGS = 2

    assert lifecycle.run_auto_moderation("en") == 1
    assert tree_of(prompt).state == S.ABORTED_LOW_GRADE


# --- Halt and un-halt ------------------------------------------------------------------


def test_unhalt_returns_a_tree_that_won_the_lottery_to_growing(small_trees: object) -> None:
    prompt, _crowd = growing_tree(small_trees)
    tree = tree_of(prompt)
    assert lifecycle.halt_tree(tree)
    assert tree.state == S.HALTED_BY_MODERATOR

    assert lifecycle.unhalt_tree(tree)
    assert tree.state == S.GROWING


def test_unhalt_of_a_tree_in_review_returns_to_review_never_to_the_lottery(
    small_trees: object,
) -> None:
    author, first, second = people(3)
    prompt = write_prompt(author)
    tree = tree_of(prompt)
    lifecycle.halt_tree(tree)
    lifecycle.unhalt_tree(tree)
    assert tree.state == S.INITIAL_PROMPT_REVIEW

    accept(prompt, [first, second])
    tree.refresh_from_db()
    assert tree.state == S.PROMPT_LOTTERY_WAITING


# --- Lottery (§3.4) ------------------------------------------------------------------------


def waiting_prompt(author: User, reviewers: list[User]) -> Message:
    prompt = write_prompt(author)
    accept(prompt, reviewers)
    return prompt


def test_lottery_fills_growing_up_to_max_active_trees(small_trees: object) -> None:
    reviewers = people(2)
    for author in people(4):
        waiting_prompt(author, reviewers)

    assert lifecycle.run_lottery("en", max_activate=10) == 2
    assert lifecycle.run_lottery("en", max_activate=10) == 0
    assert MessageTree.objects.filter(state=S.GROWING).count() == 2
    assert MessageTree.objects.filter(state=S.PROMPT_LOTTERY_WAITING).count() == 2


def test_lottery_is_due_with_a_free_place_and_a_waiting_prompt(small_trees: object) -> None:
    reviewers = people(2)
    assert lifecycle.lottery_is_due("en") is False  # nothing waits
    for author in people(3):
        waiting_prompt(author, reviewers)
    assert lifecycle.lottery_is_due("en") is True
    assert lifecycle.lottery_is_due("de") is False
    lifecycle.run_lottery("en", max_activate=10)  # fills both places (OASST_MAX_ACTIVE_TREES=2)
    assert MessageTree.objects.filter(state=S.PROMPT_LOTTERY_WAITING).count() == 1
    assert lifecycle.lottery_is_due("en") is False  # one waits, but no place is free


def test_lottery_is_per_language(small_trees: object) -> None:
    reviewers = people(2)
    waiting_prompt(people(1)[0], reviewers)

    assert lifecycle.run_lottery("de", max_activate=2) == 0
    assert lifecycle.run_lottery("en", max_activate=2) == 1


def test_lottery_skips_banned_authors_and_their_prompts_are_halted(small_trees: object) -> None:
    reviewers = people(2)
    author = people(1)[0]
    prompt = waiting_prompt(author, reviewers)
    ban_user(author, reason="spam")

    assert lifecycle.run_lottery("en", max_activate=2) == 0
    assert lifecycle.halt_prompts_of_disabled_users() == 1
    assert tree_of(prompt).state == S.HALTED_BY_MODERATOR


def test_lottery_weights_authors_by_replies_ranked_first_this_month() -> None:
    random.seed(7)
    wins = Counter(lifecycle.pick_lottery_author([1, 2], {2: 3}) for _ in range(4000))
    # Weights 1 and 4: author 2 should win about 80 % of the draws.
    assert 0.76 < wins[2] / 4000 < 0.84


def test_monthly_first_ranks_count_only_recent_first_places(volunteer: User) -> None:
    other = make_user("other")

    def ranked_reply(author: User, *, rank_value: int, days_ago: int) -> None:
        tree = bare_tree(S.READY_FOR_EXPORT, author=volunteer)
        Message.objects.create(
            tree=tree,
            parent_id=tree.pk,
            user=author,
            role="assistant",
            text="An answer.",
            lang="en",
            depth=1,
            rank=rank_value,
            created_at=timezone.now() - timedelta(days=days_ago),
        )

    ranked_reply(volunteer, rank_value=0, days_ago=1)
    ranked_reply(volunteer, rank_value=0, days_ago=3)
    ranked_reply(volunteer, rank_value=0, days_ago=40)  # too old
    ranked_reply(volunteer, rank_value=1, days_ago=1)  # not first
    ranked_reply(other, rank_value=0, days_ago=2)

    assert lifecycle.monthly_first_ranks([volunteer.pk, other.pk]) == {
        volunteer.pk: 2,
        other.pk: 1,
    }


def test_initial_prompts_available_follows_oa_formula(small_trees: object) -> None:
    small_trees.OASST_MAX_INITIAL_PROMPT_REVIEW = 3
    small_trees.OASST_MAX_PROMPT_LOTTERY_WAITING = 4
    author = people(1)[0]
    write_prompt(author)
    # free = (2 - 0 growing) + (3 - 1 in review) = 4; room = 4 - 0 waiting
    assert lifecycle.count_initial_prompts_available("en") == 4
    small_trees.OASST_MAX_PROMPT_LOTTERY_WAITING = 1
    assert lifecycle.count_initial_prompts_available("en") == 1
    small_trees.OASST_INIT_PROMPT_DISABLED_LANGS = ["en"]
    assert lifecycle.count_initial_prompts_available("en") == 0


# --- Backlog ------------------------------------------------------------------------------


def test_backlog_tree_is_activated_when_an_active_tree_finishes(small_trees: object) -> None:
    small_trees.OASST_P_ACTIVATE_BACKLOG_TREE = 1.0
    author = people(1)[0]
    backlog = bare_tree(S.BACKLOG_RANKING, author=author)
    root = Message.objects.get(pk=backlog.pk)
    root.review_result = True
    root.save()
    for helper in people(2):
        Message.objects.create(
            tree=backlog, parent=root, user=helper, role="assistant", text=f"a {helper.pk}",
            lang="en", depth=1, review_result=True,
        )  # fmt: skip
    active = bare_tree(S.RANKING, author=author)

    set_tree_state(active, S.READY_FOR_SCORING)
    set_tree_state(active, S.READY_FOR_EXPORT)

    backlog.refresh_from_db()
    assert backlog.state == S.RANKING


def test_backlog_tree_with_nothing_to_rank_is_aborted(volunteer: User) -> None:
    backlog = bare_tree(S.BACKLOG_RANKING, author=volunteer)
    assert lifecycle.activate_backlog_tree("en") == backlog
    backlog.refresh_from_db()
    assert backlog.state == S.ABORTED_LOW_GRADE
