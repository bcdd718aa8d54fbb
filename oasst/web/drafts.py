"""Saving and finding unsent drafts (the server half; the browser keeps its own copy too)."""

from __future__ import annotations

from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext as _

from oasst.accounts.models import User
from oasst.trees.errors import ErrorCode, OasstError
from oasst.trees.models import Task
from oasst.web.models import Draft


def save_draft(task: Task, *, user: User, text: str) -> Draft | None:
    """Keep ``text`` as this person's draft for tasks of ``task``'s type; empty text discards it."""
    if task.user_id != user.pk:
        raise OasstError(ErrorCode.TASK_NOT_ASSIGNED_TO_USER, _("This task is someone else's."))
    if len(text) > settings.OASST_MESSAGE_SIZE_LIMIT * 4:
        raise OasstError(ErrorCode.TASK_MESSAGE_TOO_LONG, _("This draft is far too long to keep."))
    if not text.strip():
        discard_draft(user=user, task_type=task.type)
        return None
    draft, _created = Draft.objects.update_or_create(
        user=user,
        task_type=task.type,
        defaults={"task_id": task.pk, "text": text, "updated_at": timezone.now()},
    )
    return draft


def find_draft(*, user: User, task_type: str) -> Draft | None:
    return Draft.objects.filter(user=user, task_type=task_type).first()


def find_draft_of_task(*, user: User, task_id: object) -> Draft | None:
    return Draft.objects.filter(user=user, task_id=task_id).first()


def discard_draft(*, user: User, task_type: str) -> None:
    Draft.objects.filter(user=user, task_type=task_type).delete()
