from __future__ import annotations

from allauth.account.adapter import DefaultAccountAdapter
from django.conf import settings
from django.http import HttpRequest

from oasst.accounts import roles
from oasst.accounts.models import User


class AccountAdapter(DefaultAccountAdapter):
    """Everyone who signs up becomes a volunteer."""

    def is_open_for_signup(self, request: HttpRequest) -> bool:
        return settings.ACCOUNT_SIGNUP_OPEN

    def save_user(
        self, request: HttpRequest, user: User, form: object, commit: bool = True
    ) -> User:
        user = super().save_user(request, user, form, commit=commit)
        if commit:
            roles.assign_role(user, roles.VOLUNTEER)
            if not user.languages:
                lang = getattr(request, "LANGUAGE_CODE", "en") or "en"
                user.languages = [lang]
                user.save(update_fields=["languages"])
        return user
