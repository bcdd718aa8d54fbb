from __future__ import annotations

from django.test import Client

from oasst.accounts.keys import create_token, user_for_token
from oasst.accounts.models import User


def test_deleting_an_account_erases_the_person_but_keeps_the_row(
    volunteer_client: Client, volunteer: User
) -> None:
    _, key = create_token(volunteer, name="script")
    pk = volunteer.pk
    response = volunteer_client.post("/me/settings/delete/", {"confirm": "vera"})
    assert response.status_code == 302

    user = User.objects.get(pk=pk)
    assert user.is_deleted
    assert user.username.startswith("deleted-")
    assert user.email == "" and user.display_name == "Deleted user"
    assert not user.is_active and not user.has_usable_password()
    assert not user.show_on_leaderboard
    assert user_for_token(key) is None
    assert volunteer_client.get("/api/v1/auth/me").status_code == 401
    assert not Client().login(username="vera", password="correct horse battery staple")


def test_deletion_needs_the_username_typed(volunteer_client: Client, volunteer: User) -> None:
    response = volunteer_client.post("/me/settings/delete/", {"confirm": "someone"})
    assert response.status_code == 200
    assert b"That is not your username" in response.content
    volunteer.refresh_from_db()
    assert not volunteer.is_deleted
