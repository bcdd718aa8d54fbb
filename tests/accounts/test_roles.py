"""Each role sees what it may, and is refused the rest."""

from __future__ import annotations

import pytest
from django.test import Client

from oasst.accounts import roles
from oasst.accounts.models import User
from tests.conftest import make_user


def test_anonymous_people_are_sent_to_log_in(db: None) -> None:
    client = Client()
    assert client.get("/me/settings/")["Location"].startswith("/accounts/login/")
    assert client.get("/admin/")["Location"].startswith("/admin/login/")


def test_a_volunteer_cannot_open_the_admin(volunteer_client: Client) -> None:
    response = volunteer_client.get("/admin/")
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")
    assert volunteer_client.get("/admin/accounts/user/").status_code == 302


def test_a_moderator_sees_users_but_not_api_clients(moderator_client: Client) -> None:
    assert moderator_client.get("/admin/").status_code == 200
    assert moderator_client.get("/admin/accounts/user/").status_code == 200
    assert moderator_client.get("/admin/accounts/apiclient/").status_code == 403


def test_an_admin_manages_api_clients_and_tokens(admin_client_: Client) -> None:
    for url in (
        "/admin/",
        "/admin/accounts/user/",
        "/admin/accounts/apiclient/",
        "/admin/accounts/apitoken/",
    ):
        assert admin_client_.get(url).status_code == 200, url


def test_admin_user_list_searches_and_filters(admin_client_: Client, volunteer: User) -> None:
    response = admin_client_.get("/admin/accounts/user/", {"q": "vera"})
    assert b"vera" in response.content
    response = admin_client_.get("/admin/accounts/user/", {"is_staff__exact": "1"})
    assert b"vera" not in response.content


def test_staff_roles_open_the_admin_and_removing_them_closes_it(db: None) -> None:
    user = make_user("max")
    assert not user.is_staff
    roles.assign_role(user, roles.MODERATOR)
    assert user.is_staff
    assert user.has_perm("accounts.moderate")
    roles.remove_role(user, roles.MODERATOR)
    assert not User.objects.get(pk=user.pk).is_staff


def test_the_data_role_may_export_but_not_moderate(db: None) -> None:
    user = make_user("dana", role=roles.DATA)
    assert user.has_perm("accounts.export_data")
    assert not user.has_perm("accounts.moderate")
    assert not user.is_staff


def test_unknown_roles_are_refused(volunteer: User) -> None:
    with pytest.raises(ValueError, match="unknown role"):
        roles.assign_role(volunteer, "overlord")
