"""JSON lines of the oasst format, joined from each message's JSON text.

The plain writer builds a dict per tree and lets ``json`` encode it. The
fast writer takes each message as a head row (``HEAD_ROW``) whose ``body``
is the JSON text of its fields from ``created_date`` to ``model_name``
(written by PostgreSQL, ``rows.body_sql``, or here by ``body``), links the
tree's rows from the prompt and joins the texts: the ids, the body, the
emojis, the replies in order, then labels and events, then the brace.
The result is what ``writer.tree_object`` and ``writer.flat_messages`` give,
byte for byte: the same keys in the same order, the same rules for what is
left out, the same timestamp spelling; the tests hold both writers to that.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from json.encoder import encode_basestring  # what JSONEncoder(ensure_ascii=False) uses
from typing import Any

# The plain writer's encoder, for the nested values left to json (emoji
# counts, labels, events).
dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
_loads = json.loads
_BOOL = {True: "true", False: "false"}

# A message as the fast writer reads it (``rows.read_rows``): its id and its
# parent's (as the keys of the page's labels and events), its rank, its
# tree, its author, its ``body`` and its emoji counts (a dict or JSON text;
# None when it has none).
HEAD_ROW = ("id", "parent_id", "rank", "tree_id", "user_id", "body", "emojis")
TREE = HEAD_ROW.index("tree_id")

# A message as ``TreeJoiner`` takes it, the tree's messages in reply order:
# its id, its parent's (empty for a prompt), its author, its ``body`` and its
# emoji counts as ``emoji_json`` takes them (empty when it has none). Head
# rows come to this by ``in_reply_order``. PostgreSQL packs a tree so
# (``rows.read_trees_raw``): its messages joined by RECORD, each of them these
# fields joined by FIELD, as text, which ``unpacked`` splits. JSON text never
# holds a raw control character, and ids and numbers hold none either.
PACKED_FIELDS = ("id", "parent_id", "user_id", "body", "emojis")
FIELD, RECORD = "\x1f", "\x1e"


def body(row: tuple) -> str:
    """The JSON text of a message's fields from ``created_date`` to ``model_name``, from an ORM row.

    ``row`` has ``rows.MESSAGE_COLUMNS``; the fields come in OA's declaration
    order, those that are null or empty left out (``exclude_none``), each
    preceded by its comma.
    """
    (
        _id,
        _parent,
        _user,
        created_at,
        text,
        role,
        lang,
        review_count,
        review_result,
        deleted,
        rank,
        synthetic,
        model_name,
        _emojis,
        _tree,
    ) = row
    encode = encode_basestring
    lang_part = f',"lang":{encode(lang)}' if lang else ""
    # OA writes review_result only when it is true or the message had more than two reviews.
    result_part = (
        f',"review_result":{_BOOL[review_result]}'
        if review_result is not None and (review_result or review_count > 2)
        else ""
    )
    rank_part = "" if rank is None else f',"rank":{rank}'
    model_part = f',"model_name":{encode(model_name)}' if model_name else ""
    return (
        f',"created_date":"{created_at.isoformat()}","text":{encode(text)}'
        f',"role":{encode(role)}{lang_part},"review_count":{review_count}{result_part}'
        f',"deleted":{_BOOL[deleted]}{rank_part},"synthetic":{_BOOL[synthetic]}{model_part}'
    )


def head_row(row: tuple) -> tuple:
    """The ``HEAD_ROW`` of an ORM row (``rows.MESSAGE_COLUMNS``)."""
    return (row[0], row[1], row[10], row[14], row[2], body(row), row[13] or None)


def emoji_json(emojis: dict | str) -> str:
    """The ``emojis`` field: the counts that are not zero, when there are any.

    ``emojis`` is a dict, its JSON text, or the field already written
    (by ``rows.emojis_sql``, starting with its comma), which is kept.
    """
    if emojis.__class__ is str:
        if emojis[0] == ",":  # type: ignore[index]
            return emojis  # type: ignore[return-value]
        emojis = _loads(emojis)
        if not emojis:
            return ""
    counts = {code: count for code, count in emojis.items() if count}  # type: ignore[union-attr]
    return ',"emojis":' + dumps(counts) if counts else ""


def tail_json(labels: dict | None, events: dict | None) -> str:
    """The fields after the replies: labels, then events, each when the message has any."""
    tail = ""
    if labels is not None:
        tail += ',"labels":' + dumps(labels)
    if events is not None:
        tail += ',"events":' + dumps(events)
    return tail


def _reply_order(row: tuple) -> tuple[int, int]:
    # OA sorts replies by rank, unranked last; the sort is stable, so ties keep
    # creation order. Prompts go by creation (the first one is the tree's).
    rank = row[2]
    return (1, 0) if rank is None or row[1] is None else (0, rank)


def in_reply_order(rows: list[tuple]) -> list[tuple]:
    """A tree's head rows (in creation order) as ``PACKED_FIELDS``, in reply order."""
    return [
        (key, parent, user, body, emojis or "")
        for key, parent, _rank, _tree, user, body, emojis in sorted(rows, key=_reply_order)
    ]


def unpacked(packed: str) -> list[list[str]]:
    """A tree as PostgreSQL packs it, as ``PACKED_FIELDS``."""
    return [text.split(FIELD) for text in packed.split(RECORD)]


class TreeJoiner:
    """Links one tree's messages (``PACKED_FIELDS``, in reply order) from its prompt and joins
    its JSON text.

    Rows whose parent is not among the tree's rows are left out, with their
    replies, as in OA (and ``writer.build_tree``); so is every prompt after
    the first. ``message_id`` and ``user_id`` write the ids (as they are or
    anonymised); a message id is written once per message, its replies take
    it as their ``parent_id``.
    """

    def __init__(
        self,
        message_id: Callable[[Any], str],
        user_id: Callable[[Any], str],
        *,
        labels: dict,
        events: dict,
    ) -> None:
        self.message_id = message_id
        self.user_id = user_id
        self.labels = labels
        self.events = events

    def _link(self, messages: Iterable[Sequence]) -> tuple[Any, dict[Any, list]]:
        """The first prompt and each parent's replies, in the order they come."""
        root = None
        children: dict[Any, list] = {}
        for message in messages:
            parent = message[1]
            if not parent:
                if root is None:
                    root = message
            elif parent in children:
                children[parent].append(message)
            else:
                children[parent] = [message]
        return root, children

    def _head(self, message: Sequence, written: str, parent: str | None) -> str:
        """A message's JSON object up to its replies (not closed)."""
        _key, _parent, user, body, emojis = message
        parent_part = "" if parent is None else f',"parent_id":"{parent}"'
        return (
            f'{{"message_id":"{written}"{parent_part},"user_id":"{self.user_id(user)}"{body}'
            f"{emojis and emoji_json(emojis)}"
        )

    def _tail(self, key: Any) -> str:
        if not (self.labels or self.events):
            return ""
        return tail_json(self.labels.get(key), self.events.get(key))

    def tree(
        self, messages: Iterable[Sequence], *, with_replies: bool
    ) -> tuple[str, str, int] | None:
        """The prompt's written id, its JSON object (with its replies) and the messages in it.

        None when the tree has no prompt among its messages.
        """
        root, children = self._link(messages)
        if root is None:
            return None
        written = self.message_id(root[0])
        if not with_replies:
            return written, f"{self._head(root, written, None)}{self._tail(root[0])}}}", 1
        message_id, user_id, pop, emojis_of = (
            self.message_id,
            self.user_id,
            children.pop,
            emoji_json,
        )
        tail = self._tail if self.labels or self.events else None
        size = 1

        # The hot loop of an export: everything it calls is bound above.
        def node(message: Sequence, written: str, parent_part: str) -> str:
            nonlocal size
            key, _parent, user, body, emojis = message
            replies = pop(key, None)
            if replies:
                size += len(replies)
                part = f',"parent_id":"{written}"'
                inner = ",".join([node(reply, message_id(reply[0]), part) for reply in replies])
            else:
                inner = ""
            return (
                f'{{"message_id":"{written}"{parent_part},"user_id":"{user_id(user)}"{body}'
                f"{emojis and emojis_of(emojis)}"
                f',"replies":[{inner}]{"" if tail is None else tail(key)}}}'
            )

        return written, node(root, written, ""), size

    def messages(self, messages: Iterable[Sequence]) -> tuple[str, list[str]] | None:
        """The prompt's written id and each message's JSON object (unclosed), depth-first."""
        root, children = self._link(messages)
        if root is None:
            return None
        message_id, head, tail = self.message_id, self._head, self._tail
        tree_id = message_id(root[0])
        objects = []
        stack = [(root, tree_id, None)]
        while stack:
            row, written, parent = stack.pop()
            key = row[0]
            objects.append(head(row, written, parent) + tail(key))
            replies = children.pop(key, None)
            if replies:
                stack.extend((reply, message_id(reply[0]), written) for reply in reversed(replies))
        return tree_id, objects


def tree_line(tree_id: str, prompt: str, *, state: str, origin: str) -> str:
    """One ExportMessageTree line (with its newline); ``tree_id`` is the prompt's written id."""
    origin_part = f',"origin":{encode_basestring(origin)}' if origin else ""
    return (
        f'{{"message_tree_id":"{tree_id}","tree_state":{encode_basestring(state)}'
        f',"prompt":{prompt}{origin_part}}}\n'
    )


def message_lines(tree_id: str, objects: list[str], *, state: str) -> list[str]:
    """The tree's messages, one line each with the tree's id and state."""
    end = f',"message_tree_id":"{tree_id}","tree_state":{encode_basestring(state)}}}\n'
    return [text + end for text in objects]
