"""Two volunteers finishing the same tree at the same moment, on real concurrent connections.

These need PostgreSQL (the CI's second leg): SQLite's test database is one
in-memory connection, so threads cannot race on it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest
from django.db import connection, connections

from oasst.accounts.models import User
from oasst.trees import lifecycle, submissions, tasks
from oasst.trees.models import JournalEvent, Message, MessageTree, TaskType, TextLabel, TreeState
from tests.trees.factories import (
    accept,
    assign,
    label_task_type,
    people,
    tree_of,
    write_prompt,
    write_reply,
)

pytestmark = [
    pytest.mark.services,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


@pytest.fixture(autouse=True)
def _needs_postgresql() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("concurrent-connection races run on PostgreSQL (the DATABASE_URL leg of CI)")


def run_together(*actions: Callable[[], object]) -> list[object]:
    """Start every action at the same instant on its own thread and connection; return results."""
    barrier = threading.Barrier(len(actions))
    results: list[object] = [None] * len(actions)

    def run(index: int, action: Callable[[], object]) -> None:
        try:
            barrier.wait()
            results[index] = action()
        except Exception as exc:  # reported to the test, which asserts on it
            results[index] = exc
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i, a)) for i, a in enumerate(actions)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results


def state_changes(tree: MessageTree, new_state: str) -> int:
    return JournalEvent.objects.filter(
        tree_id=tree.pk, event_type="tree_state_changed", payload__new_state=new_state
    ).count()


def test_two_last_reviews_at_once_accept_the_prompt_exactly_once(small_trees: object) -> None:
    small_trees.OASST_NUM_REVIEWS_INITIAL_PROMPT = 3
    author, first, second, third = people(4)
    prompt = write_prompt(author)
    accept(prompt, [first])
    task_a = assign(second, TaskType.LABEL_INITIAL_PROMPT, prompt)
    task_b = assign(third, TaskType.LABEL_INITIAL_PROMPT, prompt)

    def label(task: object, user: User) -> Callable[[], object]:
        return lambda: submissions.submit_labels(
            user=user, message_id=prompt.pk, labels={"spam": 0.0}, task=task
        )

    results = run_together(label(task_a, second), label(task_b, third))

    assert not [r for r in results if isinstance(r, Exception)], results
    assert Message.objects.get(pk=prompt.pk).review_count == 3
    tree = tree_of(prompt)
    assert tree.state == TreeState.PROMPT_LOTTERY_WAITING
    assert state_changes(tree, TreeState.PROMPT_LOTTERY_WAITING) == 1


def test_two_last_rankings_at_once_score_the_tree_exactly_once(small_trees: object) -> None:
    small_trees.OASST_NUM_REQUIRED_RANKINGS = 2
    crowd = people(8)
    prompt = write_prompt(crowd[0])
    accept(prompt, crowd[1:3])
    lifecycle.run_lottery("en", max_activate=1)
    first, second = write_reply(crowd[1], prompt), write_reply(crowd[2], prompt)
    accept(first, crowd[3:5])
    accept(second, crowd[3:5])
    follow_up = write_reply(crowd[3], first)
    accept(follow_up, crowd[4:6])
    assert tree_of(prompt).state == TreeState.RANKING
    ranking_tasks = []
    for ranker in crowd[6:8]:
        task = tasks.request_task(ranker, requested=TaskType.RANK_ASSISTANT_REPLIES)
        tasks.ack_task(task, frontend_message_id=f"rank-{ranker.pk}")
        ranking_tasks.append((task, ranker))

    results = run_together(
        *[
            (lambda t=task, u=ranker: submissions.submit_ranking(t, user=u, ranking=[0, 1]))
            for task, ranker in ranking_tasks
        ]
    )

    assert not [r for r in results if isinstance(r, Exception)], results
    tree = tree_of(prompt)
    assert tree.state == TreeState.READY_FOR_EXPORT
    assert state_changes(tree, TreeState.READY_FOR_SCORING) == 1
    assert state_changes(tree, TreeState.READY_FOR_EXPORT) == 1
    assert set(Message.objects.filter(parent=prompt).values_list("ranking_count", flat=True)) == {2}


def test_the_same_label_submitted_twice_at_once_counts_once(small_trees: object) -> None:
    author, reviewer = people(2)
    prompt = write_prompt(author)
    task = assign(reviewer, label_task_type(prompt), prompt)

    def label() -> object:
        return submissions.submit_labels(
            user=reviewer, message_id=prompt.pk, labels={"spam": 0.0}, task=task
        )

    results = run_together(label, label)

    assert not [r for r in results if isinstance(r, Exception)], results
    assert TextLabel.objects.filter(message=prompt).count() == 1
    assert Message.objects.get(pk=prompt.pk).review_count == 1


def test_two_replies_by_one_person_to_one_parent_at_once_store_one(small_trees: object) -> None:
    crowd = people(4)
    prompt = write_prompt(crowd[0])
    accept(prompt, crowd[1:3])
    lifecycle.run_lottery("en", max_activate=1)
    task_a = assign(crowd[3], TaskType.ASSISTANT_REPLY, prompt)
    task_b = assign(crowd[3], TaskType.ASSISTANT_REPLY, prompt)

    results = run_together(
        lambda: submissions.submit_reply(task_a, user=crowd[3], text="First version."),
        lambda: submissions.submit_reply(task_b, user=crowd[3], text="Second version."),
    )

    errors = [r for r in results if isinstance(r, Exception)]
    assert len(errors) == 1
    assert getattr(errors[0], "error_code", None) == 1011
    assert Message.objects.filter(parent=prompt, user=crowd[3]).count() == 1
    assert Message.objects.get(pk=prompt.pk).children_count == 1


def test_two_lottery_draws_at_once_never_exceed_max_active_trees(small_trees: object) -> None:
    small_trees.OASST_MAX_ACTIVE_TREES = 1
    reviewers = people(2)
    for author in people(3):
        accept(write_prompt(author), reviewers)

    from oasst.trees.retries import run_atomically

    results = run_together(
        lambda: run_atomically(lambda: lifecycle.run_lottery("en", max_activate=2)),
        lambda: run_atomically(lambda: lifecycle.run_lottery("en", max_activate=2)),
    )

    assert sorted(results) == [0, 1]
    assert MessageTree.objects.filter(state=TreeState.GROWING).count() == 1
