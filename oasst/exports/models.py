"""Export and import runs: one row each, processed by a Celery job (``jobs.py``)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class ExportFormat(models.TextChoices):
    JSONL = "jsonl", _("JSON Lines")
    PARQUET = "parquet", _("Parquet (oasst1 columns)")


class ExportShape(models.TextChoices):
    TREE = "tree", _("one tree per line")
    MESSAGE = "message", _("one message per line")


class RunStatus(models.TextChoices):
    QUEUED = "queued", _("queued")
    RUNNING = "running", _("running")
    DONE = "done", _("done")
    FAILED = "failed", _("failed")
    CANCELLED = "cancelled", _("cancelled")
    EXPIRED = "expired", _("expired")


UNFINISHED = (RunStatus.QUEUED, RunStatus.RUNNING)


class ExportQuerySet(models.QuerySet["Export"]):
    def unfinished(self) -> ExportQuerySet:
        return self.filter(status__in=UNFINISHED)

    def past_retention(self, now: object = None) -> ExportQuerySet:
        return self.filter(status=RunStatus.DONE, expires_at__lt=now or timezone.now())

    def stalled(self, *, minutes: int) -> ExportQuerySet:
        """Running, but no progress saved for ``minutes``: the worker died under it."""
        return self.filter(
            status=RunStatus.RUNNING, updated_at__lt=timezone.now() - timedelta(minutes=minutes)
        )


class Export(models.Model):
    """A request for a dataset file, its progress, and the published file."""

    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="exports",
    )
    source = models.CharField(max_length=16, default="page")  # page, api, admin, schedule
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(default=timezone.now)
    status = models.CharField(max_length=16, choices=RunStatus.choices, default=RunStatus.QUEUED)
    cancel_requested = models.BooleanField(default=False)
    format = models.CharField(
        max_length=16, choices=ExportFormat.choices, default=ExportFormat.JSONL
    )
    shape = models.CharField(max_length=16, choices=ExportShape.choices, default=ExportShape.TREE)
    gzip = models.BooleanField(default=True)
    filters = models.JSONField(default=dict, blank=True)
    trees_total = models.PositiveIntegerField(null=True, blank=True)
    trees_done = models.PositiveIntegerField(default=0)
    messages_total = models.PositiveIntegerField(null=True, blank=True)
    messages_done = models.PositiveIntegerField(default=0)
    file_name = models.CharField(max_length=255, blank=True)
    size = models.PositiveBigIntegerField(null=True, blank=True)
    sha256 = models.CharField(max_length=64, blank=True)
    error = models.TextField(blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)

    objects = ExportQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["status", "updated_at"], name="export_status")]

    def __str__(self) -> str:
        return f"export {self.pk} ({self.status})"

    @property
    def is_finished(self) -> bool:
        return self.status not in UNFINISHED

    @property
    def path(self) -> Path | None:
        if not self.file_name:
            return None
        return Path(settings.OASST_EXPORT_DIR) / self.file_name

    @property
    def percent(self) -> int:
        if self.status == RunStatus.DONE:
            return 100
        if not self.trees_total:
            return 0
        return min(100, self.trees_done * 100 // self.trees_total)

    @property
    def suffix(self) -> str:
        if self.format == ExportFormat.PARQUET:
            return ".parquet"
        kind = "trees" if self.shape == ExportShape.TREE else "messages"
        return f".{kind}.jsonl" + (".gz" if self.gzip else "")


class ImportRun(models.Model):
    """An uploaded dataset file to import, and the report of what was imported or rejected."""

    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    file = models.FileField(_("file"), upload_to="imports/%Y/%m/")
    state = models.CharField(
        _("tree state"),
        max_length=32,
        blank=True,
        help_text=_("Overrides the state written in the file; empty keeps it."),
    )
    synthetic = models.BooleanField(
        _("synthetic"),
        default=False,
        help_text=_("Model-generated replies: marked synthetic, trees wait for ranking."),
    )
    origin = models.CharField(_("origin"), max_length=1024, blank=True)
    model_name = models.CharField(_("model name"), max_length=1024, blank=True)
    dry_run = models.BooleanField(_("dry run"), default=False)
    status = models.CharField(max_length=16, choices=RunStatus.choices, default=RunStatus.QUEUED)
    report = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("import")

    def __str__(self) -> str:
        return f"import {self.pk} ({self.status})"
