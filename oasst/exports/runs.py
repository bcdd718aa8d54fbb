"""Export rows: create one, run it to a published file, cancel it, expire old ones."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from oasst.accounts.models import User
from oasst.exports.anonymizer import Anonymizer, read_instance_salt
from oasst.exports.files import PARTIAL_PREFIX, HashingWriter, PendingFile
from oasst.exports.filters import parse_filters
from oasst.exports.models import Export, ExportFormat, RunStatus
from oasst.exports.writer import ExportCancelled, ExportCounts, resolve_shape, write_dataset

log = logging.getLogger(__name__)


def export_dir() -> Path:
    return Path(settings.OASST_EXPORT_DIR)


def create_export(
    *,
    filters: dict[str, Any],
    format: str = ExportFormat.JSONL,
    shape: str = "tree",
    gzip: bool = True,
    requested_by: User | None = None,
    source: str = "page",
    enqueue: bool = True,
) -> Export:
    """Record an export request and queue its job once the row is committed.

    Raises ``InvalidFilters`` (a ``ValueError``) for bad filters or choices.
    """
    parsed = parse_filters(filters)
    if format not in ExportFormat.values:
        raise ValueError(f"format: must be one of {', '.join(ExportFormat.values)}")
    if format == ExportFormat.PARQUET and parsed.events:
        raise ValueError("events: not part of the oasst1 Parquet columns; choose JSONL")
    export = Export.objects.create(
        requested_by=requested_by,
        source=source,
        format=format,
        shape=resolve_shape(parsed, format=format, shape=shape),
        gzip=gzip and format == ExportFormat.JSONL,
        filters=parsed.as_dict(),
    )
    if enqueue:
        from oasst.exports.jobs import run_export

        transaction.on_commit(lambda: run_export.delay(export.pk))
    return export


def _save_progress(export: Export, counts: ExportCounts) -> None:
    """Store progress, and stop if someone asked to cancel (checked at the same time)."""
    Export.objects.filter(pk=export.pk).update(
        trees_done=counts.trees,
        messages_done=counts.messages,
        trees_total=counts.trees_total,
        messages_total=counts.messages_total,
        updated_at=timezone.now(),
    )
    if Export.objects.filter(pk=export.pk, cancel_requested=True).exists():
        raise ExportCancelled("cancelled on request")


def write_export(
    export: Export,
    *,
    chunk_size: int = 500,
    on_progress: Callable[[ExportCounts], None] | None = None,
) -> Export:
    """Run ``export``: write its file under no name, publish it atomically, record size and sha256.

    A failure or a cancellation leaves no file and stores the reason on the row.
    ``on_progress`` is called after each saved page (tests use it).
    """
    now = timezone.now()
    claimed = Export.objects.filter(pk=export.pk, status=RunStatus.QUEUED).update(
        status=RunStatus.RUNNING, started_at=now, updated_at=now
    )
    export.refresh_from_db()
    if not claimed and export.status != RunStatus.RUNNING:
        return export  # finished, cancelled or expired meanwhile
    if export.cancel_requested:
        return _finish(export, RunStatus.CANCELLED, error="cancelled before it started")
    filters = parse_filters(export.filters)
    anonymizer = Anonymizer(read_instance_salt()) if filters.anonymize else None
    name = f"oasst-{export.pk}-{now:%Y%m%d-%H%M%S}{export.suffix}"
    pending = PendingFile(export_dir())

    def progress(counts: ExportCounts) -> None:
        _save_progress(export, counts)
        if on_progress is not None:
            on_progress(counts)

    try:
        hashing = HashingWriter(pending.file)
        counts = write_dataset(
            hashing,
            filters,
            format=export.format,
            shape=export.shape,
            compress=export.gzip,
            anonymizer=anonymizer,
            chunk_size=chunk_size,
            progress=progress,
        )
        pending.publish(export_dir() / name)
    except ExportCancelled as exc:
        pending.discard()
        return _finish(export, RunStatus.CANCELLED, error=str(exc))
    except Exception as exc:
        pending.discard()
        log.exception("export %s failed", export.pk)
        return _finish(export, RunStatus.FAILED, error=f"{type(exc).__name__}: {exc}")
    return _finish(
        export,
        RunStatus.DONE,
        file_name=name,
        size=hashing.size,
        sha256=hashing.sha256,
        trees_done=counts.trees,
        messages_done=counts.messages,
        trees_total=counts.trees_total,
        messages_total=counts.messages_total,
        expires_at=timezone.now() + timedelta(days=settings.OASST_EXPORT_RETENTION_DAYS),
    )


def _finish(export: Export, status: str, **fields: Any) -> Export:
    now = timezone.now()
    Export.objects.filter(pk=export.pk).update(
        status=status, finished_at=now, updated_at=now, **fields
    )
    export.refresh_from_db()
    if export.requested_by_id:
        _notify(export)
    return export


def _notify(export: Export) -> None:
    from django.utils.translation import gettext as _

    from oasst.accounts.notifications import notify_user

    messages = {
        RunStatus.DONE: (
            _("Your export %(id)s is ready to download.") % {"id": export.pk},
            "success",
        ),
        RunStatus.FAILED: (_("Your export %(id)s failed.") % {"id": export.pk}, "error"),
        RunStatus.CANCELLED: (
            _("Your export %(id)s was cancelled.") % {"id": export.pk},
            "warning",
        ),
    }
    if export.status in messages:
        text, level = messages[export.status]
        try:
            notify_user(export.requested_by_id, text, level=level)
        except Exception:  # a toast is a courtesy; the page shows the state anyway
            log.warning(
                "could not notify user %s about export %s", export.requested_by_id, export.pk
            )


def cancel_export(export: Export) -> Export:
    """Ask a queued or running export to stop; a queued one stops at once."""
    Export.objects.filter(pk=export.pk).update(cancel_requested=True)
    Export.objects.filter(pk=export.pk, status=RunStatus.QUEUED).update(
        status=RunStatus.CANCELLED, finished_at=timezone.now(), error="cancelled before it started"
    )
    export.refresh_from_db()
    return export


def expire_exports() -> dict[str, int]:
    """Delete files past the retention, fail exports whose worker died, sweep leftover partial files."""
    expired = 0
    for export in Export.objects.past_retention():
        if export.path is not None:
            export.path.unlink(missing_ok=True)
        expired += Export.objects.filter(pk=export.pk, status=RunStatus.DONE).update(
            status=RunStatus.EXPIRED, file_name=""
        )
    stalled = Export.objects.stalled(minutes=settings.OASST_EXPORT_STALE_MINUTES).update(
        status=RunStatus.FAILED,
        finished_at=timezone.now(),
        error="the worker stopped while writing (no progress saved); no file was published",
    )
    swept = 0
    cutoff = timezone.now().timestamp() - settings.OASST_EXPORT_STALE_MINUTES * 60
    if export_dir().is_dir():
        for leftover in export_dir().glob(f"{PARTIAL_PREFIX}*"):
            if leftover.stat().st_mtime < cutoff:
                leftover.unlink(missing_ok=True)
                swept += 1
    return {"expired": expired, "stalled": stalled, "swept": swept}
