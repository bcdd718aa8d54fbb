"""The people a trusted API client acts for, created the first time the client names them."""

from __future__ import annotations

import hashlib

from django.db import IntegrityError, transaction

from oasst.accounts.models import ApiClient, User


def frontend_username(client: ApiClient, *, auth_method: str, frontend_id: str) -> str:
    """A unique, stable username for a frontend's user (usernames are global, ids are per client)."""
    name = f"fe{client.pk}.{auth_method}.{frontend_id}"
    if len(name) <= 150:
        return name
    digest = hashlib.sha256(name.encode()).hexdigest()[:32]
    return f"fe{client.pk}.{auth_method}.{digest}"


def _find_frontend_user(client: ApiClient, *, auth_method: str, frontend_id: str) -> User | None:
    """The client's user with this id, read fresh (its flags decide what it may do).

    In SQL: on two of a frontend's three requests, composing this lookup cost
    the ORM twice what reading the row does. No ORDER BY: the lookup is unique.
    """
    sql = f"""
        SELECT * FROM {User._meta.db_table}
        WHERE api_client_id = %s AND auth_method = %s AND frontend_id = %s
    """  # noqa: S608 - the table name comes from the model, values are parameters
    found = list(User.objects.raw(sql, [client.pk, auth_method, frontend_id]))
    return found[0] if found else None


def find_or_create_frontend_user(
    client: ApiClient, *, frontend_id: str, auth_method: str = "local", display_name: str | None
) -> User:
    """The client's user with this id; created on first sight, display name kept up to date."""
    lookup = {"api_client": client, "auth_method": auth_method, "frontend_id": frontend_id}
    user = _find_frontend_user(client, auth_method=auth_method, frontend_id=frontend_id)
    if user is None:
        try:
            with transaction.atomic():
                user = User.objects.create(
                    username=frontend_username(
                        client, auth_method=auth_method, frontend_id=frontend_id
                    ),
                    display_name=display_name or frontend_id,
                    show_on_leaderboard=auth_method != "system",
                    **lookup,
                )
                user.set_unusable_password()
                user.save(update_fields=["password"])
        except IntegrityError:  # created by a concurrent request
            user = User.objects.get(**lookup)
    elif display_name and user.display_name != display_name:
        user.display_name = display_name
        User.objects.filter(pk=user.pk).update(display_name=display_name)
    return user
