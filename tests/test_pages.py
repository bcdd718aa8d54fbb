"""The shell: home page, navigation, language and assets."""

from __future__ import annotations

import pytest
from django.contrib.staticfiles import finders
from django.test import Client


@pytest.mark.django_db
def test_home_page_invites_anonymous_people_to_join() -> None:
    response = Client().get("/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "/accounts/signup/" in html
    assert "/static/vendor/htmx.min.js" in html
    assert 'name="viewport"' in html
    assert "X-CSRFToken" in html


def test_home_page_asks_a_newcomer_to_accept_the_terms(newcomer) -> None:
    client = Client()
    client.force_login(newcomer)
    assert "/me/terms/" in client.get("/").content.decode()


def test_staff_see_the_admin_link_and_volunteers_do_not(
    volunteer_client: Client, moderator_client: Client
) -> None:
    assert "/admin/" not in volunteer_client.get("/").content.decode()
    assert "/admin/" in moderator_client.get("/").content.decode()


def test_signed_in_pages_open_the_notification_socket(volunteer_client: Client) -> None:
    assert 'ws-connect="/ws/notifications/"' in volunteer_client.get("/").content.decode()


@pytest.mark.django_db
def test_pages_are_translated_into_spanish_and_german() -> None:
    client = Client()
    client.post("/i18n/setlang/", {"language": "es", "next": "/"})
    assert "Únete como voluntario" in client.get("/").content.decode()
    client.post("/i18n/setlang/", {"language": "de", "next": "/"})
    assert "Als Freiwillige" in client.get("/").content.decode()


def test_htmx_is_vendored_not_fetched() -> None:
    assert finders.find("vendor/htmx.min.js")
    assert finders.find("vendor/htmx-ext-ws.min.js")


@pytest.mark.django_db
def test_static_files_are_served_by_the_app() -> None:
    response = Client().get("/static/css/oasst.css")
    assert response.status_code == 200


@pytest.mark.django_db
def test_openapi_docs_are_published() -> None:
    client = Client()
    assert client.get("/api/v1/docs").status_code == 200
    schema = client.get("/api/v1/openapi.json").json()
    assert "/api/v1/auth/me" in schema["paths"]
