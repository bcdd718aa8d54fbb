from __future__ import annotations

import pytest
from django.http import HttpRequest, HttpResponse
from django.test import Client
from django.urls import include, path

from oasst.accounts.decorators import contributor_required
from oasst.accounts.models import User


@contributor_required
def _contribute(request: HttpRequest) -> HttpResponse:
    return HttpResponse("contributing")


# The real URLs plus one contribution page, for the gate alone.
urlpatterns = [path("contribute/", _contribute), path("", include("oasst.urls"))]


@pytest.mark.urls(__name__)
def test_the_gate_sends_a_newcomer_to_the_terms_and_back(newcomer: User) -> None:
    client = Client()
    client.force_login(newcomer)
    response = client.get("/contribute/")
    assert response.status_code == 302
    assert response["Location"] == "/me/terms/?next=%2Fcontribute%2F"

    response = client.post("/me/terms/", {"accept": "yes", "next": "/contribute/"})
    assert response.status_code == 302
    assert response["Location"] == "/contribute/"
    newcomer.refresh_from_db()
    assert newcomer.has_accepted_tos
    assert client.get("/contribute/").content == b"contributing"


@pytest.mark.urls(__name__)
def test_the_gate_tells_htmx_to_redirect(newcomer: User) -> None:
    client = Client()
    client.force_login(newcomer)
    response = client.get("/contribute/", headers={"HX-Request": "true"})
    assert response["HX-Redirect"].startswith("/me/terms/")


@pytest.mark.urls(__name__)
def test_anonymous_people_must_sign_in_first(db: None) -> None:
    response = Client().get("/contribute/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_terms_are_not_accepted_without_the_box_ticked(newcomer: User) -> None:
    client = Client()
    client.force_login(newcomer)
    client.post("/me/terms/", {"next": "/"})
    newcomer.refresh_from_db()
    assert not newcomer.has_accepted_tos


def test_accepting_the_terms_ignores_a_foreign_next_url(newcomer: User) -> None:
    client = Client()
    client.force_login(newcomer)
    response = client.post("/me/terms/", {"accept": "yes", "next": "https://evil.example/"})
    assert response["Location"] == "/"


def test_terms_page_is_public(db: None) -> None:
    response = Client().get("/me/terms/")
    assert response.status_code == 200
    assert b"Terms and guidelines" in response.content
