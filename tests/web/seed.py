"""Building tree states for the page tests through the tree engine's own functions."""

from __future__ import annotations

from typing import Any

from oasst.accounts.models import User
from oasst.trees import submissions, tasks
from oasst.trees.models import Message, Task, TaskType

TINY = {
    "OASST_GOAL_TREE_SIZE": 3,
    "OASST_NUM_REVIEWS_INITIAL_PROMPT": 1,
    "OASST_NUM_REVIEWS_REPLY": 1,
    "OASST_NUM_REQUIRED_RANKINGS": 1,
    "OASST_MAX_TREE_DEPTH": 3,
    "OASST_MAX_CHILDREN_COUNT": 2,
    "OASST_MAX_ACTIVE_TREES": 5,
    "OASST_P_ACTIVATE_BACKLOG_TREE": 0.0,
    "OASST_P_FULL_LABELING_REVIEW_PROMPT": 1.0,
    "OASST_P_FULL_LABELING_REVIEW_REPLY_ASSISTANT": 1.0,
    "OASST_P_FULL_LABELING_REVIEW_REPLY_PROMPTER": 1.0,
    "OASST_RATE_LIMIT": False,
}
GOOD = {"spam": 0.0, "lang_mismatch": 0.0, "quality": 0.75}


def use_tiny_trees(settings: Any) -> None:
    """Trees of three messages, one review each, one ranking: a few people finish them."""
    for name, value in TINY.items():
        setattr(settings, name, value)


def take(user: User, task_type: str) -> Task:
    task = tasks.request_task(user, lang=user.task_language, requested=task_type)
    return tasks.ack_task(task, frontend_message_id=f"seed-{task.pk}")


def write_prompt(author: User, text: str) -> Message:
    return submissions.submit_reply(take(author, TaskType.INITIAL_PROMPT), user=author, text=text)


def review(reviewer: User, task_type: str, labels: dict[str, float] | None = None) -> Message:
    task = take(reviewer, task_type)
    submissions.submit_labels(
        user=reviewer, message_id=task.parent_message_id, labels=labels or GOOD, task=task
    )
    return Message.objects.get(pk=task.parent_message_id)


def reply(author: User, task_type: str, text: str) -> Message:
    return submissions.submit_reply(take(author, task_type), user=author, text=text)


def growing_tree(
    author: User, reviewer: User, text: str = "How do tides work, and why are there two a day?"
) -> Message:
    """A prompt by ``author``, accepted by ``reviewer``, drawn by the lottery: it now grows."""
    prompt = write_prompt(author, text)
    review(reviewer, TaskType.LABEL_INITIAL_PROMPT)
    tasks.available_tasks(author, lang=author.task_language)  # runs the lottery
    prompt.refresh_from_db()
    return prompt


def ranking_tree(author: User, helpers: list[User]) -> Message:
    """A tree in ranking: a prompt and two accepted assistant replies (needs three helpers)."""
    first, second, third = helpers
    prompt = growing_tree(author, first)
    reply(
        first,
        TaskType.ASSISTANT_REPLY,
        "The moon pulls the water towards it, and the earth's spin makes two bulges, so most coasts see two high tides a day.",
    )
    review(second, TaskType.LABEL_ASSISTANT_REPLY)
    reply(
        second,
        TaskType.ASSISTANT_REPLY,
        "Tides come from gravity. The moon and the sun pull on the oceans; the water piles up on the near and the far side.",
    )
    review(third, TaskType.LABEL_ASSISTANT_REPLY)
    prompt.tree.refresh_from_db()
    return prompt
