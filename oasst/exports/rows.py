"""Message rows for the writer: through the ORM, or on PostgreSQL through a raw cursor, read ahead.

The ORM converts every value of every row in Python: a uuid.UUID per id, a
Python loader for each timestamp, JSON decoding per ``emojis``. On
PostgreSQL ``read_raw`` runs the queryset's own SQL (so the filters are the
same) with ids and timestamps selected as text and psycopg's C loaders for
the rest, and ``lines.head_encoder`` takes the text as it is.
``ReadAhead`` then runs the reading on a thread with its own connection, so
PostgreSQL works on the next rows while the writer encodes these.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from itertools import islice
from typing import Any

from django.db import connections, transaction
from django.db.models import TextField
from django.db.models.functions import Cast
from psycopg import IsolationLevel

from oasst.trees.models import MessageQuerySet

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
# Read as text by ``read_raw``.
_TEXT_COLUMNS = ("id", "parent_id", "created_at", "tree_id")
BATCH = 2000


def reads_raw(messages: MessageQuerySet) -> bool:
    """Whether ``read_raw`` can read these messages: PostgreSQL, in a UTC session (Django's default).

    Timestamps come as PostgreSQL writes them, which ``lines.isoformat_text``
    turns into ``isoformat()``'s spelling for UTC only.
    """
    connection = connections[messages.db]
    return connection.vendor == "postgresql" and connection.timezone_name == "UTC"


def read_rows(messages: MessageQuerySet, *, raw: bool) -> Iterator[list[tuple]]:
    """The rows of ``messages`` (``MESSAGE_COLUMNS``) in batches, through ``read_raw`` or the ORM."""
    if raw:
        yield from read_raw(messages)
        return
    rows = messages.values_list(*MESSAGE_COLUMNS).iterator(chunk_size=BATCH)
    while batch := list(islice(rows, BATCH)):
        yield batch


def read_raw(messages: MessageQuerySet) -> Iterator[list[tuple]]:
    """The rows of ``messages`` in batches, through a server-side cursor and psycopg's C loaders.

    Ids and ``created_at`` come as text, ``emojis`` as the jsonb's JSON text
    (Django's loader for jsonb). The cursor lives in a transaction (a
    savepoint inside one), so PostgreSQL streams the rows as they are fetched
    instead of first copying them for a cursor held over commits.
    """
    connection = connections[messages.db]
    selected = messages.values_list(
        *(Cast(name, TextField()) if name in _TEXT_COLUMNS else name for name in MESSAGE_COLUMNS)
    )
    sql, params = selected.query.sql_with_params()
    with transaction.atomic(using=messages.db), connection.chunked_cursor() as cursor:
        # Every row is read, so plan for all of them: by default PostgreSQL
        # plans a cursor for its first tenth, and chose to walk the whole
        # messages index from its start to reach the page's trees.
        with connection.cursor() as settings:
            settings.execute("SET LOCAL cursor_tuple_fraction = 1")
        cursor.execute(sql, params)
        named = cursor.cursor
        while batch := named.fetchmany(BATCH):
            yield batch


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
