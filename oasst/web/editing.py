"""A contributor edits their own message for a while after writing it (OA #1925, #3031)."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext as _

from oasst.accounts.models import User
from oasst.trees.errors import ErrorCode, OasstError
from oasst.trees.journal import record_event
from oasst.trees.models import Message, MessageRevision, MessageTree, TreeState
from oasst.trees.retries import run_atomically
from oasst.trees.submissions import check_reply_text

# Only while the message's own review can start again: a prompt while its
# tree is in prompt review, a reply while its tree grows. Later the message
# may be ranked or exported, and changing it would change what others judged.


def editable_in(message: Message, tree_state: str) -> bool:
    if message.parent_id is None:
        return tree_state == TreeState.INITIAL_PROMPT_REVIEW
    return tree_state == TreeState.GROWING


def edit_deadline(message: Message) -> timezone.datetime:
    return message.created_at + timedelta(minutes=settings.OASST_SELF_EDIT_WINDOW_MINUTES)


def why_not_editable(message: Message, *, user: User, tree_state: str) -> str:
    """An empty string when ``user`` may edit ``message`` now, else the reason (for the page)."""
    if message.user_id != user.pk:
        return "not_author"
    if message.deleted:
        return "deleted"
    if timezone.now() > edit_deadline(message):
        return "window_closed"
    if not editable_in(message, tree_state):
        return "tree_moved_on"
    if message.children_count > 0:
        return "has_replies"
    return ""


def edit_own_message(message: Message, *, user: User, text: str) -> Message:
    """Replace the text of ``user``'s own message, keeping the old text as a revision.

    The message goes back to review: its review count and result are reset, so
    it is offered to reviewers again and holds no accepted place in the tree.
    Takes the tree's row lock, then re-checks everything it read.
    """

    def write() -> Message:
        tree = MessageTree.objects.select_for_update().get(pk=message.tree_id)
        current = Message.objects.get(pk=message.pk)
        reason = why_not_editable(current, user=user, tree_state=tree.state)
        if reason:
            raise OasstError(ErrorCode.INVALID_MESSAGE, _("This message cannot be edited."))
        new_text = (text or "").strip()
        if new_text == current.text:
            raise OasstError(ErrorCode.INVALID_MESSAGE, _("The text is unchanged."))
        new_text = check_reply_text(new_text, user=user)
        MessageRevision.objects.create(message=current, user=user, text=current.text)
        Message.objects.filter(pk=current.pk).update(
            text=new_text, edited=True, review_count=0, review_result=None
        )
        record_event(
            "message_edited",
            user_id=user.pk,
            message_id=current.pk,
            tree_id=tree.pk,
            length=len(new_text),
        )
        current.refresh_from_db()
        return current

    return run_atomically(write)
