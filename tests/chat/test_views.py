"""Chat pages and feedback forms over HTTP."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from oasst.accounts.models import User
from oasst.chat import conversation
from oasst.chat.models import BetterAnswer, Chat, ChatMessage, Report, Role, State, Vote
from oasst.inference.models import Model
from tests.conftest import make_user

pytestmark = pytest.mark.django_db


def answered_chat(user: User) -> tuple[Chat, ChatMessage]:
    chat = conversation.create_chat(user)
    prompt = ChatMessage.objects.create(chat=chat, role=Role.PROMPTER, text="Hi **there**")
    answer = ChatMessage.objects.create(
        chat=chat,
        parent=prompt,
        role=Role.ASSISTANT,
        text="Hello <script>x</script>",
        state=State.COMPLETE,
    )
    return chat, answer


def test_the_chat_list_needs_a_signed_in_person(client: Client) -> None:
    response = client.get(reverse("chat:index"))
    assert response.status_code == 302 and "login" in response["Location"]


def test_new_chat_opens_a_page_that_connects_its_socket(
    volunteer_client: Client, fake_model: Model
) -> None:
    response = volunteer_client.post(reverse("chat:new"))
    chat = Chat.objects.get()
    assert response["Location"] == reverse("chat:detail", args=[chat.id])
    page = volunteer_client.get(response["Location"]).content.decode()
    assert f'ws-connect="/ws/chat/{chat.id}/"' in page
    assert 'id="composer-form"' in page and "ws-send" in page
    assert chat.model == fake_model
    listing = volunteer_client.get(reverse("chat:index")).content.decode()
    assert reverse("chat:detail", args=[chat.id]) in listing
    assert '<small class="muted">now' in listing  # when it last changed, in words


def test_messages_render_as_sanitised_markdown(
    volunteer: User, volunteer_client: Client, fake_model: Model
) -> None:
    chat, _answer = answered_chat(volunteer)
    page = volunteer_client.get(reverse("chat:detail", args=[chat.id])).content.decode()
    assert "<strong>there</strong>" in page
    assert "<script>x" not in page and "&lt;script&gt;" in page
    assert 'name="reasons" value="well written"> well written</label>' in page


def test_someone_elses_chat_is_not_found(volunteer: User, fake_model: Model) -> None:
    chat, answer = answered_chat(volunteer)
    other = Client()
    other.force_login(make_user("mallory"))
    assert other.get(reverse("chat:detail", args=[chat.id])).status_code == 404
    url = reverse("chat:feedback", args=[chat.id, answer.id, "vote"])
    assert other.post(url, {"score": "1"}).status_code == 404
    assert not Vote.objects.exists()


def test_votes_reports_and_better_answers_are_stored(
    volunteer: User, volunteer_client: Client, fake_model: Model
) -> None:
    chat, answer = answered_chat(volunteer)

    def post(kind: str, data: dict) -> int:
        url = reverse("chat:feedback", args=[chat.id, answer.id, kind])
        return volunteer_client.post(url, data, HTTP_HX_REQUEST="true").status_code

    assert post("vote", {"score": "-1", "reasons": ["wrong"], "text": "no"}) == 200
    vote = Vote.objects.get()
    assert (vote.score, vote.reasons, vote.text) == (-1, ["wrong"], "no")
    assert post("vote", {"score": "5"}) == 422
    assert post("report", {"reason": "offensive", "text": "rude"}) == 200
    assert Report.objects.get().reason == "offensive"
    assert post("report", {"reason": "nonsense"}) == 422
    assert post("better", {"text": "Hello! How can I help?"}) == 200
    assert BetterAnswer.objects.get().text == "Hello! How can I help?"
    assert Report.objects.count() == 1 and Vote.objects.count() == 1


def test_settings_are_validated_before_anything_is_saved(
    volunteer: User, volunteer_client: Client, fake_model: Model
) -> None:
    chat, _ = answered_chat(volunteer)
    url = reverse("chat:settings", args=[chat.id])
    volunteer_client.post(url, {"preset": "k50", "temperature": "9", "system_prompt": "Be short"})
    chat.refresh_from_db()
    assert chat.params == {} and chat.system_prompt == "" and chat.preset == "llama.cpp"
    volunteer_client.post(
        url,
        {
            "preset": "k50",
            "top_k": "20",
            "seed": "7",
            "system_prompt": "Be short",
            "allow_data_use": "on",
        },
    )
    chat.refresh_from_db()
    assert chat.preset == "k50" and chat.params == {"top_k": "20", "seed": "7"}
    assert chat.system_prompt == "Be short" and chat.allow_data_use is True
    params = conversation.effective_params(chat, fake_model)
    assert (params.top_k, params.seed, params.temperature) == (20, 7, 0.75)


def test_allow_data_use_defaults_to_the_site_setting(
    volunteer: User, fake_model: Model, settings
) -> None:  # noqa: ANN001
    assert conversation.create_chat(volunteer).allow_data_use is False
    settings.OASST_CHAT_ALLOW_DATA_USE_DEFAULT = True
    assert conversation.create_chat(volunteer).allow_data_use is True


def test_a_shared_chat_is_readable_by_link_until_unshared(
    volunteer: User, volunteer_client: Client, fake_model: Model
) -> None:
    chat, _ = answered_chat(volunteer)
    volunteer_client.post(reverse("chat:share", args=[chat.id]))
    chat.refresh_from_db()
    url = reverse("chat:shared", args=[chat.share_token])
    page = Client().get(url).content.decode()
    assert "Hi <strong>there</strong>" in page and "ws-send" not in page
    volunteer_client.post(reverse("chat:share", args=[chat.id]), {"share": "off"})
    assert Client().get(url).status_code == 404


def test_hide_and_delete(volunteer: User, volunteer_client: Client, fake_model: Model) -> None:
    chat, _ = answered_chat(volunteer)
    volunteer_client.post(reverse("chat:hide", args=[chat.id]))
    listing = volunteer_client.get(reverse("chat:index")).content.decode()
    assert reverse("chat:detail", args=[chat.id]) not in listing
    chat.refresh_from_db()
    assert chat.hidden
    volunteer_client.post(reverse("chat:delete", args=[chat.id]))
    assert not Chat.objects.exists() and not ChatMessage.objects.exists()


def test_a_reply_must_follow_a_finished_answer(volunteer: User, fake_model: Model) -> None:
    chat, answer = answered_chat(volunteer)
    answer.state = State.IN_PROGRESS
    answer.text = ""
    answer.save()
    with pytest.raises(conversation.ChatError, match="Wait for the answer"):
        conversation.send_prompt(
            chat,
            user=volunteer,
            text="next",
            parent_id=answer.id,
            messages=conversation.read_messages(chat.id),
        )


def test_the_answer_rate_is_limited_per_person(
    volunteer: User, fake_model: Model, settings
) -> None:  # noqa: ANN001
    settings.OASST_CHAT_RATE_LIMIT = 2
    chat = conversation.create_chat(volunteer)
    conversation.send_prompt(
        chat, user=volunteer, text="one", drafts=2, messages=conversation.read_messages(chat.id)
    )
    with pytest.raises(conversation.ChatError, match="short time"):
        conversation.send_prompt(
            chat, user=volunteer, text="two", messages=conversation.read_messages(chat.id)
        )
    assert ChatMessage.objects.filter(role=Role.PROMPTER).count() == 1
