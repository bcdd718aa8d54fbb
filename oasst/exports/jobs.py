"""Celery jobs of the exports app; each looks its row up and calls a plain function."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from celery import shared_task
from django.utils import timezone

from oasst.exports import runs
from oasst.exports.importer import import_file
from oasst.exports.models import Export, ImportRun, RunStatus


@shared_task(name="oasst.exports.jobs.run_export")
def run_export(export_id: int) -> None:
    export = Export.objects.filter(pk=export_id).first()
    if export is None:
        return
    runs.write_export(export)


@shared_task(name="oasst.exports.jobs.scheduled_export")
def scheduled_export(**options: Any) -> int:
    """For a django-celery-beat PeriodicTask: its kwargs are ``filters``, ``format``, ``shape``, ``gzip``."""
    export = runs.create_export(
        filters=options.get("filters") or {},
        format=options.get("format", "jsonl"),
        shape=options.get("shape", "tree"),
        gzip=options.get("gzip", True),
        source="schedule",
        enqueue=False,
    )
    runs.write_export(export)
    return export.pk


@shared_task(name="oasst.exports.jobs.expire_exports")
def expire_exports() -> dict[str, int]:
    return runs.expire_exports()


@shared_task(name="oasst.exports.jobs.run_import")
def run_import(import_id: int) -> None:
    run = ImportRun.objects.filter(pk=import_id, status=RunStatus.QUEUED).first()
    if run is None:
        return
    ImportRun.objects.filter(pk=run.pk).update(status=RunStatus.RUNNING)
    try:
        report = import_file(
            Path(run.file.path),
            state=run.state or None,
            synthetic=run.synthetic,
            origin=run.origin,
            model_name=run.model_name,
            dry_run=run.dry_run,
        )
    except Exception as exc:
        ImportRun.objects.filter(pk=run.pk).update(
            status=RunStatus.FAILED,
            error=f"{type(exc).__name__}: {exc}",
            finished_at=timezone.now(),
        )
        raise
    ImportRun.objects.filter(pk=run.pk).update(
        status=RunStatus.DONE, report=report.as_dict(), finished_at=timezone.now()
    )
