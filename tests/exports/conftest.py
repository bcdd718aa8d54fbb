"""Trees built row by row with fixed ids and dates, so expected exports can be written by hand."""

from __future__ import annotations

import itertools
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from oasst.accounts.models import User
from oasst.trees.models import (
    EmojiReaction,
    Message,
    MessageTree,
    Ranking,
    Task,
    TaskType,
    TextLabel,
)

_ids = itertools.count(1)
T0 = datetime(2023, 2, 5, 14, 23, 50, 983374, tzinfo=UTC)


def fixed_id(number: int) -> uuid.UUID:
    return uuid.UUID(f"00000000-0000-4000-8000-{number:012d}")


def make_author(name: str) -> User:
    return User.objects.create(username=name, email=f"{name}@example.org")


def make_tree(
    *, state: str = "ready_for_export", lang: str = "en", created_at: datetime = T0, **prompt: Any
) -> tuple[MessageTree, Message]:
    tree_id = prompt.pop("id", None) or fixed_id(next(_ids) + 1000)
    tree = MessageTree.objects.create(
        id=tree_id,
        state=state,
        active=False,
        lang=lang,
        goal_tree_size=12,
        max_depth=3,
        max_children_count=3,
        created_at=created_at,
    )
    root = add_message(
        tree, None, "prompter", id=tree_id, lang=lang, created_at=created_at, **prompt
    )
    return tree, root


def add_message(tree: MessageTree, parent: Message | None, role: str, **fields: Any) -> Message:
    fields.setdefault("id", fixed_id(next(_ids) + 5000))
    fields.setdefault("text", f"{role} text {fields['id']}")
    fields.setdefault("lang", tree.lang)
    fields.setdefault("review_count", 3)
    fields.setdefault("review_result", True)
    fields.setdefault("created_at", (parent.created_at if parent else T0) + timedelta(minutes=1))
    if "user" not in fields:
        fields["user"] = make_author(f"author{next(_ids)}")
    return Message.objects.create(
        tree=tree,
        parent=parent,
        role=role,
        depth=parent.depth + 1 if parent else 0,
        **fields,
    )


def add_labels(message: Message, user: User, labels: dict[str, float | None]) -> TextLabel:
    return TextLabel.objects.create(message=message, user=user, labels=labels)


def add_emoji(message: Message, user: User, emoji: str) -> EmojiReaction:
    return EmojiReaction.objects.create(message=message, user=user, emoji=emoji)


def add_ranking(
    parent: Message, user: User, ranked: list[Message], ranking: list[int], **fields: Any
) -> Ranking:
    task = Task.objects.create(
        type=TaskType.RANK_ASSISTANT_REPLIES,
        user=user,
        tree=parent.tree,
        parent_message=parent,
        done=True,
    )
    return Ranking.objects.create(
        task=task,
        user=user,
        parent=parent,
        tree=parent.tree,
        ranked_message_ids=[str(message.pk) for message in ranked],
        ranking=ranking,
        **fields,
    )


@pytest.fixture
def export_dir(settings: Any, tmp_path: Path) -> Path:
    settings.OASST_EXPORT_DIR = tmp_path / "exports"
    settings.OASST_EXPORT_SALT = "test-salt-" + "s" * 40
    return settings.OASST_EXPORT_DIR


class Garden:
    """One tree with every case the format rules cover (see ``garden``)."""

    def __init__(self) -> None:
        self.users = {
            name: make_author(name) for name in ("ann", "bob", "cy", "dee", "eve", "fay", "gus")
        }
        u = self.users
        minute = timedelta(minutes=1)
        self.tree, self.prompt = make_tree(
            id=fixed_id(1),
            user=u["ann"],
            text="How do I grow tomatoes?",
            emojis={"+1": 2, "_skip_reply": 1},
        )
        p = self.prompt
        self.a1 = add_message(
            self.tree, p, "assistant", id=fixed_id(2), user=u["bob"], rank=1,
            text="Sun, water, patience.", created_at=T0 + minute,
        )  # fmt: skip
        self.a2 = add_message(
            self.tree, p, "assistant", id=fixed_id(3), user=u["cy"], rank=0, review_count=2,
            text="Plant them deep.", created_at=T0 + 2 * minute,
        )  # fmt: skip
        self.a3 = add_message(
            self.tree, p, "assistant", id=fixed_id(4), user=u["dee"],
            text="Ask a gardener.", created_at=T0 + 3 * minute,
        )  # fmt: skip
        self.deleted = add_message(
            self.tree, p, "assistant", id=fixed_id(5), user=u["eve"], deleted=True,
            text="[removed]", created_at=T0 + 4 * minute,
        )  # fmt: skip
        self.spam = add_message(
            self.tree, p, "assistant", id=fixed_id(6), user=u["fay"], review_result=False,
            text="BUY SEEDS", created_at=T0 + 5 * minute,
        )  # fmt: skip
        self.young_spam = add_message(
            self.tree, p, "assistant", id=fixed_id(9), user=u["gus"], review_result=False,
            review_count=1, text="cheap seeds", created_at=T0 + 6 * minute,
        )  # fmt: skip
        self.pending = add_message(
            self.tree, self.a2, "prompter", id=fixed_id(7), user=u["ann"], review_result=None,
            review_count=0, text="How deep?", created_at=T0 + 7 * minute,
        )  # fmt: skip
        self.orphan = add_message(
            self.tree, self.deleted, "prompter", id=fixed_id(8), user=u["ann"],
            text="Why removed?", created_at=T0 + 8 * minute,
        )  # fmt: skip
        add_labels(p, u["bob"], {"spam": 0.0, "quality": 0.5})
        add_labels(p, u["cy"], {"spam": 0.0, "quality": 1.0, "humor": 0.25})
        add_emoji(p, u["bob"], "+1")
        add_emoji(p, u["cy"], "+1")
        add_emoji(p, u["bob"], "_skip_reply")
        self.ranking = add_ranking(p, u["dee"], [self.a2, self.a1], [1, 0])

    def uid(self, name: str) -> str:
        return str(self.users[name].pk)


@pytest.fixture
def garden(db: None) -> Garden:
    return Garden()
