"""What the pages say when the tree engine refuses: the API keeps OA's English, the pages translate."""

from __future__ import annotations

from django.conf import settings
from django.utils.translation import gettext as _

from oasst.trees.errors import ErrorCode, OasstError


def explain_error(exc: OasstError) -> str:
    """The refusal in the reader's language; errors the pages raise themselves are already so."""
    code = exc.error
    if code == ErrorCode.TASK_REQUESTED_TYPE_NOT_AVAILABLE:
        return _("No task of this kind is available in your language right now.")
    if code == ErrorCode.TASK_TOO_MANY_PENDING:
        return _("You have too many unfinished tasks: finish or skip some first.")
    if code == ErrorCode.TASK_EXPIRED:
        return _("This task has expired.")
    if code in (ErrorCode.TASK_ALREADY_DONE, ErrorCode.TASK_ALREADY_UPDATED):
        return _("This task is already finished or skipped.")
    if code == ErrorCode.TASK_MESSAGE_TEXT_EMPTY:
        return _("Please write something first.")
    if code == ErrorCode.TASK_MESSAGE_TOO_LONG:
        return _("Your text is too long: at most %(limit)s characters.") % {
            "limit": settings.OASST_MESSAGE_SIZE_LIMIT
        }
    if code == ErrorCode.TASK_MESSAGE_DUPLICATED:
        return _("You sent exactly this text a short while ago.")
    if code == ErrorCode.TASK_MESSAGE_DUPLICATE_REPLY:
        return _("You have already done this task for this message.")
    if code == ErrorCode.TREE_IN_ABORTED_STATE:
        return _("This conversation takes no more replies.")
    if code == ErrorCode.TEXT_LABELS_NO_SELF_LABELING:
        return _("You cannot review your own message.")
    if code == ErrorCode.TEXT_LABELS_DUPLICATE_TASK_REPLY:
        return _("You already reviewed this message.")
    if code == ErrorCode.INVALID_RANKING_VALUE:
        return _("The order sent is not valid.")
    return exc.message
