from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from oasst.accounts.models import User
from tests.conftest import make_user
from tests.web import seed

pytestmark = pytest.mark.django_db


def test_profile_shows_languages_and_stats(
    tiny_trees: Any, volunteer: User, volunteer_client: Client
) -> None:
    seed.write_prompt(volunteer, "What are the rules of cricket, explained for a baseball fan?")
    volunteer.languages = ["es", "en"]
    volunteer.save()
    page = volunteer_client.get(reverse("trees:my-profile")).content.decode()
    assert "Spanish" in page and "task language" in page
    assert "Edit profile and settings" in page
    other = make_user("otto")
    page = volunteer_client.get(reverse("trees:profile", args=[other.pk])).content.decode()
    assert "otto" in page and "Edit profile and settings" not in page
    assert volunteer_client.get(reverse("trees:profile", args=[999999])).status_code == 404


def test_guidelines_per_task_type_and_label(client: Client) -> None:
    page = client.get(reverse("trees:guidelines")).content.decode()
    assert 'id="assistant_reply"' in page and 'id="label-spam"' in page


def test_pages_are_translated(volunteer_client: Client) -> None:
    page = volunteer_client.get(
        reverse("trees:guidelines"), HTTP_ACCEPT_LANGUAGE="de"
    ).content.decode()
    assert "Richtlinien" in page


def test_staff_pages_stay_closed_to_volunteers(volunteer_client: Client) -> None:
    response = volunteer_client.get("/admin/")
    assert response.status_code == 302 and "/admin/login/" in response.url
