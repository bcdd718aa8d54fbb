"""Write the oasst dataset format (reference/oasst-format.md), streaming, one tree at a time.

Trees are read in keyset pages of ``chunk_size`` ids; the messages of a page
come through one query, streamed, ordered by tree, and each tree is built,
written and dropped before the next one is read. Labels and events, when
asked for, are read per page. On PostgreSQL the fast writer reads a row per
tree instead (its messages packed by the database), in one streamed query
for the whole selection when there are no labels or events to read by
page. So memory depends on ``chunk_size`` and the largest tree, never on
the size of the dataset.

Two writers share this: the plain one builds a dict per tree for ``json``
(``_write_trees``, also for Parquet and selections of messages); the fast
one joins each message's JSON text (``_write_tree_lines``, see ``lines``,
``rows`` and ``sinks``). They write the same bytes.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from contextlib import closing
from dataclasses import dataclass
from itertools import chain, groupby
from operator import itemgetter
from typing import TYPE_CHECKING, Any, BinaryIO

from django.db import connections

from oasst.exports import lines
from oasst.exports.anonymizer import Anonymizer
from oasst.exports.filters import ExportFilters, select_messages, select_trees
from oasst.exports.rows import (
    MESSAGE_COLUMNS,
    TREE_ID,
    ReadAhead,
    own_connection,
    read_rows,
    read_trees_raw,
    reads_raw,
)
from oasst.exports.sinks import JsonlSink
from oasst.trees.models import EmojiReaction, Ranking, TextLabel

if TYPE_CHECKING:
    from oasst.exports.parquet import ParquetSink

JSONL, PARQUET = "jsonl", "parquet"
TREE, MESSAGE = "tree", "message"


class ExportCancelled(Exception):
    pass


@dataclass
class ExportCounts:
    trees_total: int | None = None
    messages_total: int | None = None
    trees: int = 0
    messages: int = 0
    # The most tree nodes alive at once, measured after each tree is built: a
    # writer that holds one tree at a time never exceeds the largest tree.
    peak_live_nodes: int = 0


# The number of ExportNode objects alive. It is kept in a list, not in a class
# attribute: writing to a class on every node would invalidate CPython's
# attribute caches for it each time, and cost more than the rest of the node.
_live_nodes = [0]


class _CountsNodes(type):
    @property
    def live(cls) -> int:
        return _live_nodes[0]


class ExportNode(metaclass=_CountsNodes):
    """One message of the tree being written; ``ExportNode.live`` counts the nodes in memory.

    ``head`` and ``tail`` are the message's fields before and after its
    replies: dicts on the plain path, JSON text on the fast one (``lines``).
    """

    __slots__ = ("key", "rank", "head", "tail", "replies")

    def __init__(self, key: object, rank: int | None, head: Any, tail: Any) -> None:
        self.key = key
        self.rank = rank
        self.head = head
        self.tail = tail
        self.replies: list[ExportNode] = []
        _live_nodes[0] += 1

    def __del__(self) -> None:
        _live_nodes[0] -= 1


def _reply_order(node: ExportNode) -> tuple[int, int]:
    # OA sorts replies by rank, unranked last; the sort is stable, so ties keep creation order.
    return (1, 0) if node.rank is None else (0, node.rank)


class _Ids:
    """How ids are written: as they are, or through the anonymiser."""

    def __init__(self, anonymizer: Anonymizer | None) -> None:
        self.anonymizer = anonymizer
        self.message: Callable[[object], str] = anonymizer.message if anonymizer else str
        # For ids written once (the fast writer's messages): no cache to fill.
        self.message_once: Callable[[object], str] = anonymizer.message_once if anonymizer else str
        self.user: Callable[[object], str] = anonymizer.user if anonymizer else str


def _message_head(row: tuple, ids: _Ids) -> dict[str, Any]:
    """The fields up to ``emojis``, in OA's declaration order, nulls left out (``exclude_none``)."""
    (
        message_id,
        parent_id,
        user_id,
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
        _tree_id,
    ) = row[: len(MESSAGE_COLUMNS)]
    head: dict[str, Any] = {"message_id": ids.message(message_id)}
    if parent_id is not None:
        head["parent_id"] = ids.message(parent_id)
    head["user_id"] = ids.user(user_id)
    head["created_date"] = created_at.isoformat()
    head["text"] = text
    head["role"] = role
    if lang:
        head["lang"] = lang
    head["review_count"] = review_count
    # OA writes review_result only when it is true or the message had more than two reviews.
    if review_result is not None and (review_result or review_count > 2):
        head["review_result"] = review_result
    head["deleted"] = deleted
    if rank is not None:
        head["rank"] = rank
    head["synthetic"] = synthetic
    if model_name:
        head["model_name"] = model_name
    if emojis:
        counts = {code: count for code, count in emojis.items() if count}
        if counts:
            head["emojis"] = counts
    return head


def read_labels(message_ids: Iterable[object] | None, *, tree_ids: Iterable[object] = ()) -> dict:
    """Per message, each label's mean value and the number of label rows that carry it."""
    rows = TextLabel.objects.all()
    rows = rows.filter(message_id__in=message_ids) if message_ids is not None else rows
    if tree_ids:
        rows = rows.filter(message__tree_id__in=tree_ids)
    # Per label: [sum, values, rows, lowest, highest].
    sums: dict[object, dict[str, list]] = defaultdict(dict)
    for message_id, labels in rows.values_list("message_id", "labels").iterator(chunk_size=2000):
        for name, value in (labels or {}).items():
            total = sums[message_id].setdefault(name, [0.0, 0, 0, None, None])
            total[2] += 1
            if value is not None:
                value = float(value)
                total[0] += value
                total[1] += 1
                total[3] = value if total[3] is None else min(total[3], value)
                total[4] = value if total[4] is None else max(total[4], value)
    return {
        message_id: {name: _label_value(*total) for name, total in sorted(per_message.items())}
        for message_id, per_message in sums.items()
    }


def _label_value(
    total: float, values: int, rows: int, lowest: float | None, highest: float | None
) -> dict[str, Any]:
    # The mean of equal values is that value; dividing their sum could be off by a rounding step.
    if not values:
        mean = None
    elif lowest == highest:
        mean = lowest
    else:
        mean = total / values
    return {"value": mean, "count": rows}


def read_events(
    ids: _Ids, message_ids: Iterable[object] | None, *, tree_ids: Iterable[object] = ()
) -> dict:
    """Per message, its emoji events and (on a parent) the rankings of its replies, oldest first."""
    events: dict[object, dict[str, list]] = defaultdict(dict)
    emojis = EmojiReaction.objects.all()
    rankings = Ranking.objects.all()
    if message_ids is not None:
        message_ids = list(message_ids)
        emojis = emojis.filter(message_id__in=message_ids)
        rankings = rankings.filter(parent_id__in=message_ids)
    if tree_ids:
        emojis = emojis.filter(message__tree_id__in=tree_ids)
        rankings = rankings.filter(tree_id__in=tree_ids)
    for message_id, user_id, emoji in emojis.order_by("created_at", "id").values_list(
        "message_id", "user_id", "emoji"
    ):
        events[message_id].setdefault("emoji", []).append(
            {"type": "emoji", "user_id": ids.user(user_id), "emoji": emoji}
        )
    for parent_id, user_id, ranking, ranked, tree_id, not_rankable in rankings.order_by(
        "created_at", "id"
    ).values_list(
        "parent_id", "user_id", "ranking", "ranked_message_ids", "tree_id", "not_rankable"
    ):
        event: dict[str, Any] = {
            "type": "ranking",
            "user_id": ids.user(user_id),
            "ranking": list(ranking),
            "ranked_message_ids": [ids.message(message_id) for message_id in ranked],
            "ranking_parent_id": ids.message(parent_id),
            "message_tree_id": ids.message(tree_id),
        }
        if not_rankable:
            event["not_rankable"] = True
        events[parent_id].setdefault("ranking", []).append(event)
    return events


def build_tree(
    rows: Iterable[tuple], ids: _Ids, *, labels: dict | None, events: dict | None
) -> ExportNode | None:
    """Link one tree's rows from its prompt; rows whose parent was filtered out are dropped, as in OA."""
    root: ExportNode | None = None
    children: dict[object, list[ExportNode]] = defaultdict(list)
    for row in rows:
        node = ExportNode(row[0], row[10], _message_head(row, ids), {})
        if labels is not None and row[0] in labels:
            node.tail["labels"] = labels[row[0]]
        if events is not None and row[0] in events:
            node.tail["events"] = events[row[0]]
        if row[1] is None:
            if root is None:
                root = node
        else:
            children[row[1]].append(node)
    if root is None:
        return None
    stack = [root]
    while stack:
        node = stack.pop()
        node.replies = sorted(children.pop(node.key, ()), key=_reply_order)
        stack.extend(node.replies)
    return root


def tree_object(root: ExportNode, *, state: str, origin: str, with_replies: bool) -> dict[str, Any]:
    """An ExportMessageTree: the tree id is the prompt's (anonymised) message id."""

    def node_object(node: ExportNode) -> dict[str, Any]:
        data = dict(node.head)
        if with_replies:
            data["replies"] = [node_object(reply) for reply in node.replies]
        data.update(node.tail)
        return data

    tree: dict[str, Any] = {
        "message_tree_id": root.head["message_id"],
        "tree_state": state,
        "prompt": node_object(root),
    }
    if origin:
        tree["origin"] = origin
    return tree


def flat_messages(root: ExportNode, *, state: str) -> Iterator[dict[str, Any]]:
    """The tree's messages depth-first, prompt first, each with its tree id and state (HF order)."""
    tree_id = root.head["message_id"]
    stack = [root]
    while stack:
        node = stack.pop()
        yield {**node.head, **node.tail, "message_tree_id": tree_id, "tree_state": state}
        stack.extend(reversed(node.replies))


def _tree_pages(filters: ExportFilters, chunk_size: int) -> Iterator[list[tuple]]:
    """(id, state, origin) of the selected trees, by keyset pages in id order."""
    trees = select_trees(filters).order_by("pk").values_list("pk", "state", "origin")
    last = None
    while True:
        page = list((trees.filter(pk__gt=last) if last is not None else trees)[:chunk_size])
        if not page:
            return
        yield page
        last = page[-1][0]


def _message_pages(filters: ExportFilters, chunk_size: int) -> Iterator[list[tuple]]:
    """Rows of a message selection (with the tree's state last), by keyset pages in id order."""
    messages = (
        select_messages(filters)
        .filter(tree__in=select_trees(filters))
        .order_by("pk")
        .values_list(*MESSAGE_COLUMNS, "tree__state")
    )
    last = None
    while True:
        page = list((messages.filter(pk__gt=last) if last is not None else messages)[:chunk_size])
        if not page:
            return
        yield page
        last = page[-1][0]


def count_selection(filters: ExportFilters) -> ExportCounts:
    """Totals for the progress bar (upper bounds: trees without a kept prompt are skipped)."""
    trees = select_trees(filters)
    messages = select_messages(filters).filter(tree__in=trees)
    counts = ExportCounts()
    if filters.selects_messages:
        counts.messages_total = messages.count()
        if filters.limit:
            counts.messages_total = min(counts.messages_total, filters.limit)
    else:
        counts.trees_total = trees.count()
        if filters.limit:
            counts.trees_total = min(counts.trees_total, filters.limit)
        else:
            counts.messages_total = messages.count()
    return counts


def resolve_shape(filters: ExportFilters, *, format: str, shape: str) -> str:
    """Parquet rows and selections that are not whole trees are always one message per line."""
    if format == PARQUET or filters.selects_messages:
        return MESSAGE
    return shape


def write_dataset(
    target: BinaryIO,
    filters: ExportFilters,
    *,
    format: str = JSONL,
    shape: str = TREE,
    compress: bool = False,
    anonymizer: Anonymizer | None = None,
    chunk_size: int = 500,
    progress: Callable[[ExportCounts], None] | None = None,
    fast: bool = True,
) -> ExportCounts:
    """Stream the selected data to ``target`` in the given format and shape; returns the counts.

    ``progress`` is called after each page, or on the fast path after every
    ``chunk_size`` trees and at the end (and may raise ``ExportCancelled``).
    Parquet is compressed by its own codec, so ``compress`` only applies to JSONL.

    Trees in JSON lines are written ``fast`` unless told otherwise: joined
    from each message's JSON text (``lines``), which on PostgreSQL the
    database writes and packs by tree, read past the ORM on a thread and a
    connection of their own (``rows``), and gzipped in members on two
    threads, by ISA-L where it is installed (``sinks``).
    ``fast=False`` builds a dict per tree from ORM rows for ``json`` and
    gzips one stream: the same lines, slower; the tests hold the two to the
    same bytes. Parquet and selections of messages are always written plainly.
    """
    if format not in (JSONL, PARQUET):
        raise ValueError(f"unknown format {format!r}")
    if shape not in (TREE, MESSAGE):
        raise ValueError(f"unknown shape {shape!r}")
    if format == PARQUET and filters.events:
        raise ValueError("events are not part of the oasst1 Parquet columns; export them as JSONL")
    shape = resolve_shape(filters, format=format, shape=shape)
    ids = _Ids(anonymizer if filters.anonymize else None)
    counts = count_selection(filters)
    if format == PARQUET:
        # pyarrow takes a fifth of a second to import: only Parquet exports pay for it.
        from oasst.exports.parquet import ParquetSink

        sink: JsonlSink | ParquetSink = ParquetSink(target)
        fast = False  # Parquet takes the rows as dicts
    else:
        sink = JsonlSink(target, compress=compress, members=fast)
    try:
        if filters.selects_messages:
            _write_messages(sink, filters, ids, counts, chunk_size=chunk_size, progress=progress)
        elif fast:
            assert isinstance(sink, JsonlSink)
            _write_tree_lines(
                sink, filters, ids, counts, shape=shape, chunk_size=chunk_size, progress=progress
            )
        else:
            _write_trees(
                sink, filters, ids, counts, shape=shape, chunk_size=chunk_size, progress=progress
            )
    finally:
        sink.close()
    return counts


def _write_trees(
    sink: JsonlSink | ParquetSink,
    filters: ExportFilters,
    ids: _Ids,
    counts: ExportCounts,
    *,
    shape: str,
    chunk_size: int,
    progress: Callable[[ExportCounts], None] | None,
) -> None:
    messages = select_messages(filters).values_list(*MESSAGE_COLUMNS)
    for page in _tree_pages(filters, chunk_size):
        tree_ids = [tree_id for tree_id, _state, _origin in page]
        about = {tree_id: (state, origin) for tree_id, state, origin in page}
        labels = read_labels(None, tree_ids=tree_ids) if filters.labels else None
        events = read_events(ids, None, tree_ids=tree_ids) if filters.events else None
        rows = (
            messages.filter(tree_id__in=tree_ids)
            .order_by("tree_id", "created_at", "id")
            .iterator(chunk_size=2000)
        )
        for tree_id, tree_rows in groupby(rows, key=itemgetter(TREE_ID)):
            if filters.limit and counts.trees >= filters.limit:
                break
            root = build_tree(tree_rows, ids, labels=labels, events=events)
            if root is None:
                continue
            counts.peak_live_nodes = max(counts.peak_live_nodes, ExportNode.live)
            state, origin = about[tree_id]
            if shape == TREE:
                sink.add(
                    tree_object(
                        root, state=state, origin=origin, with_replies=not filters.prompts_only
                    )
                )
                counts.messages += _size(root)
            else:
                for message in flat_messages(root, state=state):
                    sink.add(message)
                    counts.messages += 1
            counts.trees += 1
            del root
        if progress is not None:
            progress(counts)
        if filters.limit and counts.trees >= filters.limit:
            return


@dataclass
class _Page:
    """Trees read together, with their labels and events; ``about`` gives each tree's
    (state, origin) when the rows do not carry it (message rows)."""

    labels: dict
    events: dict
    about: dict[Any, tuple[str, str]] | None = None


_END_OF_PAGE = object()


def _read_pages(
    filters: ExportFilters, ids: _Ids, chunk_size: int, *, raw: bool
) -> Iterator[_Page | list[tuple] | object]:
    """The selection page by page: a ``_Page``, its rows in batches, ``_END_OF_PAGE``.

    Raw, the rows are trees (``read_trees_raw``), keyed by their ids as text,
    and the whole selection is one page, one query, unless labels or events
    are asked for: those are read by pages of ``chunk_size`` trees, with the
    page's trees. Through the ORM the rows are messages (``read_rows``),
    read by pages of ``chunk_size`` trees.
    """
    key: Callable[[Any], Any] = str if raw else _same
    trees = select_trees(filters)
    messages = select_messages(filters)
    if raw and not (filters.labels or filters.events):
        yield _Page(labels={}, events={})
        yield from read_trees_raw(messages, trees)
        yield _END_OF_PAGE
        return
    if not raw:
        messages = messages.order_by("tree_id", "created_at", "id")
    after = None
    for page in _tree_pages(filters, chunk_size):
        tree_ids = [tree_id for tree_id, _state, _origin in page]
        # The page's trees as a range of the same selection: a short query,
        # where a list of hundreds of ids costs more to build than to run.
        in_page = trees.filter(pk__lte=tree_ids[-1])
        if after is not None:
            in_page = in_page.filter(pk__gt=after)
        after = tree_ids[-1]
        yield _Page(
            labels=_keyed(read_labels(None, tree_ids=tree_ids), key) if filters.labels else {},
            events=(
                _keyed(read_events(ids, None, tree_ids=tree_ids), key) if filters.events else {}
            ),
            about=None if raw else {tree_id: (state, origin) for tree_id, state, origin in page},
        )
        if raw:
            yield from read_trees_raw(messages, in_page)
        else:
            yield from read_rows(messages.filter(tree__in=in_page.values("pk")))
        yield _END_OF_PAGE


def _message_trees(rows: Iterable[tuple], about: dict) -> Iterator[tuple[str, str, list]]:
    """Message rows as (state, origin, the tree's messages in reply order), a tree at a time."""
    for tree_id, tree_rows in groupby(rows, key=itemgetter(lines.TREE)):
        tree = about.get(tree_id)
        if tree is not None:  # else it joined the selection after its page was read
            state, origin = tree
            yield state, origin, lines.in_reply_order(list(tree_rows))


def _packed_trees(rows: Iterable[tuple]) -> Iterator[tuple[str, str, list]]:
    """Packed tree rows as (state, origin, the tree's messages in reply order), a tree at a time."""
    for _tree_id, state, origin, packed in rows:
        yield state, origin, lines.unpacked(packed)


def _write_tree_lines(
    sink: JsonlSink,
    filters: ExportFilters,
    ids: _Ids,
    counts: ExportCounts,
    *,
    shape: str,
    chunk_size: int,
    progress: Callable[[ExportCounts], None] | None,
) -> None:
    """``_write_trees`` for the fast path: JSON text joined, rows past the ORM where it can.

    On PostgreSQL, outside a transaction, the pages are read on a thread with
    a connection of its own (``ReadAhead``); inside one (tests, or a caller's
    transaction) they are read here, where the transaction's rows are visible.
    ``progress`` is called after every ``chunk_size`` trees read, and at the end.
    """
    messages = select_messages(filters)
    raw = reads_raw(messages)
    if raw and not connections[messages.db].in_atomic_block:

        def read_ahead() -> Iterator[Any]:
            with own_connection(messages.db):
                yield from _read_pages(filters, ids, chunk_size, raw=raw)

        pages: Iterator[Any] = ReadAhead(read_ahead)
    else:
        pages = _read_pages(filters, ids, chunk_size, raw=raw)
    with_replies = not filters.prompts_only
    read = 0
    with closing(pages):  # type: ignore[type-var]
        for page in pages:
            joiner = lines.TreeJoiner(
                ids.message_once, ids.user, labels=page.labels, events=page.events
            )
            # This page's rows: the batches up to the end-of-page marker.
            rows = chain.from_iterable(iter(pages.__next__, _END_OF_PAGE))
            trees = _packed_trees(rows) if page.about is None else _message_trees(rows, page.about)
            for state, origin, held in trees:
                if filters.limit and counts.trees >= filters.limit:
                    break
                read += 1
                # The tree's messages are all it holds: one tree at a time.
                counts.peak_live_nodes = max(counts.peak_live_nodes, len(held))
                if shape == TREE:
                    tree = joiner.tree(held, with_replies=with_replies)
                    if tree is not None:
                        written_id, prompt, size = tree
                        sink.add_line(
                            lines.tree_line(written_id, prompt, state=state, origin=origin)
                        )
                        counts.messages += size
                        counts.trees += 1
                else:
                    flat = joiner.messages(held)
                    if flat is not None:
                        written_id, objects = flat
                        for line in lines.message_lines(written_id, objects, state=state):
                            sink.add_line(line)
                        counts.messages += len(objects)
                        counts.trees += 1
                del held
                if progress is not None and read % chunk_size == 0:
                    progress(counts)
            if filters.limit and counts.trees >= filters.limit:
                break
    if progress is not None and read % chunk_size:
        progress(counts)


def _same(value: object) -> object:
    return value


def _keyed(by_message: dict, key: Callable[[Any], Any]) -> dict:
    return by_message if key is _same else {key(k): value for k, value in by_message.items()}


def _size(root: ExportNode) -> int:
    size, stack = 0, [root]
    while stack:
        node = stack.pop()
        size += 1
        stack.extend(node.replies)
    return size


def _write_messages(
    sink: JsonlSink | ParquetSink,
    filters: ExportFilters,
    ids: _Ids,
    counts: ExportCounts,
    *,
    chunk_size: int,
    progress: Callable[[ExportCounts], None] | None,
) -> None:
    for page in _message_pages(filters, chunk_size):
        message_ids = [row[0] for row in page]
        labels = read_labels(message_ids) if filters.labels else {}
        events = read_events(ids, message_ids) if filters.events else {}
        for row in page:
            if filters.limit and counts.messages >= filters.limit:
                break
            message = _message_head(row, ids)
            if row[0] in labels:
                message["labels"] = labels[row[0]]
            if row[0] in events:
                message["events"] = events[row[0]]
            message["message_tree_id"] = ids.message(row[TREE_ID])
            message["tree_state"] = row[-1]
            sink.add(message)
            counts.messages += 1
        if progress is not None:
            progress(counts)
        if filters.limit and counts.messages >= filters.limit:
            return
