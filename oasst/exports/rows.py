"""Message rows for the fast writer: through the ORM, or on PostgreSQL packed by tree, read ahead.

The fast writer takes each message as a head row (``lines.HEAD_ROW``): the
ids it links and writes, and the JSON text of the fields between them and
the replies. Through the ORM every value is converted in Python and
``lines.body`` writes that text. On PostgreSQL ``read_trees_raw`` runs the
queryset's own SQL (so the filters are the same) and PostgreSQL writes the
text (``body_sql``) and packs each tree's messages into one row, in a
process of its own, off the writer's GIL. ``ReadAhead`` then runs the
reading on a thread with its own connection, so PostgreSQL works on the
next rows while the writer joins these.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from itertools import islice
from typing import Any

from django.db import connections, transaction
from django.db.models.expressions import RawSQL
from psycopg import IsolationLevel

from oasst.exports import lines
from oasst.trees.models import Message, MessageQuerySet, MessageTree, MessageTreeQuerySet

# The columns read per message, in this order (see ``writer._message_head``).
MESSAGE_COLUMNS = (
    "id",
    "parent_id",
    "user_id",
    "created_at",
    "text",
    "role",
    "lang",
    "review_count",
    "review_result",
    "deleted",
    "rank",
    "synthetic",
    "model_name",
    "emojis",
    "tree_id",
)
TREE_ID = MESSAGE_COLUMNS.index("tree_id")
RANK = MESSAGE_COLUMNS.index("rank")
BATCH = 2000
# Trees per batch of ``read_trees_raw`` (a tree row holds all its messages).
TREE_BATCH = 200


def reads_raw(messages: MessageQuerySet) -> bool:
    """Whether ``read_trees_raw`` can read these messages: PostgreSQL, in a UTC session (Django's default).

    ``body_sql`` writes timestamps in UTC; the ORM hands them over in the
    session's time zone, which is UTC unless the database settings say
    otherwise, and the plain writer writes them so.
    """
    connection = connections[messages.db]
    return connection.vendor == "postgresql" and connection.timezone_name == "UTC"


def read_rows(messages: MessageQuerySet) -> Iterator[list[tuple]]:
    """The head rows of ``messages`` in batches, through the ORM and ``lines.body``."""
    head_row = lines.head_row
    rows = messages.values_list(*MESSAGE_COLUMNS).iterator(chunk_size=BATCH)
    while batch := list(islice(rows, BATCH)):
        yield [head_row(row) for row in batch]


def _column(name: str) -> str:
    """A messages column in PostgreSQL, named as the queryset's SQL names it (the table unaliased)."""
    return f'"{Message._meta.db_table}"."{Message._meta.get_field(name).column}"'


def body_sql() -> str:
    r"""``lines.body`` in SQL, for PostgreSQL: the same text, byte for byte.

    ``to_json`` escapes a string as json's ``encode_basestring`` does with
    ``ensure_ascii=False`` (``\"``, ``\\``, the short escapes for \b \f \n
    \r \t, ``\u00XX`` in lowercase for the other controls, nothing else);
    the timestamp is ``isoformat()``'s spelling in UTC, whatever the
    session's time zone; NULLs (a field left out) vanish in ``concat``.
    """
    c = _column
    iso = (
        f"replace(to_char({c('created_at')} AT TIME ZONE 'UTC', "
        """'YYYY-MM-DD"T"HH24:MI:SS.US"+00:00"'), '.000000+', '+')"""
    )

    def flag(name: str) -> str:
        return f"""CASE WHEN {c(name)} THEN ',"{name}":true' ELSE ',"{name}":false' END"""

    return (
        f"""concat(',"created_date":"', {iso}, '","text":', to_json({c("text")})::text, """
        f"""',"role":', to_json({c("role")})::text, """
        f"""CASE WHEN {c("lang")} <> '' THEN ',"lang":' || to_json({c("lang")})::text END, """
        f"""',"review_count":', {c("review_count")}, """
        # OA writes review_result only when it is true or the message had more than two reviews.
        f"""CASE WHEN {c("review_result")} OR {c("review_count")} > 2 THEN """
        f"""CASE WHEN {c("review_result")} THEN ',"review_result":true' """
        f"""WHEN NOT {c("review_result")} THEN ',"review_result":false' END END, """
        f"""{flag("deleted")}, ',"rank":' || {c("rank")}, {flag("synthetic")}, """
        f"""CASE WHEN {c("model_name")} <> '' THEN ',"model_name":' || to_json({c("model_name")})::text END)"""
    )


def emojis_sql() -> str:
    """``lines.emoji_json`` in SQL, for PostgreSQL, where every count is a whole number.

    Empty when no count is above zero; ``jsonb_each`` gives the keys in the
    order ``jsonb`` prints them, which is the order ``emoji_json`` reads
    them in, and a whole number prints the same in both. Any other value
    (a fraction, a string) sends the counts on as JSON, for
    ``lines.emoji_json`` to write.
    """
    emojis = _column("emojis")
    return (
        f"CASE WHEN {emojis} <> '{{}}'::jsonb THEN (SELECT CASE WHEN bool_and("  # noqa: S608 - constants
        """jsonb_typeof(value) = 'number' AND value::text ~ '^-?[0-9]+$') """
        """THEN ',"emojis":{' || string_agg(to_json(key)::text || ':' || value::text, ',') """
        f"FILTER (WHERE value <> '0'::jsonb) || '}}' ELSE {emojis}::text END "
        f"FROM jsonb_each({emojis})) END"
    )


def _literal(separator: str) -> str:
    """A one-character separator as an SQL string literal (``E'\\x1f'``)."""
    return f"E'\\x{ord(separator):02x}'"


def read_trees_raw(messages: MessageQuerySet, trees: MessageTreeQuerySet) -> Iterator[list[tuple]]:
    """The selected trees in id order, one row each, in batches; PostgreSQL writes the bodies.

    A row is (tree id, state, origin, packed): ``packed`` holds the tree's
    ``messages`` (those of ``trees``), each as ``lines.PACKED_FIELDS``
    joined by ``lines.FIELD``, joined by ``lines.RECORD`` in reply order
    (rank, unranked last, then creation; prompts by creation). The
    separators are control characters, which JSON text, ids and numbers
    never hold raw. One row per tree spares a row's protocol, conversion and
    Python objects per message. The messages are the queryset's own SQL (so
    the filters are the same).

    The rows are streamed (libpq's chunked mode): PostgreSQL sends them
    without waiting, where a named cursor waited for a round trip per batch
    (and for the GIL of the thread that asked), and libpq holds a batch at
    a time.
    """
    connection = connections[messages.db]
    c = _column
    field, record = _literal(lines.FIELD), _literal(lines.RECORD)
    line = (
        f"concat({c('id')}::text, {field}, {c('parent_id')}::text, {field}, "
        f"{c('user_id')}, {field}, {body_sql()}, {field}, {emojis_sql()})"
    )
    selected = (
        messages.filter(tree__in=trees.values("pk"))
        .order_by()
        .values_list(
            *(
                RawSQL(sql, ())  # noqa: S611 - constant SQL built from the model, no values
                for sql in (
                    c("tree_id"),
                    # Replies by rank, unranked last; prompts (the first one counts) by creation.
                    f"CASE WHEN {c('parent_id')} IS NOT NULL THEN {c('rank')} END",
                    c("created_at"),
                    c("id"),
                    line,
                )
            )
        )
    )
    sql, params = selected.query.sql_with_params()
    tree = f'"{MessageTree._meta.db_table}"'
    # The queryset's SQL and constants around it; its values stay parameters.
    packed = (
        f'SELECT {tree}."id"::text, {tree}."state", {tree}."origin", '  # noqa: S608
        f"string_agg(m.line, {record} ORDER BY m.sibling, m.created, m.id) "
        f"FROM {tree} JOIN ({sql}) AS m (tree, sibling, created, id, line) "
        f'ON m.tree = {tree}."id" GROUP BY {tree}."id" ORDER BY {tree}."id"'
    )
    with connection.cursor() as cursor:
        # The plan's cost is high enough for PostgreSQL to compile it with
        # LLVM, which takes longer (half a second) than it saves on these
        # string functions. Always run in a transaction (``own_connection``
        # or the caller's), so this lasts until its end.
        cursor.execute("SET LOCAL jit = off")
        rows = cursor.cursor.stream(packed, params, size=TREE_BATCH)
        try:
            while batch := list(islice(rows, TREE_BATCH)):
                yield batch
        finally:
            rows.close()  # left early (a limit, a cancellation): psycopg cancels the query


class _Failed:
    def __init__(self, error: BaseException) -> None:
        self.error = error


_DONE = object()


class ReadAhead:
    """Iterates what ``produce()`` yields, produced on a thread of its own a few items ahead.

    At most ``ahead`` items wait, so memory stays bounded. An error in the
    thread is raised to the consumer; ``close`` stops the thread and waits
    for it. Database work in ``produce`` runs on the thread's own connection
    (see ``own_connection``).
    """

    def __init__(self, produce: Callable[[], Iterator[Any]], *, ahead: int = 4) -> None:
        self.items: queue.Queue[Any] = queue.Queue(maxsize=ahead)
        self.stopping = threading.Event()
        self.finished = False
        self.thread = threading.Thread(
            target=self._run, args=(produce,), name="export-reader", daemon=True
        )
        self.thread.start()

    def _run(self, produce: Callable[[], Iterator[Any]]) -> None:
        try:
            with closing(produce()) as items:  # type: ignore[type-var]
                for item in items:
                    if not self._put(item):
                        return
            self._put(_DONE)
        except BaseException as exc:  # handed to the consumer
            self._put(_Failed(exc))

    def _put(self, item: Any) -> bool:
        while not self.stopping.is_set():
            try:
                self.items.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def __iter__(self) -> ReadAhead:
        return self

    def __next__(self) -> Any:
        if self.finished:
            raise StopIteration
        item = self.items.get()
        if item is _DONE:
            self.finished = True
            raise StopIteration
        if isinstance(item, _Failed):
            self.finished = True
            raise item.error
        return item

    def close(self) -> None:
        self.stopping.set()
        self.thread.join()


@contextmanager
def own_connection(alias: str) -> Iterator[None]:
    """Within the block, this thread reads ``alias`` through a connection of its own, in one snapshot.

    The connection is opened outside any connection pool (it lives for a
    whole export and is closed at the end) and reads in one repeatable-read
    transaction, so every page of an export sees the database as it was when
    the first was read. Being a separate connection, it only sees committed
    rows.
    """
    current = connections[alias]
    options = {key: value for key, value in current.settings_dict["OPTIONS"].items()}
    options.pop("pool", None)
    options["isolation_level"] = IsolationLevel.REPEATABLE_READ
    own = type(current)({**current.settings_dict, "OPTIONS": options}, alias)
    connections[alias] = own
    try:
        with transaction.atomic(using=alias):
            yield
    finally:
        own.close()
        del connections[alias]
