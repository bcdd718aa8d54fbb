"""Writes about a person: terms, profile, ban, deletion."""

from __future__ import annotations

import uuid

from django.db import transaction
from django.utils import timezone

from oasst.accounts.models import User
from oasst.lib.languages import is_valid_language


def accept_tos(user: User) -> None:
    if user.tos_accepted_at is None:
        user.tos_accepted_at = timezone.now()
        user.save(update_fields=["tos_accepted_at"])


def set_languages(user: User, languages: list[str]) -> None:
    """Set the person's languages, the task language first; duplicates are dropped."""
    unknown = [code for code in languages if not is_valid_language(code)]
    if unknown:
        raise ValueError(f"unknown language codes: {', '.join(unknown)}")
    user.languages = list(dict.fromkeys(languages))
    user.save(update_fields=["languages"])


def ban_user(user: User, *, reason: str) -> None:
    """Disable the account; the person can no longer sign in, and their API tokens stop working."""
    user.banned_at = timezone.now()
    user.ban_reason = reason[:512]
    user.is_active = False
    user.save(update_fields=["banned_at", "ban_reason", "is_active"])


def unban_user(user: User) -> None:
    user.banned_at = None
    user.ban_reason = ""
    user.is_active = True
    user.save(update_fields=["banned_at", "ban_reason", "is_active"])


@transaction.atomic
def delete_account(user: User) -> None:
    """Delete a person's account but keep what they contributed, without their name.

    The row stays so that messages, labels and rankings keep their author
    pointer; everything that identifies the person is erased.
    """
    from allauth.account.models import EmailAddress
    from allauth.socialaccount.models import SocialAccount

    EmailAddress.objects.filter(user=user).delete()
    SocialAccount.objects.filter(user=user).delete()
    user.api_tokens.all().delete()
    user.groups.clear()
    user.user_permissions.clear()
    user.username = f"deleted-{uuid.uuid4().hex[:16]}"
    user.display_name = "Deleted user"
    user.first_name = user.last_name = user.email = ""
    user.frontend_id = user.username if user.api_client_id else ""
    user.languages = []
    user.notes = ""
    user.show_on_leaderboard = False
    user.is_active = user.is_staff = user.is_superuser = False
    user.deleted_at = timezone.now()
    user.set_unusable_password()
    user.save()
