"""Donating a chat: with its author's consent, the chat becomes a message tree of the dataset.

The chat's prompts become prompter messages by the chat's author (the first
is the initial prompt); the model's answers become assistant messages marked
``synthetic`` with their ``model_name``; the author's "better answers" become
human assistant replies beside the model's answer they improve on. Answers
from regenerate and drafts stay siblings, and the author's thumbs up and
down on the model's answers become their +1 and -1 reactions there. Reports
stay with the chat's moderation; they are not carried over.

The new tree starts in ``initial_prompt_review``, like a prompt written for an
initial-prompt task: its prompt is reviewed by the crowd, then it waits for
the prompt lottery, grows (the donated replies are reviewed there like any
reply, and volunteers may add more), and is ranked and exported. We do not
put it in ``backlog_ranking`` as the importer does with synthetic data:
nothing in a chat has been reviewed, and the whole point of donating is that
people review and rank it. The per-language cap on prompts in review is not
applied: it throttles new prompt tasks, and refusing a donation would lose
the author's consent action for a queue that drains on its own.

The tree belongs to the dataset from then on: deleting or hiding the chat
later leaves it in place (a moderator can delete it like any tree).

What the tree tables allow and a chat may not respect is cut, and the result
says how much:

- the tree has one root: other versions of the first prompt are left out;
- one reply per person per parent: of several versions of a follow-up
  prompt, the one on the shown branch (else the newest) is kept, and of
  several better answers under one prompt, the newest;
- ``OASST_MAX_TREE_DEPTH``: deeper messages are left out, and so is a
  prompt at the deepest level, which nobody could answer;
- ``OASST_MAX_CHILDREN_COUNT``: siblings beyond it are left out, the shown
  branch first kept, then the human answer, then the oldest;
- ``OASST_MESSAGE_SIZE_LIMIT``: a longer message is left out with its replies,
  as are answers without text (failed or stopped before the first token).
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass, field

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from oasst.accounts.models import ApiClient, User
from oasst.chat.conversation import ChatError, ChatNotFound
from oasst.chat.models import WORKING_STATES, BetterAnswer, Chat, ChatMessage, Role, Vote
from oasst.exports.importer import import_client, placeholder_user
from oasst.trees import lifecycle
from oasst.trees.journal import record_event
from oasst.trees.models import Emoji, Message, MessageTree
from oasst.trees.models import Role as TreeRole
from oasst.trees.submissions import add_emoji

ORIGIN_PREFIX = "chat-donation"


@dataclass
class Donation:
    """What donating made: the tree, and what was left out to fit the tree's rules."""

    tree: MessageTree
    created: bool
    messages: int = 0
    synthetic: int = 0
    human_answers: int = 0
    votes: int = 0
    left_out: dict[str, int] = field(default_factory=dict)

    @property
    def root_id(self) -> object:
        return self.tree.pk

    def leave_out(self, reason: str, count: int = 1) -> None:
        if count:
            self.left_out[reason] = self.left_out.get(reason, 0) + count


@dataclass
class _Node:
    """One message of the future tree, before it is written."""

    role: str
    text: str
    source: ChatMessage | None = None
    better: BetterAnswer | None = None
    children: list[_Node] = field(default_factory=list)


def donate_chat(chat: Chat, *, user: User, consent: bool = False) -> Donation:
    """Turn ``chat`` into a message tree in ``initial_prompt_review``; returns the donation.

    Only the chat's author may donate (anyone else gets ChatNotFound). The
    chat must allow data use, or ``consent`` must be given, which turns that
    setting on. Empty chats and chats with an answer still being written are
    refused with a ChatError and nothing is changed. Donating again returns
    the tree made the first time. One transaction, holding the chat's row lock.
    """
    if chat.user_id != user.pk or not user.is_authenticated:
        raise ChatNotFound(chat.pk)
    with transaction.atomic():
        locked = Chat.objects.select_for_update().get(pk=chat.pk)
        if locked.donated_tree_id is not None:
            tree = MessageTree.objects.get(pk=locked.donated_tree_id)
            _refresh(chat, locked)
            return Donation(tree=tree, created=False, messages=tree.messages.count())
        if not locked.allow_data_use and not consent:
            raise ChatError(_("Allow this chat to be used as training data before donating it."))
        messages = list(locked.messages.all())
        if any(m.state in WORKING_STATES for m in messages):
            raise ChatError(_("Wait until the answer is finished, or stop it, before donating."))
        root, left_out = _plan_tree(locked, messages)
        if root is None:
            raise ChatError(_("There is nothing to donate yet: the chat has no messages."))
        donation = _write_tree(locked, root, user=user)
        for reason, count in left_out.items():
            donation.leave_out(reason, count)
        now = timezone.now()
        locked.allow_data_use = True
        locked.donated_tree = donation.tree
        locked.donated_at = now
        locked.save(update_fields=["allow_data_use", "donated_tree", "donated_at"])
        record_event(
            "chat_donated",
            user_id=user.pk,
            message_id=donation.tree.pk,
            tree_id=donation.tree.pk,
            chat_id=locked.pk,
            messages=donation.messages,
            synthetic=donation.synthetic,
            human_answers=donation.human_answers,
            left_out=donation.left_out,
        )
    _refresh(chat, locked)
    return donation


def _refresh(chat: Chat, locked: Chat) -> None:
    chat.allow_data_use = locked.allow_data_use
    chat.donated_tree_id = locked.donated_tree_id
    chat.donated_at = locked.donated_at


# --- Planning: the chat's tree cut to the tree engine's rules ----------------------------


def _active_path(chat: Chat, messages: list[ChatMessage]) -> set[int]:
    """Ids of the branch the chat shows: from the active leaf (else the newest) up to its root."""
    by_id = {m.id: m for m in messages}
    leaf = by_id.get(chat.active_leaf_id) if chat.active_leaf_id else None
    if leaf is None and messages:
        leaf = messages[-1]
    path: set[int] = set()
    while leaf is not None:
        path.add(leaf.id)
        leaf = by_id.get(leaf.parent_id) if leaf.parent_id else None
    return path


def _plan_tree(chat: Chat, messages: list[ChatMessage]) -> tuple[_Node | None, dict[str, int]]:
    """The tree to write (None when there is no prompt), and counts of what was left out."""
    left_out: dict[str, int] = defaultdict(int)  # the reason → messages, replies included
    limit = settings.OASST_MESSAGE_SIZE_LIMIT
    usable: list[ChatMessage] = []
    for m in messages:
        text = m.text.strip()
        if not text:
            left_out[_("empty answers")] += 1
        elif len(text) > limit:
            left_out[_("messages over the size limit")] += 1
        else:
            usable.append(m)
    usable_ids = {m.id for m in usable}
    children: dict[int | None, list[ChatMessage]] = defaultdict(list)
    for m in usable:
        # A message under a left-out one is unreachable and is left out with it.
        if m.parent_id is None or m.parent_id in usable_ids:
            children[m.parent_id].append(m)
    path = _active_path(chat, messages)
    better: dict[int, list[BetterAnswer]] = defaultdict(list)
    for answer in BetterAnswer.objects.filter(message__chat=chat, user_id=chat.user_id).order_by(
        "created_at", "id"
    ):
        if answer.text.strip() and len(answer.text.strip()) <= limit:
            better[answer.message_id].append(answer)

    def prefer_shown_then_newest(candidates: list[ChatMessage]) -> ChatMessage:
        shown = [m for m in candidates if m.id in path]
        return shown[0] if shown else candidates[-1]

    roots = [m for m in children[None] if m.role == Role.PROMPTER]
    if not roots:
        return None, dict(left_out)
    root_message = prefer_shown_then_newest(roots)
    left_out[_("other versions of the first prompt")] += _count(
        [m for m in roots if m is not root_message], children
    )
    max_depth = settings.OASST_MAX_TREE_DEPTH
    max_children = settings.OASST_MAX_CHILDREN_COUNT

    def build(message: ChatMessage, depth: int) -> _Node:
        node = _Node(role=message.role, text=message.text.strip(), source=message)
        below = children.get(message.id, [])
        if depth >= max_depth:
            left_out[_("messages deeper than the tree's depth limit")] += _count(below, children)
            return node
        if message.role == Role.ASSISTANT:
            prompts = [m for m in below if m.role == Role.PROMPTER]
            if prompts:
                chosen = prefer_shown_then_newest(prompts)
                left_out[_("other versions of a follow-up prompt")] += _count(
                    [m for m in prompts if m is not chosen], children
                )
                if depth + 1 >= max_depth:
                    # A prompt at the deepest level could never be answered.
                    left_out[_("messages deeper than the tree's depth limit")] += _count(
                        [chosen], children
                    )
                else:
                    node.children.append(build(chosen, depth + 1))
            return node
        answers = [m for m in below if m.role == Role.ASSISTANT]
        # A better answer counts even when the answer it improves on was left out.
        human = [
            b
            for m in messages
            if m.parent_id == message.id and m.role == Role.ASSISTANT
            for b in better.get(m.id, [])
        ]
        human.sort(key=lambda b: (b.created_at, b.id))
        left_out[_("other better answers to the same prompt")] += max(0, len(human) - 1)
        ranked: list[tuple[tuple[int, int], _Node | ChatMessage]] = []
        for order, m in enumerate(answers):
            ranked.append(((0 if m.id in path else 2, order), m))
        if human:
            answer = human[-1]
            ranked.append(
                ((1, 0), _Node(role=Role.ASSISTANT, text=answer.text.strip(), better=answer))
            )
        ranked.sort(key=lambda item: item[0])
        kept, dropped = ranked[:max_children], ranked[max_children:]
        for _key, item in dropped:
            left_out[_("answers beyond the tree's children limit")] += (
                1 if isinstance(item, _Node) else _count([item], children)
            )
        # Written in the chat's order, the human answer last.
        for _key, item in sorted(kept, key=lambda pair: (isinstance(pair[1], _Node), pair[0][1])):
            node.children.append(item if isinstance(item, _Node) else build(item, depth + 1))
        return node

    return build(root_message, 0), dict(left_out)


def _count(messages: list[ChatMessage], children: dict[int | None, list[ChatMessage]]) -> int:
    """How many messages these are, with everything below them."""
    total = 0
    stack = list(messages)
    while stack:
        message = stack.pop()
        total += 1
        stack.extend(children.get(message.id, []))
    return total


# --- Writing --------------------------------------------------------------------------


def _write_tree(chat: Chat, root: _Node, *, user: User) -> Donation:
    """Should be called inside a transaction: the planned tree as rows, all awaiting review."""
    lang = user.task_language
    tree = lifecycle.open_tree(lang=lang, origin=f"{ORIGIN_PREFIX}:{chat.pk}")
    donation = Donation(tree=tree, created=True)
    client = import_client()
    # The author's thumbs on the model's answers become their +1 and -1 reactions.
    votes = {
        message_id: Emoji.PLUS_ONE if score > 0 else Emoji.MINUS_ONE
        for message_id, score in Vote.objects.filter(
            message__chat=chat, user_id=chat.user_id
        ).values_list("message_id", "score")
    }
    model_answers: dict[object, int] = defaultdict(int)
    stack: list[tuple[_Node, Message | None]] = [(root, None)]
    while stack:
        node, parent = stack.pop()
        synthetic = node.role == Role.ASSISTANT and node.better is None
        author = user
        if synthetic and parent is not None:
            # One reply per person per parent: each model answer under a prompt
            # gets its own stand-in author, numbered by its place among them.
            author = _model_author(client, model_answers[parent.pk])
            model_answers[parent.pk] += 1
        source = node.source
        message = Message.objects.create(
            id=tree.pk if parent is None else uuid.uuid4(),
            tree=tree,
            parent=parent,
            user=author,
            frontend_message_id=(
                f"chat-message-{source.pk}"
                if source is not None
                else f"chat-better-{node.better.pk}"
            ),
            role=TreeRole.PROMPTER if node.role == Role.PROMPTER else TreeRole.ASSISTANT,
            text=node.text,
            lang=lang,
            depth=0 if parent is None else parent.depth + 1,
            # Every planned child is written below it.
            children_count=len(node.children),
            synthetic=synthetic,
            model_name=source.model_name if synthetic and source is not None else "",
            created_at=(source.created_at if source is not None else node.better.created_at),
        )
        if synthetic and source is not None and source.pk in votes:
            add_emoji(message, user=user, emoji=votes[source.pk])
            donation.votes += 1
        donation.messages += 1
        donation.synthetic += synthetic
        donation.human_answers += node.role == Role.ASSISTANT and not synthetic
        # Reversed so that siblings are written in the planned order.
        stack.extend((child, message) for child in reversed(node.children))
    return donation


def _model_author(client: ApiClient, index: int) -> User:
    return placeholder_user(client, f"chat-model-{index}", display_name=f"model answer {index + 1}")
