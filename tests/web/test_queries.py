"""No N+1 queries: each heavy page makes as many queries for a little data as for a lot."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from oasst.accounts.models import User
from oasst.trees.models import Message, TaskType
from oasst.web.models import Draft
from tests.conftest import make_user
from tests.web import seed

pytestmark = pytest.mark.django_db


def count_queries(client: Client, url: str) -> tuple[int, list[str]]:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200, response.content[:300]
    return len(captured), [query["sql"] for query in captured.captured_queries]


def assert_same_count(small: tuple[int, list[str]], large: tuple[int, list[str]]) -> None:
    extra = "\n".join(large[1][small[0] :]) if large[0] > small[0] else ""
    assert small[0] == large[0], (
        f"{small[0]} queries with little data, {large[0]} with more\n{extra}"
    )


@pytest.fixture
def people(db: None) -> list[User]:
    return [make_user(f"writer{i}") for i in range(6)]


def deepest(root: Message) -> Message:
    return Message.objects.filter(tree_id=root.tree_id).order_by("-depth", "-created_at").first()


def test_message_page_queries_do_not_grow_with_the_tree(
    people: list[User], volunteer: User, volunteer_client: Client
) -> None:
    small = seed.bushy_tree(people, size=5, reactor=volunteer)
    large = seed.bushy_tree(people, size=30, reactor=volunteer)
    assert Message.objects.filter(tree_id=large.tree_id).count() == 30
    counts = [
        count_queries(volunteer_client, reverse("trees:message", args=[deepest(root).pk]))
        for root in (small, large)
    ]
    assert_same_count(*counts)
    page = volunteer_client.get(reverse("trees:message", args=[deepest(large).pk]))
    assert page.content.decode().count('class="tree-node"') == 30


def test_messages_list_queries_do_not_grow_with_the_page(
    people: list[User], volunteer: User, volunteer_client: Client
) -> None:
    url = reverse("trees:messages")
    searched = f"{url}?q=plant&role=assistant&lang=en&state=accepted"
    seed.bushy_tree(people, size=5, reactor=volunteer)
    small = [count_queries(volunteer_client, u) for u in (url, searched)]
    seed.bushy_tree(people[3:] + people[:3], size=30, reactor=volunteer)
    large = [count_queries(volunteer_client, u) for u in (url, searched)]
    for before, after in zip(small, large, strict=True):
        assert_same_count(before, after)
    assert large[0][0] == large[1][0]  # search and filters narrow the query, add none


def test_contributions_queries_do_not_grow_with_the_page(
    people: list[User], volunteer: User
) -> None:
    writer = people[0]
    client = Client()
    client.force_login(writer)
    url = reverse("trees:contributions")
    seed.bushy_tree(people, size=5, reactor=volunteer)
    small = count_queries(client, url)
    for _ in range(3):
        seed.bushy_tree(people, size=30, reactor=volunteer)
    large = count_queries(client, url)
    assert Message.objects.filter(user=writer).count() > 10
    assert_same_count(small, large)


def test_dashboard_queries_do_not_grow_with_tasks_drafts_or_data(
    tiny_trees: Any, people: list[User], volunteer: User, volunteer_client: Client
) -> None:
    url = reverse("trees:dashboard")
    seed.growing_tree(people[0], people[1])
    seed.take(volunteer, TaskType.ASSISTANT_REPLY)
    Draft.objects.create(user=volunteer, task_type=TaskType.ASSISTANT_REPLY, text="half an answer")
    volunteer_client.get(url)  # the first visit may draw the lottery; count a settled page
    small = count_queries(volunteer_client, url)
    for i in range(2, 5):
        seed.write_prompt(people[i], f"Prompt {i}: how do I keep cut tulips standing up straight?")
    seed.take(volunteer, TaskType.LABEL_INITIAL_PROMPT)
    Draft.objects.create(user=volunteer, task_type=TaskType.INITIAL_PROMPT, text="a prompt")
    Draft.objects.create(user=volunteer, task_type=TaskType.PROMPTER_REPLY, text="a question")
    for size in (10, 20):
        seed.bushy_tree(people, size=size, reactor=volunteer)
    volunteer_client.get(url)
    large = count_queries(volunteer_client, url)
    page = volunteer_client.get(url).content.decode()
    assert page.count("half an answer") + page.count("a question") >= 1
    assert_same_count(small, large)


def test_task_page_queries_do_not_grow_with_the_data(
    tiny_trees: Any, people: list[User], volunteer: User, volunteer_client: Client
) -> None:
    seed.ranking_tree(people[0], people[1:4])
    rank = seed.take(volunteer, TaskType.RANK_ASSISTANT_REPLIES)
    seed.growing_tree(people[4], people[5], "Why does bread go stale faster in the fridge?")
    reply = seed.take(make_user("other"), TaskType.ASSISTANT_REPLY)
    reply_client = Client()
    reply_client.force_login(reply.user)
    urls = [
        (volunteer_client, reverse("trees:task", args=[rank.pk])),
        (reply_client, reverse("trees:task", args=[reply.pk])),
    ]
    small = [count_queries(client, url) for client, url in urls]
    for size in (10, 30):
        seed.bushy_tree(people, size=size, reactor=volunteer)
    Draft.objects.create(user=reply.user, task_type=TaskType.INITIAL_PROMPT, text="a prompt")
    large = [count_queries(client, url) for client, url in urls]
    for before, after in zip(small, large, strict=True):
        assert_same_count(before, after)
