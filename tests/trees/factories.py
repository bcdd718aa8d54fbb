"""Build tree state through the real payloads and submissions, with the task chosen by the test."""

from __future__ import annotations

import itertools
import uuid

from oasst.accounts.models import User
from oasst.trees import selection, submissions
from oasst.trees.models import (
    Message,
    MessageTree,
    Ranking,
    Role,
    Task,
    TaskType,
    expiry_for_new_task,
)
from oasst.trees.tasks import build_payload
from tests.conftest import make_user

_texts = itertools.count(1)


def assign(
    user: User,
    task_type: str,
    message: Message | None = None,
    *,
    replies: list[Message] | None = None,
    mode: str = "full",
    ack: bool = True,
) -> Task:
    """A task of this type about this message, acknowledged, as request_task would store it."""
    choice = selection.Choice(type=task_type, message=message, mode=mode, replies=replies or [])
    return Task.objects.create(
        type=task_type,
        payload=build_payload(choice, user=user),
        user=user,
        parent_message=message,
        tree_id=message.tree_id if message else None,
        expires_at=expiry_for_new_task(),
        ack=True if ack else None,
        frontend_message_id=f"fe-{uuid.uuid4()}" if ack else "",
    )


def write_prompt(user: User, text: str | None = None, *, lang: str = "en") -> Message:
    task = assign(user, TaskType.INITIAL_PROMPT)
    return submissions.submit_reply(
        task, user=user, text=text or f"Prompt number {next(_texts)}?", lang=lang
    )


def write_reply(user: User, parent: Message, text: str | None = None) -> Message:
    task_type = (
        TaskType.ASSISTANT_REPLY if parent.role == Role.PROMPTER else TaskType.PROMPTER_REPLY
    )
    task = assign(user, task_type, parent)
    return submissions.submit_reply(task, user=user, text=text or f"Reply number {next(_texts)}.")


def label_task_type(message: Message) -> str:
    if message.parent_id is None:
        return TaskType.LABEL_INITIAL_PROMPT
    if message.role == Role.ASSISTANT:
        return TaskType.LABEL_ASSISTANT_REPLY
    return TaskType.LABEL_PROMPTER_REPLY


def review(
    message: Message, reviewer: User, *, spam: float = 0.0, lang_mismatch: float = 0.0
) -> None:
    task = assign(reviewer, label_task_type(message), message)
    submissions.submit_labels(
        user=reviewer,
        message_id=message.pk,
        labels={"spam": spam, "lang_mismatch": lang_mismatch, "quality": 0.75},
        task=task,
    )


def accept(message: Message, reviewers: list[User]) -> None:
    for reviewer in reviewers:
        review(message, reviewer)


def rank(parent: Message, ranker: User, order: list[Message] | None = None) -> Ranking:
    """Rank the accepted replies under ``parent``; ``order`` best first (default: creation order)."""
    replies = list(Message.objects.filter(parent=parent).accepted().order_by("created_at", "pk"))
    task_type = (
        TaskType.RANK_PROMPTER_REPLIES
        if parent.role == Role.ASSISTANT
        else TaskType.RANK_ASSISTANT_REPLIES
    )
    task = assign(ranker, task_type, parent, replies=replies)
    wanted = order or replies
    positions = [replies.index(message) for message in wanted]
    return submissions.submit_ranking(task, user=ranker, ranking=positions)


def tree_of(message: Message) -> MessageTree:
    return MessageTree.objects.get(pk=message.tree_id)


def people(count: int, prefix: str = "p") -> list[User]:
    return [make_user(f"{prefix}{uuid.uuid4().hex[:8]}") for _ in range(count)]
