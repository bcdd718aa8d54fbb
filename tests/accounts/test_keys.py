from __future__ import annotations

import time
from datetime import timedelta
from io import StringIO
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.test import Client
from django.utils import timezone

from oasst.accounts import keys
from oasst.accounts.models import ApiClient, ApiToken, User


@pytest.mark.django_db
def test_api_client_keys_are_stored_only_as_hashes() -> None:
    client, key = keys.create_api_client("bot", trusted=True)
    assert key.startswith("oac_") and len(key) > 40
    stored = ApiClient.objects.get(pk=client.pk)
    assert stored.key_hash == keys.hash_key(key)
    assert key not in {stored.key_hash, stored.key_prefix}
    assert keys.client_for_key(key) == client
    assert keys.client_for_key(key + "x") is None
    assert keys.client_for_key("") is None


@pytest.mark.django_db
def test_a_disabled_client_is_not_recognised() -> None:
    client, key = keys.create_api_client("bot")
    ApiClient.objects.filter(pk=client.pk).update(enabled=False)
    assert keys.client_for_key(key) is None


@pytest.mark.django_db
def test_a_found_client_is_remembered_briefly(
    monkeypatch: pytest.MonkeyPatch, django_assert_num_queries: Any
) -> None:
    client, key = keys.create_api_client("bot", trusted=True)
    assert keys.client_for_key(key) == client
    with django_assert_num_queries(0):  # the frontend's next calls read no row
        assert keys.client_for_key(key) == client
    ApiClient.objects.filter(pk=client.pk).update(enabled=False)
    assert keys.client_for_key(key) == client  # still remembered
    later = time.monotonic() + keys.CLIENT_CACHE_SECONDS + 1
    monkeypatch.setattr(keys.time, "monotonic", lambda: later)
    assert keys.client_for_key(key) is None  # seen once the time is up


@pytest.mark.django_db
def test_saving_a_client_in_the_admin_is_seen_at_once(admin_client_: Client) -> None:
    client, key = keys.create_api_client("bot", trusted=True)
    assert keys.client_for_key(key) == client
    response = admin_client_.post(
        f"/admin/accounts/apiclient/{client.pk}/change/",
        {"name": "bot", "description": "", "admin_email": "", "frontend_type": ""},
    )  # "trusted" and "enabled" left unticked
    assert response.status_code == 302
    assert keys.client_for_key(key) is None


@pytest.mark.django_db
def test_a_client_saved_or_deleted_anywhere_is_seen_at_once() -> None:
    client, key = keys.create_api_client("bot", trusted=True)
    assert keys.client_for_key(key) == client
    client.enabled = False
    client.save()
    assert keys.client_for_key(key) is None
    other, other_key = keys.create_api_client("bot 2", trusted=True)
    assert keys.client_for_key(other_key) == other
    other.delete()
    assert keys.client_for_key(other_key) is None


@pytest.mark.django_db
def test_short_chosen_keys_are_refused() -> None:
    with pytest.raises(keys.InvalidKey):
        keys.create_api_client("bot", key="1234")
    assert not ApiClient.objects.exists()


def test_personal_tokens_work_until_revoked_or_expired(volunteer: User) -> None:
    token, key = keys.create_token(volunteer, name="script")
    assert ApiToken.objects.get(pk=token.pk).key_hash == keys.hash_key(key)
    assert keys.user_for_token(key) == volunteer
    keys.revoke_token(token)
    assert keys.user_for_token(key) is None

    _, key2 = keys.create_token(
        volunteer, name="old", expires_at=timezone.now() - timedelta(days=1)
    )
    assert keys.user_for_token(key2) is None


def test_a_banned_users_tokens_stop_working(volunteer: User) -> None:
    from oasst.accounts.people import ban_user

    _, key = keys.create_token(volunteer, name="script")
    ban_user(volunteer, reason="spam")
    assert keys.user_for_token(key) is None


def test_last_use_is_recorded(volunteer: User) -> None:
    token, key = keys.create_token(volunteer, name="script")
    keys.user_for_token(key)
    token.refresh_from_db()
    assert token.last_used_at is not None


def test_the_api_knows_the_token_owner(volunteer: User, volunteer_token: str) -> None:
    response = Client().get(
        "/api/v1/auth/me", headers={"Authorization": f"Bearer {volunteer_token}"}
    )
    assert response.status_code == 200
    assert response.json()["username"] == "vera"
    bad = Client().get("/api/v1/auth/me", headers={"Authorization": "Bearer oat_nope"})
    assert bad.status_code == 401


@pytest.mark.django_db
def test_create_api_client_command_prints_the_key_once_and_accepts_a_known_key() -> None:
    out = StringIO()
    call_command(
        "create_api_client",
        "web",
        "--trusted",
        "--key",
        "a-known-key-for-scripts",
        stdout=out,
        stderr=StringIO(),
    )
    assert out.getvalue().strip() == "a-known-key-for-scripts"
    client = ApiClient.objects.get(name="web")
    assert client.trusted
    assert keys.client_for_key("a-known-key-for-scripts") == client
    with pytest.raises(CommandError, match="exists already"):
        call_command("create_api_client", "web", stdout=StringIO(), stderr=StringIO())


def test_create_token_command(volunteer: User) -> None:
    out = StringIO()
    call_command("create_token", "vera", stdout=out, stderr=StringIO())
    assert keys.user_for_token(out.getvalue().strip()) == volunteer
    with pytest.raises(CommandError, match="no user named"):
        call_command("create_token", "nobody", stdout=StringIO(), stderr=StringIO())
