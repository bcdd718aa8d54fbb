"""Building tree states for the page tests through the tree engine's own functions."""

from __future__ import annotations

from typing import Any

from oasst.accounts.models import User
from oasst.trees import submissions, tasks
from oasst.trees.models import (
    Emoji,
    EmojiReaction,
    Message,
    MessageTree,
    Role,
    Task,
    TaskType,
    TextLabel,
    TreeState,
)

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


def bushy_tree(people: list[User], *, size: int, reactor: User, lang: str = "en") -> Message:
    """A finished tree of ``size`` messages written straight into the tables, for query counts.

    Not built through the engine: only the rows the pages read. Every message
    is accepted, labelled by two people, reacted to by ``reactor`` and, among
    siblings, ranked; authors rotate through ``people`` (at least three).
    """
    tree = MessageTree.objects.create(
        state=TreeState.READY_FOR_EXPORT,
        active=False,
        lang=lang,
        goal_tree_size=size,
        max_depth=size,
        max_children_count=3,
    )
    root = Message.objects.create(
        id=tree.pk, tree=tree, user=people[0], role=Role.PROMPTER, lang=lang, review_result=True,
        text="Which houseplants survive a dark north-facing room?", review_count=3,
    )  # fmt: skip
    made, frontier = [root], [root]
    while len(made) < size:
        parent = frontier.pop(0)
        role = Role.ASSISTANT if parent.role == Role.PROMPTER else Role.PROMPTER
        for rank in range(3 if role == Role.ASSISTANT else 1):
            if len(made) >= size:
                break
            author = people[(len(made) + rank) % len(people)]
            child = Message.objects.create(
                tree=tree, parent=parent, user=author, role=role, lang=lang, depth=parent.depth + 1,
                review_result=True, review_count=3, rank=rank if role == Role.ASSISTANT else None,
                text=f"Reply {len(made)}: a snake plant or a **ZZ plant** copes with little light.",
                emojis={"+1": 1},
            )  # fmt: skip
            made.append(child)
            frontier.append(child)
    for index, message in enumerate(made):
        EmojiReaction.objects.create(message=message, user=reactor, emoji=Emoji.PLUS_ONE)
        for labeller in (people[(index + 1) % len(people)], people[(index + 2) % len(people)]):
            TextLabel.objects.create(message=message, user=labeller, labels=GOOD)
    return root
