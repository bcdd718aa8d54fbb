from __future__ import annotations

import pytest
from django.test import Client

from oasst.accounts import roles
from oasst.accounts.models import User


@pytest.mark.django_db
def test_signing_up_makes_a_volunteer_who_has_not_yet_accepted_the_terms() -> None:
    client = Client()
    response = client.post(
        "/accounts/signup/",
        {
            "username": "sam",
            "email": "sam@example.org",
            "password1": "a long enough passphrase",
            "password2": "a long enough passphrase",
        },
    )
    assert response.status_code == 302
    user = User.objects.get(username="sam")
    assert roles.has_role(user, roles.VOLUNTEER)
    assert not user.has_accepted_tos
    assert user.languages == ["en"]
    assert client.get("/me/settings/").status_code == 200


@pytest.mark.django_db
def test_signup_with_mismatched_passwords_creates_nobody() -> None:
    response = Client().post(
        "/accounts/signup/",
        {"username": "sam", "password1": "a long enough passphrase", "password2": "different"},
    )
    assert response.status_code == 200
    assert not User.objects.filter(username="sam").exists()


def test_log_in_and_log_out(volunteer: User) -> None:
    client = Client()
    response = client.post(
        "/accounts/login/", {"login": "vera", "password": "correct horse battery staple"}
    )
    assert response.status_code == 302
    assert client.get("/api/v1/auth/me").json()["username"] == "vera"
    # Logging out takes a POST (a GET only shows the confirmation page).
    assert client.get("/accounts/logout/").status_code == 200
    assert client.get("/api/v1/auth/me").status_code == 200
    client.post("/accounts/logout/")
    assert client.get("/api/v1/auth/me").status_code == 401


def test_wrong_password_does_not_log_in(volunteer: User) -> None:
    client = Client()
    response = client.post("/accounts/login/", {"login": "vera", "password": "wrong"})
    assert response.status_code == 200
    assert client.get("/api/v1/auth/me").status_code == 401


def test_password_reset_sends_a_mail(volunteer: User, mailoutbox: list) -> None:
    response = Client().post("/accounts/password/reset/", {"email": "vera@example.org"})
    assert response.status_code == 302
    assert len(mailoutbox) == 1
    assert "/accounts/password/reset/key/" in mailoutbox[0].body


def test_banned_user_cannot_log_in(volunteer: User) -> None:
    from oasst.accounts.people import ban_user

    ban_user(volunteer, reason="spam")
    client = Client()
    client.post("/accounts/login/", {"login": "vera", "password": "correct horse battery staple"})
    assert client.get("/api/v1/auth/me").status_code == 401
