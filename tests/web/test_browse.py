"""Messages, the tree page, reactions, reports, free labels, editing one's own message."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from oasst.accounts.models import User
from oasst.trees.models import EmojiReaction, Message, MessageRevision, TaskType, TextLabel
from oasst.web.search import search_messages
from tests.conftest import make_user
from tests.web import seed

pytestmark = pytest.mark.django_db
HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def tree(tiny_trees: Any) -> Message:
    helpers = [make_user(f"helper{i}") for i in range(4)]
    return seed.ranking_tree(helpers[3], helpers[:3])


def test_message_list_search_and_filters(tree: Message, volunteer_client: Client) -> None:
    url = reverse("trees:messages")
    page = volunteer_client.get(url).content.decode()
    assert "3 messages" in page
    page = volunteer_client.get(url, {"q": "gravity"}).content.decode()
    assert "1 message" in page and "Tides come from gravity" in page
    page = volunteer_client.get(url, {"role": "assistant"}).content.decode()
    assert "2 messages" in page
    page = volunteer_client.get(url, {"author": "helper3"}).content.decode()
    assert "1 message" in page and "How do tides work" in page
    page = volunteer_client.get(url, {"state": "rejected"}).content.decode()
    assert "0 messages" in page
    response = volunteer_client.get(
        url, {"q": "moon"}, HTTP_HX_REQUEST="true", HTTP_HX_TARGET="message-results"
    )
    assert response.content.decode().lstrip().startswith('<section id="message-results"')


def test_search_uses_the_full_text_index_on_postgresql(tree: Message) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("SQLite searches with LIKE; the index exists on PostgreSQL only")
    with connection.cursor() as cursor:
        cursor.execute("SET enable_seqscan = off")  # a tiny table would be scanned anyway
        plan = search_messages(Message.objects.visible(), "gravity").explain()
        cursor.execute("RESET enable_seqscan")
    assert "message_text_search" in plan


def test_message_page_shows_conversation_and_tree(tree: Message, volunteer_client: Client) -> None:
    reply = Message.objects.filter(parent=tree).order_by("created_at").first()
    page = volunteer_client.get(reverse("trees:message", args=[reply.pk])).content.decode()
    assert "How do tides work" in page and "The whole tree" in page
    assert page.count('class="tree-node"') == 3
    assert "accepted" in page and "Tree state:" in page


def test_deleted_messages_are_hidden_from_volunteers(
    tree: Message, volunteer_client: Client, moderator_client: Client
) -> None:
    Message.objects.filter(pk=tree.pk).update(deleted=True)
    assert volunteer_client.get(reverse("trees:message", args=[tree.pk])).status_code == 404
    assert moderator_client.get(reverse("trees:message", args=[tree.pk])).status_code == 200


def test_heavy_pages_make_a_bounded_number_of_queries(
    tiny_trees: Any, volunteer_client: Client, django_assert_max_num_queries: Any
) -> None:
    helpers = [make_user(f"helper{i}") for i in range(4)]
    roots = [seed.ranking_tree(helpers[3], helpers[:3])]
    for i in range(12):
        roots.append(
            seed.write_prompt(helpers[i % 4], f"Question {i}: how do I fix a squeaky door hinge?")
        )
    reply = Message.objects.filter(parent=roots[0]).first()
    with django_assert_max_num_queries(12):
        assert volunteer_client.get(reverse("trees:messages")).status_code == 200
    with django_assert_max_num_queries(12):
        assert volunteer_client.get(reverse("trees:message", args=[reply.pk])).status_code == 200
    client = Client()
    client.force_login(helpers[0])
    with django_assert_max_num_queries(10):
        assert client.get(reverse("trees:contributions")).status_code == 200


def test_plus_and_minus_one_exclude_each_other(
    tree: Message, volunteer: User, volunteer_client: Client
) -> None:
    url = reverse("trees:react", args=[tree.pk])
    response = volunteer_client.post(url, {"emoji": "+1"}, **HTMX)
    assert response.status_code == 200 and 'aria-pressed="true"' in response.content.decode()
    volunteer_client.post(url, {"emoji": "-1"}, **HTMX)
    assert list(EmojiReaction.objects.filter(user=volunteer).values_list("emoji", flat=True)) == [
        "-1"
    ]
    volunteer_client.post(url, {"emoji": "-1"}, **HTMX)
    assert not EmojiReaction.objects.filter(user=volunteer).exists()
    assert volunteer_client.post(url, {"emoji": "_skip_reply"}, **HTMX).status_code == 422
    refused = volunteer_client.post(url, {"emoji": "<b>x</b>"}, **HTMX)
    assert refused.status_code == 422 and refused["Content-Type"].startswith("text/plain")


def test_report_a_message(tree: Message, volunteer: User, volunteer_client: Client) -> None:
    url = reverse("trees:report", args=[tree.pk])
    assert volunteer_client.post(url, {"reason": "  "}, **HTMX).status_code == 422
    response = volunteer_client.post(url, {"reason": "Contains a phone number"}, **HTMX)
    assert "Thank you" in response.content.decode()
    report = TextLabel.objects.get(user=volunteer, is_report=True)
    assert report.text == "Contains a phone number"
    assert EmojiReaction.objects.filter(user=volunteer, emoji="red_flag").exists()


def test_free_labelling_replaces_the_earlier_answer(
    tree: Message, volunteer: User, volunteer_client: Client
) -> None:
    url = reverse("trees:label", args=[tree.pk])
    assert "Free labelling" in volunteer_client.get(url).content.decode()
    assert volunteer_client.post(url, {}).status_code == 422
    assert volunteer_client.post(url, {"quality": "7"}).status_code == 422
    volunteer_client.post(url, {"quality": "0.5", "humor": "1"})
    volunteer_client.post(url, {"quality": "0.25"})
    label = TextLabel.objects.get(user=volunteer, task__isnull=True)
    assert label.labels == {"quality": 0.25}


def test_edit_own_message_keeps_a_revision_and_goes_back_to_review(
    tiny_trees: Any, volunteer: User, volunteer_client: Client
) -> None:
    tiny_trees.OASST_NUM_REVIEWS_INITIAL_PROMPT = 2
    prompt = seed.write_prompt(
        volunteer, "How do I start running when I have never done any sport?"
    )
    seed.review(
        make_user("reviewer"), TaskType.LABEL_INITIAL_PROMPT, {"spam": 0.0, "lang_mismatch": 0.0}
    )
    prompt.refresh_from_db()
    assert prompt.review_count == 1
    url = reverse("trees:edit-message", args=[prompt.pk])
    assert volunteer_client.get(url).status_code == 200
    response = volunteer_client.post(
        url, {"text": "How do I start running at 50 when I have never done any sport?"}
    )
    assert response.status_code == 302
    prompt.refresh_from_db()
    assert prompt.edited and prompt.text.startswith("How do I start running at 50")
    assert prompt.review_count == 0 and prompt.review_result is None
    assert MessageRevision.objects.get(message=prompt).text.startswith(
        "How do I start running when"
    )


def test_nobody_edits_what_is_not_theirs_or_too_late(
    tiny_trees: Any, volunteer: User, volunteer_client: Client, settings: Any
) -> None:
    other = seed.write_prompt(make_user("other"), "Where do swallows spend the winter months?")
    url = reverse("trees:edit-message", args=[other.pk])
    assert volunteer_client.get(url).status_code == 404
    assert volunteer_client.post(url, {"text": "hijacked"}).status_code == 404
    mine = seed.write_prompt(volunteer, "What is a good first book about astronomy for a child?")
    Message.objects.filter(pk=mine.pk).update(created_at=timezone.now() - timedelta(hours=3))
    response = volunteer_client.post(
        reverse("trees:edit-message", args=[mine.pk]), {"text": "changed text here"}
    )
    assert response.status_code == 403
    assert "over" in response.content.decode()
    mine.refresh_from_db()
    assert mine.text.startswith("What is a good first book")


def test_contributions_show_review_status(tree: Message) -> None:
    author = User.objects.get(username="helper0")
    client = Client()
    client.force_login(author)
    page = client.get(reverse("trees:contributions")).content.decode()
    assert "The moon pulls the water" in page and "accepted" in page


def test_an_accepted_reply_in_a_growing_tree_can_be_edited(
    tiny_trees: Any, volunteer: User, volunteer_client: Client
) -> None:
    author, reviewer = make_user("author"), make_user("reviewer")
    seed.growing_tree(author, reviewer)
    reply = seed.reply(
        volunteer,
        TaskType.ASSISTANT_REPLY,
        "Tides are caused by the moon's gravity pulling the sea.",
    )
    seed.review(reviewer, TaskType.LABEL_ASSISTANT_REPLY)
    reply.refresh_from_db()
    assert reply.review_result is True
    url = reverse("trees:edit-message", args=[reply.pk])
    volunteer_client.post(
        url, {"text": "Tides are caused by the gravity of the moon and the sun pulling the sea."}
    )
    reply.refresh_from_db()
    assert reply.review_result is None and reply.edited
    # Back in the review queue: another volunteer is offered it for labelling.
    other = make_user("other")
    assert seed.take(other, TaskType.LABEL_ASSISTANT_REPLY).parent_message_id == reply.pk


def test_message_page_shows_ranks_labels_and_earlier_versions(
    volunteer: User, volunteer_client: Client
) -> None:
    people = [make_user(f"writer{i}") for i in range(3)]
    root = seed.bushy_tree(people, size=4, reactor=volunteer)
    first = Message.objects.get(parent=root, rank=0)
    first.edited = True
    first.save(update_fields=["edited"])
    MessageRevision.objects.create(message=first, user=first.user, text="An older wording.")
    page = volunteer_client.get(reverse("trees:message", args=[first.pk])).content.decode()
    assert "rank 1" in page and "rank 3" in page
    assert "Labels" in page and "Quality: 0.75" in page
    assert "1 earlier version" in page and "An older wording." in page
    assert page.count('aria-pressed="true"') == 4  # the visitor's own reactions, one per message
