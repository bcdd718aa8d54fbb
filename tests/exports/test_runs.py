"""Export rows: the job, progress, atomic publishing, cancellation, failures, expiry, memory."""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import signal
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.db import connection
from django.utils import timezone

from oasst.exports import runs
from oasst.exports.filters import parse_filters
from oasst.exports.jobs import run_export
from oasst.exports.models import Export, RunStatus
from oasst.exports.writer import ExportCancelled, ExportNode, write_dataset
from oasst.trees.models import Message, MessageTree
from tests.exports.conftest import T0, Garden, make_author


def files_in(directory: Path) -> list[Path]:
    return sorted(directory.iterdir()) if directory.exists() else []


def test_job_publishes_the_file_with_its_size_and_checksum(
    garden: Garden, export_dir: Path
) -> None:
    export = runs.create_export(filters={"labels": True}, enqueue=False)
    run_export(export.pk)
    export.refresh_from_db()
    assert export.status == RunStatus.DONE, export.error
    [path] = files_in(export_dir)
    assert path == export.path and path.name.endswith(".trees.jsonl.gz")
    data = path.read_bytes()
    assert export.size == len(data)
    assert export.sha256 == hashlib.sha256(data).hexdigest()
    [tree] = [json.loads(line) for line in gzip.decompress(data).splitlines()]
    assert len(tree["message_tree_id"]) == 64  # anonymised by default
    assert (export.trees_total, export.trees_done, export.messages_done) == (1, 1, 4)
    assert export.expires_at > timezone.now() + timedelta(days=29)


def test_job_returns_quietly_when_the_row_is_gone(db: None) -> None:
    run_export(987654)


def test_enqueue_happens_on_commit(
    garden: Garden, export_dir: Path, django_capture_on_commit_callbacks: Any, monkeypatch: Any
) -> None:
    sent: list[int] = []
    monkeypatch.setattr(run_export, "delay", sent.append)
    with django_capture_on_commit_callbacks(execute=True):
        export = runs.create_export(filters={})
    assert sent == [export.pk]


def test_parquet_and_message_shapes_name_their_files(garden: Garden, export_dir: Path) -> None:
    parquet = runs.write_export(runs.create_export(filters={}, format="parquet", enqueue=False))
    flat = runs.write_export(
        runs.create_export(filters={}, shape="message", gzip=False, enqueue=False)
    )
    assert parquet.path.name.endswith(".parquet") and parquet.shape == "message"
    assert flat.path.name.endswith(".messages.jsonl")
    assert not parquet.gzip


def test_a_message_selection_is_always_written_flat(garden: Garden, export_dir: Path) -> None:
    export = runs.create_export(filters={"spam": "only"}, shape="tree", enqueue=False)
    assert export.shape == "message"


def test_progress_is_saved_per_page(garden: Garden, export_dir: Path) -> None:
    from tests.exports.conftest import make_tree

    for _ in range(4):
        make_tree()
    seen: list[tuple[int, int | None]] = []

    def watch(counts: Any) -> None:
        row = Export.objects.get()
        seen.append((row.trees_done, row.trees_total))

    runs.write_export(
        runs.create_export(filters={}, enqueue=False), chunk_size=2, on_progress=watch
    )
    assert seen == [(2, 5), (4, 5), (5, 5)]


def test_failure_leaves_no_file_and_says_why(
    garden: Garden, export_dir: Path, monkeypatch: Any
) -> None:
    def explode(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(runs, "write_dataset", explode)
    export = runs.write_export(runs.create_export(filters={}, enqueue=False))
    assert export.status == RunStatus.FAILED
    assert "disk on fire" in export.error
    assert files_in(export_dir) == []


def test_cancelling_a_running_export_stops_it_without_a_file(
    garden: Garden, export_dir: Path
) -> None:
    from tests.exports.conftest import make_tree

    for _ in range(3):
        make_tree()
    export = runs.create_export(filters={}, enqueue=False)

    def cancel_midway(counts: Any) -> None:
        runs.cancel_export(export)

    export = runs.write_export(export, chunk_size=1, on_progress=cancel_midway)
    assert export.status == RunStatus.CANCELLED
    assert export.trees_done < 4
    assert files_in(export_dir) == []


def test_cancelling_a_queued_export_stops_it_at_once(db: None, export_dir: Path) -> None:
    export = runs.cancel_export(runs.create_export(filters={}, enqueue=False))
    assert export.status == RunStatus.CANCELLED
    assert runs.write_export(export).status == RunStatus.CANCELLED


def test_expiry_deletes_old_files_and_fails_dead_runs(garden: Garden, export_dir: Path) -> None:
    old = runs.write_export(runs.create_export(filters={}, enqueue=False))
    fresh = runs.write_export(runs.create_export(filters={}, enqueue=False))
    Export.objects.filter(pk=old.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    dead = runs.create_export(filters={}, enqueue=False)
    Export.objects.filter(pk=dead.pk).update(
        status=RunStatus.RUNNING, updated_at=timezone.now() - timedelta(hours=2)
    )
    assert runs.expire_exports() == {"expired": 1, "stalled": 1, "swept": 0}
    old.refresh_from_db()
    dead.refresh_from_db()
    assert old.status == RunStatus.EXPIRED and not old.path.exists() if old.path else True
    assert files_in(export_dir) == [fresh.path]
    assert dead.status == RunStatus.FAILED and "worker stopped" in dead.error


def _bulk_trees(count: int, *, size: int) -> None:
    """``count`` exported trees of ``size`` messages (a prompt and its replies), inserted in bulk."""
    authors = [make_author(f"bulk{i}") for i in range(size)]
    trees, messages = [], []
    for n in range(count):
        tree_id = uuid.uuid4()
        trees.append(
            MessageTree(
                id=tree_id, state="ready_for_export", active=False, lang="en",
                goal_tree_size=size, max_depth=1, max_children_count=size, created_at=T0,
            )
        )  # fmt: skip
        messages.append(
            Message(id=tree_id, tree_id=tree_id, user=authors[0], role="prompter",
                    text=f"prompt {n}", lang="en", review_result=True, created_at=T0)
        )  # fmt: skip
        for i in range(1, size):
            messages.append(
                Message(tree_id=tree_id, parent_id=tree_id, user=authors[i], role="assistant",
                        text=f"reply {n}.{i}", lang="en", depth=1, review_result=True, rank=i - 1,
                        created_at=T0 + timedelta(seconds=i))
            )  # fmt: skip
    MessageTree.objects.bulk_create(trees, batch_size=500)
    Message.objects.bulk_create(messages, batch_size=500)


def test_writer_never_holds_more_than_one_tree(db: None) -> None:
    _bulk_trees(2000, size=3)
    with open(os.devnull, "wb") as sink:
        counts = write_dataset(sink, parse_filters({"labels": True}), chunk_size=50, compress=True)
    assert counts.trees == 2000 and counts.messages == 6000
    # Measured after each tree is built: only that tree's 3 nodes were alive.
    assert counts.peak_live_nodes == 3
    assert ExportNode.live == 0


def test_progress_callback_can_cancel_the_writer(db: None) -> None:
    _bulk_trees(20, size=2)

    def stop(counts: Any) -> None:
        raise ExportCancelled("stop")

    with open(os.devnull, "wb") as sink, pytest.raises(ExportCancelled):
        write_dataset(sink, parse_filters({}), chunk_size=5, progress=stop)


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_killed_job_leaves_no_file(export_dir: Path) -> None:
    _bulk_trees(40, size=2)
    export = runs.create_export(filters={}, enqueue=False)
    ready_read, ready_write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the worker: write a few pages, then hang until killed
        try:
            if connection.vendor != "sqlite":
                # A new connection of its own: the parent's socket must not be shared.
                connection.connection = None
            os.close(ready_read)

            def hang(counts: Any) -> None:
                if counts.trees >= 20:
                    os.write(ready_write, b"x")
                    signal.pause()

            runs.write_export(export, chunk_size=5, on_progress=hang)
        finally:
            os._exit(1)
    os.close(ready_write)
    assert os.read(ready_read, 1) == b"x"
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    os.close(ready_read)
    # The worker had written 20 trees; nothing was published and no partial
    # file is left behind, even before any clean-up runs.
    assert files_in(export_dir) == []
    # (An in-memory SQLite test database is the child's own copy, so the row's
    # state is set here as the dead worker left it on a shared database.)
    Export.objects.filter(pk=export.pk).update(
        status=RunStatus.RUNNING, updated_at=timezone.now() - timedelta(hours=1)
    )
    assert runs.expire_exports()["stalled"] == 1


def test_a_disabled_nightly_schedule_runs_the_scheduled_export_job(
    garden: Garden, export_dir: Path
) -> None:
    from django_celery_beat.models import PeriodicTask

    from oasst.exports.jobs import scheduled_export

    task = PeriodicTask.objects.get(name="Nightly dataset export")
    assert not task.enabled and task.task == "oasst.exports.jobs.scheduled_export"
    export_id = scheduled_export(**json.loads(task.kwargs))
    export = Export.objects.get(pk=export_id)
    assert export.status == RunStatus.DONE and export.source == "schedule"
    assert export.filters["labels"] is True and export.requested_by is None
    assert export.path.is_file()


def test_expiry_has_a_beat_entry(settings: Any) -> None:
    entry = settings.CELERY_BEAT_SCHEDULE["exports-expire"]
    assert entry["task"] == "oasst.exports.jobs.expire_exports"
