"""The fast JSONL writer against the plain one: the same bytes for every field variant and option.

The plain writer (``fast=False``) builds a dict per tree for ``json``; the
fast one joins per-message JSON text, reads rows past the ORM on PostgreSQL
(on a thread of its own outside transactions) and gzips in members. On
SQLite this compares the assembly and the templates; the PostgreSQL leg of
CI also compares the raw reading.
"""

from __future__ import annotations

import gzip
import io
import threading
import zlib
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.db import connection

from oasst.exports import writer
from oasst.exports.anonymizer import Anonymizer
from oasst.exports.filters import parse_filters
from oasst.exports.rows import ReadAhead
from oasst.exports.sinks import DEFLATE, DEFLATES, Deflate, GzipMembers, JsonlSink
from oasst.exports.writer import ExportCancelled, ExportNode, write_dataset
from tests.exports.conftest import (
    T0,
    Garden,
    add_emoji,
    add_labels,
    add_message,
    add_ranking,
    make_author,
    make_tree,
)

TRICKY_TEXT = (
    'Tab\there, "quotes", back\\slash, slash /, controls \x01\x08\x0c\x1f, del \x7f, '
    "line\nbreak\r\n, separators \u2028\u2029, Grüße, 中文, 🍅"
)


def plant_variety() -> Garden:
    """The garden (labels, events, deleted, spam, pending, orphan, ranks, emojis) and more trees.

    The others add: non-ASCII and control characters in text, model name and
    language; a rejection after two reviews; timestamps with no fraction and with trailing zeros; emoji
    counts of zero; equal ranks and unranked replies; a deeper thread; a
    synthetic tree; an origin; a tree in another state; a tree whose prompt
    is deleted; an empty language.
    """
    garden = Garden()
    ann, bob = garden.users["ann"], garden.users["bob"]
    add_emoji(garden.a2, bob, "-1")
    add_labels(garden.a1, ann, {"quality": None, "spam": 1.0})
    add_ranking(garden.a2, ann, [garden.pending], [0], not_rankable=True)

    tree, prompt = make_tree(
        text=TRICKY_TEXT, created_at=T0.replace(microsecond=0), emojis={"+1": 0, "red_flag": 2}
    )
    tree.origin = "seed \u00fc.jsonl"
    tree.save()
    second = T0.replace(microsecond=500000) + timedelta(minutes=1)
    first = add_message(tree, prompt, "assistant", rank=0, created_at=second, text="Zweite 🍅")
    add_message(tree, prompt, "assistant", rank=0, created_at=second + timedelta(seconds=1))
    add_message(tree, prompt, "assistant", created_at=second + timedelta(seconds=2), lang="")
    deep = add_message(tree, first, "prompter", text="And then?", emojis={"+1": 0})
    add_message(tree, deep, "assistant", model_name="", text='"quoted" \\ reply')
    # Rejected after two reviews: OA leaves review_result out (after three it writes false).
    add_message(tree, deep, "assistant", review_result=False, review_count=2, text="spam?")
    # Counts that are not whole numbers, and counts that are all zero.
    odd = {
        "+1": 1.50,
        '\u00fc"\t': 3,
        "-1": "2",
        "x": None,
        "zero": 0.0,
        "big": 12345678901234567890,
    }
    add_message(tree, deep, "prompter", emojis=odd, text="odd counts")
    add_message(tree, first, "prompter", emojis={"+1": 0, "-1": 0}, text="no counts")
    add_emoji(first, bob, "+1")

    synthetic_tree, synthetic_prompt = make_tree(text="synthetic one")
    add_message(
        synthetic_tree, synthetic_prompt, "assistant", synthetic=True, model_name="pythia «12b»"
    )
    make_tree(state="growing", lang="de", text="Wie wächst Weizen?")
    make_tree(deleted=True, text="a removed prompt")
    return garden


VARIANTS = [
    pytest.param({}, {}, id="defaults"),
    pytest.param({"labels": True, "events": True}, {}, id="labels-events"),
    pytest.param(
        {
            "states": "all",
            "deleted": "include",
            "spam": "include",
            "synthetic": "include",
            "labels": True,
            "events": True,
        },
        {},
        id="everything",
    ),
    pytest.param({"prompts_only": True, "labels": True}, {}, id="prompts-only"),
    pytest.param({"limit": 2, "states": "all"}, {}, id="limit"),
    pytest.param(
        {"states": "all", "synthetic": "include", "labels": True, "events": True},
        {"shape": "message"},
        id="message-lines",
    ),
    pytest.param({"labels": True}, {"compress": True}, id="gzip"),
]


def export(data: dict[str, Any], *, anonymize: bool, **options: Any) -> bytes:
    out = io.BytesIO()
    filters = parse_filters({**data, "anonymize": anonymize})
    write_dataset(out, filters, anonymizer=Anonymizer("fast-salt"), **options)
    raw = out.getvalue()
    return gzip.decompress(raw) if options.get("compress") else raw


def assert_same_bytes(data: dict[str, Any], options: dict[str, Any], *, anonymize: bool) -> bytes:
    fast = export(data, anonymize=anonymize, fast=True, **options)
    plain = export(data, anonymize=anonymize, fast=False, **options)
    assert fast == plain
    return fast


@pytest.mark.parametrize("anonymize", [False, True], ids=["ids", "anonymised"])
@pytest.mark.parametrize(("data", "options"), VARIANTS)
def test_fast_writer_writes_the_plain_writers_bytes(
    db: None, data: dict[str, Any], options: dict[str, Any], anonymize: bool
) -> None:
    plant_variety()
    written = assert_same_bytes(data, options, anonymize=anonymize)
    assert written.count(b"\n") >= 2
    if not anonymize:
        assert TRICKY_TEXT.encode() not in written  # it was escaped,
        assert "Grüße, 中文, 🍅".encode() in written  # but not into ASCII


def test_timestamps_keep_isoformats_spelling(db: None) -> None:
    """No fraction when the microseconds are zero, six digits otherwise."""
    tree, prompt = make_tree(created_at=T0.replace(microsecond=0))
    add_message(tree, prompt, "assistant", created_at=T0.replace(microsecond=500000))
    add_message(tree, prompt, "assistant", created_at=T0.replace(microsecond=70))
    add_message(tree, prompt, "assistant", created_at=T0.replace(microsecond=983370))
    # PostgreSQL writes the body's timestamp in UTC whatever the session's zone.
    add_message(
        tree, prompt, "assistant", created_at=datetime(999, 1, 1, 0, 0, 0, 100000, tzinfo=UTC)
    )
    written = assert_same_bytes({}, {}, anonymize=False)
    assert b'"created_date":"2023-02-05T14:23:50+00:00"' in written
    assert b'"created_date":"2023-02-05T14:23:50.500000+00:00"' in written
    assert b'"created_date":"2023-02-05T14:23:50.000070+00:00"' in written
    assert b'"created_date":"2023-02-05T14:23:50.983370+00:00"' in written
    assert b'"created_date":"0999-01-01T00:00:00.100000+00:00"' in written


@pytest.mark.parametrize("deflate", list(DEFLATES.values()), ids=list(DEFLATES))
def test_gzip_members_decompress_to_the_lines_and_repeat_exactly(deflate: Deflate) -> None:
    lines = [f'{{"n":{n},"text":"{"tomato " * (n % 50)} 🍅 Grüße"}}\n' for n in range(40000)]

    def pack() -> bytes:
        out = io.BytesIO()
        sink = JsonlSink(out, compress=True, members=True)
        sink.output = GzipMembers(out, deflate=deflate)
        for line in lines:
            sink.add_line(line)
        sink.close()
        return out.getvalue()

    packed = pack()
    text = "".join(lines).encode()
    assert len(text) > 3 << 20  # several members
    assert packed.count(b"\x1f\x8b\x08") >= 3
    assert gzip.decompress(packed) == text
    with gzip.GzipFile(fileobj=io.BytesIO(packed)) as stream:
        assert stream.read() == text  # streamed, member after member
    assert pack() == packed  # no timestamps or names: the same lines give the same file
    assert len(packed) < len(text) / 10  # compressed (sizes on real exports: bench/export.py)


def test_gzip_members_use_isal_where_it_is_installed() -> None:
    assert "isal" in DEFLATES  # a pinned dependency
    assert DEFLATE is DEFLATES["isal"]
    assert DEFLATE.level == 1


@pytest.mark.parametrize("deflate", list(DEFLATES.values()), ids=list(DEFLATES))
def test_an_empty_gzip_export_is_still_a_gzip_file(deflate: Deflate) -> None:
    out = io.BytesIO()
    GzipMembers(out, deflate=deflate).close()
    assert out.getvalue()[:2] == b"\x1f\x8b"
    assert gzip.decompress(out.getvalue()) == b""
    assert zlib.decompress(out.getvalue(), 31) == b""


def test_gzip_members_hand_on_a_write_error() -> None:
    class Broken(io.BytesIO):
        def write(self, data: Any) -> int:
            raise OSError("disk full")

    members = GzipMembers(Broken(), ahead=1)
    with pytest.raises(OSError, match="disk full"):
        try:
            for _ in range(4):
                members.write(b"x" * 1000)
        finally:
            members.close()
    assert members.pool._shutdown


def test_read_ahead_hands_items_on_in_order_and_raises_the_producers_error() -> None:
    def produce() -> Any:
        yield from range(10)
        raise ValueError("page went missing")

    items = ReadAhead(produce, ahead=2)
    got = []
    with pytest.raises(ValueError, match="page went missing"):
        for item in items:
            got.append(item)
    items.close()
    assert got == list(range(10))
    assert not items.thread.is_alive()


def test_read_ahead_stops_its_thread_when_closed_early() -> None:
    closed = threading.Event()

    def produce() -> Any:
        try:
            n = 0
            while True:
                yield n
                n += 1
        finally:
            closed.set()

    items = ReadAhead(produce, ahead=2)
    assert next(items) == 0
    items.close()
    assert not items.thread.is_alive()
    assert closed.is_set()


def test_fast_writer_still_holds_one_tree_at_a_time(db: None) -> None:
    authors = [make_author(f"w{i}") for i in range(4)]
    for n in range(30):
        tree, prompt = make_tree(user=authors[0], text=f"prompt {n}")
        reply = add_message(tree, prompt, "assistant", user=authors[1], rank=0)
        add_message(tree, reply, "prompter", user=authors[2])
        add_message(tree, prompt, "assistant", user=authors[3], rank=1)
    out = io.BytesIO()
    counts = write_dataset(out, parse_filters({}), chunk_size=7, fast=True)
    assert counts.trees == 30 and counts.messages == 120
    assert counts.peak_live_nodes == 4
    assert ExportNode.live == 0


def test_fast_writer_reports_progress_every_chunk_of_trees_and_at_the_end(db: None) -> None:
    for n in range(7):
        make_tree(text=f"prompt {n}")
    seen: list[tuple[int, int | None]] = []
    write_dataset(
        io.BytesIO(),
        parse_filters({}),
        chunk_size=3,
        fast=True,
        progress=lambda counts: seen.append((counts.trees, counts.trees_total)),
    )
    assert seen == [(3, 7), (6, 7), (7, 7)]


# --- PostgreSQL: rows read on a thread with a connection of its own -------------------


def reader_threads() -> list[threading.Thread]:
    return [thread for thread in threading.enumerate() if thread.name == "export-reader"]


@pytest.mark.services
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
@pytest.mark.parametrize(("data", "options"), VARIANTS)
def test_committed_rows_are_read_ahead_with_the_same_bytes(
    data: dict[str, Any], options: dict[str, Any], monkeypatch: Any
) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("the raw reader and its thread run on PostgreSQL (the DATABASE_URL leg of CI)")
    plant_variety()
    started: list[ReadAhead] = []

    class Spy(ReadAhead):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            started.append(self)

    monkeypatch.setattr(writer, "ReadAhead", Spy)
    written = assert_same_bytes(data, options, anonymize=True)
    assert len(started) == 1  # the fast run read ahead; the plain one did not
    assert written.count(b"\n") >= 2
    assert reader_threads() == []


@pytest.mark.services
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_cancelling_a_read_ahead_export_stops_the_reader() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("the raw reader and its thread run on PostgreSQL (the DATABASE_URL leg of CI)")
    for n in range(12):
        make_tree(text=f"prompt {n}")
    pages: list[int] = []

    def cancel(counts: Any) -> None:
        pages.append(counts.trees)
        if len(pages) == 2:
            raise ExportCancelled("stop")

    with pytest.raises(ExportCancelled):
        write_dataset(io.BytesIO(), parse_filters({}), chunk_size=3, progress=cancel)
    assert pages == [3, 6]
    assert reader_threads() == []
    assert ExportNode.live == 0
