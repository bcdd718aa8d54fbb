"""JSON lines of the oasst format, assembled from each message's JSON text.

The plain writer builds a dict per tree and lets ``json`` encode it. The
fast writer writes each message's fields up to ``emojis`` (its "head") from
a template, with json's own C encoder for the strings, links the tree and
joins the texts: replies in order, then labels and events, then the brace.
The result is what ``writer.tree_object`` and ``writer.flat_messages`` give,
byte for byte: the same keys in the same order, the same rules for what is
left out, the same timestamp spelling; the tests hold both writers to that.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from json.encoder import encode_basestring  # what JSONEncoder(ensure_ascii=False) uses
from typing import Any

# The plain writer's encoder, for the nested values left to json (emoji
# counts, labels, events).
dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
_loads = json.loads
_BOOL = {True: "true", False: "false"}


def isoformat_text(text: str) -> str:
    """``datetime.isoformat()`` of a UTC timestamp from PostgreSQL's text for it (DateStyle ISO).

    PostgreSQL writes ``2023-02-05 14:23:50.98337+00``: a space, the fraction
    without trailing zeros (none at all when zero), and the offset in hours.
    Python writes ``2023-02-05T14:23:50.983370+00:00``.
    """
    clock = text[11:-3]
    if len(clock) > 8:
        clock = clock.ljust(15, "0")
    return f"{text[:10]}T{clock}+00:00"


def head_encoder(
    message_id: Callable[[Any], str], user_id: Callable[[Any], str]
) -> Callable[[tuple], str]:
    """A function from a message row (``rows.MESSAGE_COLUMNS``) to its head.

    The head is the start of the message's JSON object: the fields up to
    ``emojis``, without the closing brace, so replies, labels and events can
    follow. From the ORM ``created_at`` is a datetime and ``emojis`` a dict;
    from ``rows.read_raw`` they are PostgreSQL's text and the jsonb's JSON.
    """
    encode = encode_basestring
    boolean = _BOOL
    # The fields from role to synthetic take few distinct values together (a
    # role, a language, small counts, flags): each combination is written
    # once, then looked up.
    middles: dict[tuple, str] = {}

    def middle(key: tuple) -> str:
        role, lang, review_count, review_result, deleted, rank, synthetic = key
        lang_part = f',"lang":{encode(lang)}' if lang else ""
        # OA writes review_result only when it is true or the message had more than two reviews.
        result_part = (
            f',"review_result":{boolean[review_result]}'
            if review_result is not None and (review_result or review_count > 2)
            else ""
        )
        rank_part = "" if rank is None else f',"rank":{rank}'
        text = (
            f',"role":{encode(role)}{lang_part},"review_count":{review_count}{result_part}'
            f',"deleted":{boolean[deleted]}{rank_part},"synthetic":{boolean[synthetic]}'
        )
        if len(middles) >= 65536:
            middles.clear()
        middles[key] = text
        return text

    def head(row: tuple) -> str:
        (
            key,
            parent,
            user,
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
            emojis,
            _tree,
        ) = row
        created = (
            isoformat_text(created_at) if created_at.__class__ is str else created_at.isoformat()
        )
        parent_part = "" if parent is None else f',"parent_id":"{message_id(parent)}"'
        flags = (role, lang, review_count, review_result, deleted, rank, synthetic)
        fields = middles.get(flags) or middle(flags)
        model_part = f',"model_name":{encode(model_name)}' if model_name else ""
        emoji_part = ""
        if emojis and emojis.__class__ is str:
            emojis = _loads(emojis) if emojis != "{}" else None
        if emojis:
            counts = {code: count for code, count in emojis.items() if count}
            if counts:
                emoji_part = ',"emojis":' + dumps(counts)
        return (
            f'{{"message_id":"{message_id(key)}"{parent_part},"user_id":"{user_id(user)}"'
            f',"created_date":"{created}","text":{encode(text)}{fields}{model_part}{emoji_part}'
        )

    return head


def tail_json(labels: dict | None, events: dict | None) -> str:
    """The fields after the replies: labels, then events, each when the message has any."""
    tail = ""
    if labels is not None:
        tail += ',"labels":' + dumps(labels)
    if events is not None:
        tail += ',"events":' + dumps(events)
    return tail


def node_json(node: Any) -> str:
    """A message with its replies, in the reply order already set on ``node.replies``."""
    replies = ",".join([node_json(reply) for reply in node.replies])
    return f'{node.head},"replies":[{replies}]{node.tail}}}'


def tree_line(root: Any, tree_id: str, *, state: str, origin: str, with_replies: bool) -> str:
    """One ExportMessageTree line (with its newline); ``tree_id`` is the prompt's written id."""
    prompt = node_json(root) if with_replies else root.head + root.tail + "}"
    origin_part = f',"origin":{encode_basestring(origin)}' if origin else ""
    return (
        f'{{"message_tree_id":"{tree_id}","tree_state":{encode_basestring(state)}'
        f',"prompt":{prompt}{origin_part}}}\n'
    )


def message_lines(root: Any, tree_id: str, *, state: str) -> list[str]:
    """The tree's messages depth-first, prompt first, one line each with the tree's id and state."""
    end = f',"message_tree_id":"{tree_id}","tree_state":{encode_basestring(state)}}}\n'
    lines = []
    stack = [root]
    while stack:
        node = stack.pop()
        lines.append(node.head + node.tail + end)
        stack.extend(reversed(node.replies))
    return lines
