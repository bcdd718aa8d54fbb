"""What the volunteer pages keep beside the tree engine: unsent drafts."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone


class Draft(models.Model):
    """The text a person is writing for a task of one type, saved as they type.

    One draft per person and task type: when the task it was written for has
    gone (expired, skipped by a job), the draft is offered as the start of a
    fresh task of the same type. ``task_id`` is a plain value, not a foreign
    key, so the draft outlives the task row.
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="task_drafts"
    )
    task_type = models.CharField(max_length=32)
    task_id = models.UUIDField(null=True, blank=True)
    text = models.TextField(blank=True)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "task_type"], name="one_draft_per_task_type")
        ]
        indexes = [models.Index(fields=["user", "task_id"], name="draft_user_task")]

    def __str__(self) -> str:
        return f"draft for {self.task_type} by {self.user_id}"
