from __future__ import annotations

from django.test import Client

from oasst.accounts.keys import create_token, user_for_token
from oasst.accounts.models import ApiToken, User
from tests.conftest import make_user


def _profile(**overrides: object) -> dict[str, object]:
    data = {
        "display_name": "Vera V.",
        "task_language": "de",
        "other_languages": ["en", "es"],
        "time_zone": "Europe/Berlin",
        "show_on_leaderboard": "",
    }
    data.update(overrides)
    return data


def test_saving_the_profile_puts_the_task_language_first(
    volunteer_client: Client, volunteer: User
) -> None:
    response = volunteer_client.post("/me/settings/", _profile())
    assert response.status_code == 302
    volunteer.refresh_from_db()
    assert volunteer.languages == ["de", "en", "es"]
    assert volunteer.task_language == "de"
    assert volunteer.display_name == "Vera V."
    assert volunteer.time_zone == "Europe/Berlin"
    assert volunteer.show_on_leaderboard is False


def test_bad_profile_input_changes_nothing(volunteer_client: Client, volunteer: User) -> None:
    response = volunteer_client.post(
        "/me/settings/", _profile(task_language="xx-nope", time_zone="Mars/Base")
    )
    assert response.status_code == 200
    assert b"Select a valid choice" in response.content
    volunteer.refresh_from_db()
    assert volunteer.languages == ["en"]
    assert volunteer.time_zone == "UTC"


def test_a_new_token_is_shown_once_through_htmx(volunteer_client: Client, volunteer: User) -> None:
    response = volunteer_client.post(
        "/me/settings/tokens/", {"name": "laptop"}, headers={"HX-Request": "true"}
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert 'id="token-list"' in html
    key = html.split('<code class="token-value">')[1].split("</code>")[0]
    assert user_for_token(key) == volunteer
    # It is not shown again.
    page = volunteer_client.get("/me/settings/").content.decode()
    assert key not in page and "laptop" in page


def test_tokens_can_be_revoked_only_by_their_owner(
    volunteer_client: Client, volunteer: User
) -> None:
    other = make_user("otto")
    token, key = create_token(other, name="theirs")
    assert volunteer_client.post(f"/me/settings/tokens/{token.pk}/revoke/").status_code == 404
    assert user_for_token(key) == other

    mine, my_key = create_token(volunteer, name="mine")
    volunteer_client.post(f"/me/settings/tokens/{mine.pk}/revoke/")
    assert user_for_token(my_key) is None
    assert ApiToken.objects.get(pk=mine.pk).revoked_at is not None


def test_token_creation_needs_a_name(volunteer_client: Client, volunteer: User) -> None:
    response = volunteer_client.post(
        "/me/settings/tokens/", {"name": ""}, headers={"HX-Request": "true"}
    )
    assert b"This field is required" in response.content
    assert not volunteer.api_tokens.exists()
