"""Dashboard and task pages: every task type through the tree engine's functions."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from oasst.accounts.models import User
from oasst.trees.models import Message, Ranking, Task, TaskType, TextLabel
from oasst.web.models import Draft
from tests.conftest import make_user
from tests.web import seed

pytestmark = pytest.mark.django_db
HTMX = {"HTTP_HX_REQUEST": "true"}


def open_task(client: Client, task_type: str) -> Task:
    response = client.get(reverse("trees:new-task", args=[task_type]))
    assert response.status_code == 302, response.content[:500]
    return Task.objects.get(pk=response.url.split("/")[2])


def test_dashboard_shows_counts_and_why_none(tiny_trees: Any, volunteer_client: Client) -> None:
    author, reviewer = make_user("author"), make_user("reviewer")
    seed.write_prompt(author, "What is the best way to learn to juggle three balls?")
    response = volunteer_client.get(reverse("trees:dashboard"))
    page = response.content.decode()
    assert response.status_code == 200
    assert 'data-task-type="label_initial_prompt"' in page
    assert "1 available" in page
    # No tree grows yet, and the page says why and what to do instead.
    assert "No conversation is growing in this language yet" in page
    assert reverse("trees:new-task", args=[TaskType.LABEL_INITIAL_PROMPT]) in page
    assert reviewer.pk  # a second person exists but has done nothing


def test_dashboard_offers_ranking_user_replies_only_where_it_is_on(
    settings: Any, volunteer_client: Client
) -> None:
    card = 'data-task-type="rank_prompter_replies"'
    settings.OASST_RANK_PROMPTER_REPLIES = False
    assert card not in volunteer_client.get(reverse("trees:dashboard")).content.decode()
    settings.OASST_RANK_PROMPTER_REPLIES = True
    page = volunteer_client.get(reverse("trees:dashboard")).content.decode()
    assert card in page and "No conversation is being ranked in this language" in page


def test_pages_need_a_signed_in_contributor(client: Client, newcomer: User) -> None:
    for url in [
        reverse("trees:dashboard"),
        reverse("trees:random-task"),
        reverse("trees:messages"),
        reverse("trees:contributions"),
    ]:
        response = client.get(url)
        assert response.status_code == 302 and "/accounts/login/" in response.url
    client.force_login(newcomer)
    response = client.get(reverse("trees:dashboard"))
    assert response.status_code == 302 and "/me/terms/" in response.url


def test_signed_out_htmx_submit_keeps_the_page_and_says_so(client: Client) -> None:
    response = client.post("/tasks/00000000-0000-0000-0000-000000000000/submit/", **HTMX)
    assert response.status_code == 401
    assert response["HX-Retarget"] == "#toasts"
    assert "Your text is kept in this browser" in response.content.decode()


def test_write_a_prompt_and_the_next_task_slides_in(
    tiny_trees: Any, volunteer: User, volunteer_client: Client
) -> None:
    task = open_task(volunteer_client, TaskType.INITIAL_PROMPT)
    page = volunteer_client.get(reverse("trees:task", args=[task.pk])).content.decode()
    assert "Write a prompt" in page and 'name="text"' in page
    text = (
        "Which houseplants survive a dark flat with a window facing north, and how often to water?"
    )
    response = volunteer_client.post(
        reverse("trees:submit-task", args=[task.pk]),
        {"text": text, "next": TaskType.INITIAL_PROMPT},
        **HTMX,
    )
    assert response.status_code == 200
    assert Message.objects.get(user=volunteer).text == text
    assert "Thank you! Your work is saved." in response.content.decode()
    assert 'data-clear-draft="initial_prompt"' in response.content.decode()
    next_task = Task.objects.filter(user=volunteer, done=False).get()
    assert response["HX-Push-Url"] == reverse("trees:task", args=[next_task.pk])


def test_a_refused_submit_keeps_the_text_and_says_why(
    tiny_trees: Any, volunteer_client: Client, settings: Any
) -> None:
    settings.OASST_MESSAGE_SIZE_LIMIT = 30
    task = open_task(volunteer_client, TaskType.INITIAL_PROMPT)
    text = "This text is certainly longer than thirty characters."
    response = volunteer_client.post(
        reverse("trees:submit-task", args=[task.pk]), {"text": text}, **HTMX
    )
    assert response.status_code == 422
    page = response.content.decode()
    assert "too long: at most 30 characters" in page
    assert text in page
    assert not Message.objects.exists()


def test_refusals_are_told_in_the_reader_language(
    tiny_trees: Any, volunteer_client: Client, settings: Any
) -> None:
    url = reverse("trees:new-task", args=[TaskType.ASSISTANT_REPLY])
    page = volunteer_client.get(url, HTTP_ACCEPT_LANGUAGE="de").content.decode()
    assert "In deiner Sprache gibt es gerade keine Aufgabe dieser Art." in page
    settings.OASST_MESSAGE_SIZE_LIMIT = 30
    task = open_task(volunteer_client, TaskType.INITIAL_PROMPT)
    response = volunteer_client.post(
        reverse("trees:submit-task", args=[task.pk]),
        {"text": "Un texto que sin duda pasa de los treinta caracteres."},
        HTTP_ACCEPT_LANGUAGE="es",
        **HTMX,
    )
    assert "Tu texto es demasiado largo: como máximo 30 caracteres." in response.content.decode()


def test_drafts_are_kept_and_restored(
    tiny_trees: Any, volunteer: User, volunteer_client: Client
) -> None:
    task = open_task(volunteer_client, TaskType.INITIAL_PROMPT)
    response = volunteer_client.post(
        reverse("trees:save-draft", args=[task.pk]), {"text": "Half a thought about tides"}, **HTMX
    )
    assert response.status_code == 200 and "Draft saved" in response.content.decode()
    page = volunteer_client.get(reverse("trees:task", args=[task.pk])).content.decode()
    assert "Half a thought about tides</textarea>" in page
    # The task is gone (expired and cleaned up): the draft is offered in a fresh one.
    task_id = task.pk
    task.delete()
    response = volunteer_client.get(reverse("trees:task", args=[task_id]))
    assert response.status_code == 302
    assert response.url == reverse("trees:new-task", args=[TaskType.INITIAL_PROMPT])
    fresh = open_task(volunteer_client, TaskType.INITIAL_PROMPT)
    page = volunteer_client.get(reverse("trees:task", args=[fresh.pk])).content.decode()
    assert "You have an unsent draft" in page and "Half a thought about tides" in page


def test_a_draft_survives_signing_out_and_in(
    tiny_trees: Any, volunteer: User, volunteer_client: Client
) -> None:
    task = open_task(volunteer_client, TaskType.INITIAL_PROMPT)
    volunteer_client.post(
        reverse("trees:save-draft", args=[task.pk]), {"text": "Half a thought about kites"}
    )
    volunteer_client.logout()
    assert volunteer_client.get(reverse("trees:task", args=[task.pk])).status_code == 302
    again = Client()
    again.force_login(volunteer)
    response = again.get(reverse("trees:new-task", args=[TaskType.INITIAL_PROMPT]))
    assert response.url == reverse("trees:task", args=[task.pk]) + "?next=initial_prompt"
    page = again.get(response.url).content.decode()
    assert "Half a thought about kites</textarea>" in page


def test_nobody_opens_or_submits_someone_elses_task(
    tiny_trees: Any, volunteer_client: Client
) -> None:
    other = make_user("other")
    task = seed.take(other, TaskType.INITIAL_PROMPT)
    assert volunteer_client.get(reverse("trees:task", args=[task.pk])).status_code == 404
    response = volunteer_client.post(
        reverse("trees:submit-task", args=[task.pk]), {"text": "mine now"}
    )
    assert response.status_code == 404
    response = volunteer_client.post(reverse("trees:save-draft", args=[task.pk]), {"text": "x"})
    assert response.status_code == 404
    assert not Message.objects.exists()


def test_label_a_prompt_enforces_the_mandatory_label(
    tiny_trees: Any, volunteer: User, volunteer_client: Client
) -> None:
    prompt = seed.write_prompt(make_user("author"), "Why do cats purr when they are content?")
    task = open_task(volunteer_client, TaskType.LABEL_INITIAL_PROMPT)
    page = volunteer_client.get(reverse("trees:task", args=[task.pk])).content.decode()
    assert "Why do cats purr" in page and 'value="0.25"' in page and "What does this mean?" in page
    url = reverse("trees:submit-task", args=[task.pk])
    response = volunteer_client.post(url, {"quality": "0.75"}, **HTMX)
    assert response.status_code == 422
    assert "Please answer" in response.content.decode()
    assert not TextLabel.objects.exists()
    response = volunteer_client.post(
        url, {"spam": "0", "quality": "0.75", "pii": "1", "next": "random"}, **HTMX
    )
    assert response.status_code == 200
    label = TextLabel.objects.get(message=prompt, user=volunteer)
    assert label.labels["spam"] == 0.0 and label.labels["quality"] == 0.75
    assert label.labels["pii"] == 1.0 and label.labels["lang_mismatch"] == 0.0


def test_rank_assistant_replies(tiny_trees: Any, volunteer: User, volunteer_client: Client) -> None:
    helpers = [make_user(f"helper{i}") for i in range(4)]
    seed.ranking_tree(helpers[3], helpers[:3])
    task = open_task(volunteer_client, TaskType.RANK_ASSISTANT_REPLIES)
    response = volunteer_client.post(
        reverse("trees:submit-task", args=[task.pk]), {"order": ["1", "0"], "not_rankable": "on"}
    )
    assert response.status_code == 302
    ranking = Ranking.objects.get(user=volunteer)
    assert ranking.ranking == [1, 0] and ranking.not_rankable
    offered = [reply["id"] for reply in task.payload["reply_messages"]]
    assert [str(i) for i in ranking.ranked_message_ids] == [offered[1], offered[0]]


def test_a_bad_ranking_is_refused(tiny_trees: Any, volunteer_client: Client) -> None:
    helpers = [make_user(f"helper{i}") for i in range(4)]
    seed.ranking_tree(helpers[3], helpers[:3])
    task = open_task(volunteer_client, TaskType.RANK_ASSISTANT_REPLIES)
    url = reverse("trees:submit-task", args=[task.pk])
    assert volunteer_client.post(url, {"order": ["0", "0"]}, **HTMX).status_code == 422
    assert volunteer_client.post(url, {"order": ["x"]}, **HTMX).status_code == 422
    assert not Ranking.objects.exists()


def test_reply_as_assistant_then_as_prompter(
    tiny_trees: Any, volunteer: User, volunteer_client: Client
) -> None:
    author, reviewer = make_user("author"), make_user("reviewer")
    prompt = seed.growing_tree(author, reviewer)
    task = open_task(volunteer_client, TaskType.ASSISTANT_REPLY)
    page = volunteer_client.get(reverse("trees:task", args=[task.pk])).content.decode()
    assert "How do tides work" in page
    answer = "The moon's gravity pulls the oceans into two bulges; the earth turns through both each day."
    volunteer_client.post(reverse("trees:submit-task", args=[task.pk]), {"text": answer})
    reply = Message.objects.get(user=volunteer)
    assert reply.parent_id == prompt.pk and reply.role == "assistant"
    seed.review(reviewer, TaskType.LABEL_ASSISTANT_REPLY)
    asker = make_user("asker")
    client = Client()
    client.force_login(asker)
    follow_up = open_task(client, TaskType.PROMPTER_REPLY)
    client.post(
        reverse("trees:submit-task", args=[follow_up.pk]),
        {"text": "Thanks! Why is one of the two daily tides higher than the other?"},
    )
    assert Message.objects.get(user=asker).parent_id == reply.pk


def test_skip_with_a_reason(tiny_trees: Any, volunteer: User, volunteer_client: Client) -> None:
    seed.write_prompt(make_user("author"), "What should I pack for a week of hiking in the rain?")
    task = open_task(volunteer_client, TaskType.LABEL_INITIAL_PROMPT)
    response = volunteer_client.post(
        reverse("trees:skip-task", args=[task.pk]), {"reason": "not my topic"}, **HTMX
    )
    assert response.status_code == 200
    task.refresh_from_db()
    assert task.skipped and task.skip_reason == "not my topic"
    assert "Skipped." in response.content.decode()


def test_preview_renders_markdown_and_warns(tiny_trees: Any, volunteer_client: Client) -> None:
    seed.write_prompt(make_user("author"), "How can I keep basil alive on a windowsill in winter?")
    response = volunteer_client.post(
        reverse("trees:preview"),
        {
            "text": "How can I keep my basil alive on a windowsill in winter? <b>x</b>",
            "task_type": TaskType.INITIAL_PROMPT,
            "step": "review",
        },
    )
    page = response.content.decode()
    assert "<b>" not in page and "&lt;b&gt;" in page
    assert "A very similar prompt exists already" in page
    response = volunteer_client.post(
        reverse("trees:preview"),
        {"text": "Kannst du mir bitte erklären, wie das Wetter morgen in Berlin wird?"},
    )
    assert "This looks like German" in response.content.decode()


def test_task_language_picker(volunteer: User, volunteer_client: Client) -> None:
    response = volunteer_client.post(reverse("trees:task-language"), {"language": "de"})
    assert response.status_code == 302
    volunteer.refresh_from_db()
    assert volunteer.languages == ["de", "en"]
    volunteer_client.post(reverse("trees:task-language"), {"language": "xx"})
    volunteer.refresh_from_db()
    assert volunteer.languages == ["de", "en"]


def test_random_task_reuses_an_unfinished_task(tiny_trees: Any, volunteer_client: Client) -> None:
    first = volunteer_client.get(reverse("trees:random-task"))
    second = volunteer_client.get(reverse("trees:random-task"))
    assert first.url == second.url
    assert Task.objects.count() == 1


def test_dashboard_query_count(
    tiny_trees: Any, volunteer: User, volunteer_client: Client, django_assert_max_num_queries: Any
) -> None:
    helpers = [make_user(f"helper{i}") for i in range(4)]
    seed.ranking_tree(helpers[3], helpers[:3])
    for i in range(5):
        seed.write_prompt(
            helpers[i % 4], f"Prompt number {i} about gardening on a balcony in spring?"
        )
    Draft.objects.create(user=volunteer, task_type=TaskType.INITIAL_PROMPT, text="draft")
    with django_assert_max_num_queries(30):
        assert volunteer_client.get(reverse("trees:dashboard")).status_code == 200
