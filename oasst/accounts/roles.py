"""The four roles, as Django groups (created by migration 0002).

Permissions decide what a person may do; a role is a named bundle of them.
Moderators and admins are staff, so they can use the Django admin within
their permissions.
"""

from __future__ import annotations

from django.contrib.auth.models import Group

from oasst.accounts.models import User

VOLUNTEER = "volunteer"
MODERATOR = "moderator"
ADMIN = "admin"
DATA = "data"
ROLES = (VOLUNTEER, MODERATOR, ADMIN, DATA)
STAFF_ROLES = {MODERATOR, ADMIN}

# The permissions of each group are set by migrations (accounts 0002 and the
# later apps' own), which are the one record of what a role may do.


def assign_role(user: User, role: str) -> None:
    """Give ``user`` a role; staff roles also open the Django admin."""
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}; expected one of {', '.join(ROLES)}")
    user.groups.add(Group.objects.get(name=role))
    if role in STAFF_ROLES and not user.is_staff:
        user.is_staff = True
        user.save(update_fields=["is_staff"])


def remove_role(user: User, role: str) -> None:
    user.groups.remove(Group.objects.get(name=role))
    if role in STAFF_ROLES and not user.is_superuser:
        still_staff = user.groups.filter(name__in=STAFF_ROLES).exists()
        if user.is_staff != still_staff:
            user.is_staff = still_staff
            user.save(update_fields=["is_staff"])


def has_role(user: User, role: str) -> bool:
    if not user.is_authenticated:
        return False
    if role == ADMIN and user.is_superuser:
        return True
    return user.groups.filter(name=role).exists()
