"""Open-Assistant's v1 wire protocol over HTTP: shapes, errors, auth, rate limits, a crowd run."""

from __future__ import annotations

import json
import random
import uuid
from typing import Any
from urllib.parse import quote

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from oasst.accounts.keys import create_api_client, create_token
from oasst.accounts.models import ApiClient, User
from oasst.trees.crowd import HttpVolunteer, count_exported
from oasst.trees.models import Message, MessageTree, Task, TreeState
from tests.trees.factories import accept, people, write_prompt


def poster(client: Client, key: str) -> Any:
    def post(path: str, body: dict[str, Any]) -> tuple[int, Any]:
        response = client.post(
            path, data=json.dumps(body), content_type="application/json", HTTP_X_API_KEY=key
        )
        return response.status_code, (response.json() if response.content else None)

    return post


@pytest.fixture
def frontend(trusted_client: tuple[ApiClient, str]) -> Any:
    return poster(Client(), trusted_client[1])


def fe_user(name: str = "alice") -> dict[str, str]:
    return {"id": name, "display_name": name.title(), "auth_method": "discord"}


def test_trusted_client_runs_a_task_loop_for_a_frontend_user(
    small_trees: object, frontend: Any, trusted_client: tuple[ApiClient, str]
) -> None:
    status, task = frontend("/api/v1/tasks/", {"type": "random", "user": fe_user(), "lang": "en"})
    assert status == 200
    assert task["type"] == "initial_prompt"
    assert task["hint"] is None
    uuid.UUID(task["id"])

    status, body = frontend(f"/api/v1/tasks/{task['id']}/ack", {"message_id": "web-1"})
    assert status == 204 and body is None
    status, done = frontend(
        "/api/v1/tasks/interaction",
        {
            "type": "text_reply_to_message",
            "user": fe_user(),
            "message_id": "web-1",
            "user_message_id": "web-msg-1",
            "text": "How do tides work?",
            "lang": "en",
        },
    )
    assert status == 200
    assert done == {"id": task["id"], "type": "task_done"}
    user = User.objects.get(frontend_id="alice")
    assert user.api_client == trusted_client[0]
    assert user.auth_method == "discord"
    assert user.display_name == "Alice"
    message = Message.objects.get(frontend_message_id="web-msg-1")
    assert message.user == user

    status, got = frontend("/api/v1/tasks/", {"type": "random", "user": fe_user()})
    assert status == 200  # the same user is found again, not duplicated
    assert User.objects.filter(frontend_id="alice").count() == 1


def test_error_body_has_oa_code_and_status(small_trees: object, frontend: Any) -> None:
    status, body = frontend("/api/v1/tasks/interaction", {
        "type": "text_reply_to_message", "user": fe_user(), "message_id": "nope",
        "user_message_id": "x", "text": "hi",
    })  # fmt: skip
    assert status == 404
    assert body == {"error_code": 2100, "message": "No task for message_id 'nope'."}

    status, body = frontend("/api/v1/tasks/", {"type": "summarize_everything", "user": fe_user()})
    assert (status, body["error_code"]) == (400, 1000)

    status, body = frontend("/api/v1/tasks/", {"type": "random"})
    assert (status, body["error_code"]) == (400, 4000)


def test_interaction_before_ack_is_2104(small_trees: object, frontend: Any) -> None:
    _, task = frontend("/api/v1/tasks/", {"type": "initial_prompt", "user": fe_user()})
    status, body = frontend("/api/v1/tasks/interaction", {
        "type": "text_reply_to_message", "user": fe_user(), "message_id": task["id"],
        "user_message_id": "m", "text": "Hello there",
    })  # fmt: skip
    assert (status, body["error_code"]) == (400, 2104)


def test_no_task_available_is_503_with_1006(small_trees: object, frontend: Any) -> None:
    small_trees.OASST_MAX_PROMPT_LOTTERY_WAITING = 0
    status, body = frontend("/api/v1/tasks/", {"type": "random", "user": fe_user()})
    assert (status, body["error_code"]) == (503, 1006)


def test_untrusted_client_may_not_act_for_users(small_trees: object) -> None:
    _client, key = create_api_client("bot", trusted=False)
    status, body = poster(Client(), key)("/api/v1/tasks/", {"type": "random", "user": fe_user()})
    assert (status, body["error_code"]) == (403, 2)


def test_no_credentials_is_401(small_trees: object) -> None:
    response = Client().post("/api/v1/tasks/", data="{}", content_type="application/json")
    assert response.status_code == 401


def test_personal_token_works_for_its_owner(small_trees: object, volunteer: User) -> None:
    token = create_token(volunteer, name="cli")[1]
    client = Client(HTTP_AUTHORIZATION=f"Bearer {token}")
    response = client.post(
        "/api/v1/tasks/", data=json.dumps({"type": "random"}), content_type="application/json"
    )
    assert response.status_code == 200
    assert Task.objects.get(pk=response.json()["id"]).user == volunteer


def test_session_user_without_terms_gets_451(small_trees: object, newcomer: User) -> None:
    client = Client(enforce_csrf_checks=False)
    client.force_login(newcomer)
    response = client.post(
        "/api/v1/tasks/", data=json.dumps({"type": "random"}), content_type="application/json"
    )
    assert response.status_code == 451
    assert response.json()["error_code"] == 4003


def test_task_requests_are_rate_limited_per_user(small_trees: object, frontend: Any) -> None:
    small_trees.OASST_RATE_LIMIT = True
    small_trees.OASST_RATE_LIMIT_TASK_USER_TIMES = 2
    small_trees.OASST_MAX_PENDING_TASKS_PER_USER = 10
    for _ in range(2):
        assert frontend("/api/v1/tasks/", {"type": "random", "user": fe_user()})[0] == 200
    status, body = frontend("/api/v1/tasks/", {"type": "random", "user": fe_user()})
    assert status == 429
    assert body["error_code"] == 429
    assert body["message"].startswith("Retry After ")
    # Another user of the same client is not affected.
    assert frontend("/api/v1/tasks/", {"type": "random", "user": fe_user("bob")})[0] == 200


def test_assistant_reply_requests_have_their_own_limit(small_trees: object, frontend: Any) -> None:
    small_trees.OASST_RATE_LIMIT = True
    small_trees.OASST_RATE_LIMIT_ASSISTANT_USER_TIMES = 1
    frontend("/api/v1/tasks/", {"type": "assistant_reply", "user": fe_user()})
    status, body = frontend("/api/v1/tasks/", {"type": "assistant_reply", "user": fe_user()})
    assert (status, body["error_code"]) == (429, 429)


def test_nack_skips_and_close_closes_collective_tasks(small_trees: object, frontend: Any) -> None:
    _, task = frontend("/api/v1/tasks/", {"type": "random", "user": fe_user()})
    assert frontend(f"/api/v1/tasks/{task['id']}/nack", {"reason": "boring"})[0] == 204
    assert Task.objects.get(pk=task["id"]).skipped is True

    _, task = frontend("/api/v1/tasks/", {"type": "random", "user": fe_user(), "collective": True})
    frontend(f"/api/v1/tasks/{task['id']}/ack", {"message_id": "bot-7"})
    status, body = frontend("/api/v1/tasks/close", {"message_id": "bot-7"})
    assert status == 200 and body["type"] == "task_done"
    assert Task.objects.get(pk=task["id"]).done is True


def test_availability_counts_per_type(small_trees: object, frontend: Any) -> None:
    status, counts = frontend("/api/v1/tasks/availability?lang=en", {"id": "alice"})
    assert status == 200
    assert counts["initial_prompt"] > 0
    assert counts["random"] == sum(v for k, v in counts.items() if k != "random")


def test_message_reads_and_cursor_paging(
    small_trees: object, trusted_client: tuple[ApiClient, str]
) -> None:
    crowd = people(3)
    prompts = [write_prompt(crowd[0], f"Question {i}?") for i in range(5)]
    client = Client(HTTP_X_API_KEY=trusted_client[1])

    one = client.get(f"/api/v1/messages/{prompts[0].pk}").json()
    assert one["text"] == "Question 0?"
    assert one["is_assistant"] is False
    assert one["message_tree_id"] == str(prompts[0].tree_id)

    page = client.get("/api/v1/messages/cursor?max_count=2").json()
    assert [m["text"] for m in page["items"]] == ["Question 0?", "Question 1?"]
    assert page["prev"] is None
    following = client.get(
        f"/api/v1/messages/cursor?max_count=2&after={quote(page['next'])}"
    ).json()
    assert [m["text"] for m in following["items"]] == ["Question 2?", "Question 3?"]
    back = client.get(
        f"/api/v1/messages/cursor?max_count=2&before={quote(following['prev'])}"
    ).json()
    assert [m["text"] for m in back["items"]] == ["Question 0?", "Question 1?"]
    bad = client.get("/api/v1/messages/cursor?after=garbage")
    assert (bad.status_code, bad.json()["error_code"]) == (400, 101)

    state = client.get(f"/api/v1/messages/{prompts[0].pk}/tree/state").json()
    assert state["state"] == "initial_prompt_review"
    tree = client.get(f"/api/v1/messages/{prompts[0].pk}/tree").json()
    assert [m["id"] for m in tree["messages"]] == [str(prompts[0].pk)]
    missing = client.get(f"/api/v1/messages/{uuid.uuid4()}")
    assert (missing.status_code, missing.json()["error_code"]) == (404, 2001)


def test_emoji_endpoint_toggles_for_the_named_user(small_trees: object, frontend: Any) -> None:
    prompt = write_prompt(people(1)[0])
    status, body = frontend(
        f"/api/v1/messages/{prompt.pk}/emoji", {"user": fe_user(), "emoji": "+1"}
    )
    assert status == 200
    assert body["emojis"] == {"+1": 1}
    assert body["user_emojis"] == ["+1"]
    status, body = frontend(
        f"/api/v1/messages/{prompt.pk}/emoji", {"user": fe_user(), "emoji": "+1", "op": "dance"}
    )
    assert (status, body["error_code"]) == (400, 5000)


def test_halt_needs_a_trusted_client_or_a_moderator(
    small_trees: object, volunteer_client: Client, moderator_client: Client
) -> None:
    crowd = people(3)
    prompt = write_prompt(crowd[0])
    accept(prompt, crowd[1:3])
    url = f"/api/v1/messages/{prompt.pk}/tree/state?halt=true"

    denied = volunteer_client.put(url)
    assert (denied.status_code, denied.json()["error_code"]) == (403, 2)
    allowed = moderator_client.put(url)
    assert allowed.status_code == 200
    assert allowed.json()["state"] == "halted_by_moderator"
    resumed = moderator_client.put(f"/api/v1/messages/{prompt.pk}/tree/state?halt=false")
    assert resumed.json()["state"] == "prompt_lottery_waiting"


def test_delete_message_needs_a_moderator(
    small_trees: object, volunteer_client: Client, moderator_client: Client
) -> None:
    prompt = write_prompt(people(1)[0])
    assert volunteer_client.delete(f"/api/v1/messages/{prompt.pk}").status_code == 403
    assert moderator_client.delete(f"/api/v1/messages/{prompt.pk}").status_code == 204
    assert Message.objects.get(pk=prompt.pk).deleted is True


def test_frontend_user_upsert_and_lookup(
    small_trees: object, frontend: Any, trusted_client: tuple[ApiClient, str]
) -> None:
    status, body = frontend("/api/v1/frontend_users/", {
        "id": "carol", "display_name": "Carol", "auth_method": "local", "tos_acceptance": True,
        "notes": "met at the meetup",
    })  # fmt: skip
    assert status == 200
    assert body["tos_acceptance_date"] is not None
    got = Client(HTTP_X_API_KEY=trusted_client[1]).get("/api/v1/frontend_users/local/carol")
    assert got.json()["display_name"] == "Carol"
    missing = Client(HTTP_X_API_KEY=trusted_client[1]).get("/api/v1/frontend_users/local/zed")
    assert (missing.status_code, missing.json()["error_code"]) == (404, 4002)


def test_text_labels_endpoints(
    small_trees: object, frontend: Any, trusted_client: tuple[ApiClient, str]
) -> None:
    prompt = write_prompt(people(1)[0])
    reader = Client(HTTP_X_API_KEY=trusted_client[1])
    assert len(reader.get("/api/v1/text_labels/report_labels").json()) == 10
    valid = reader.get(f"/api/v1/text_labels/valid_labels?message_id={prompt.pk}").json()
    assert len(valid["valid_labels"]) == 11
    assert len(reader.get("/api/v1/text_labels/valid_labels").json()["valid_labels"]) == 14
    status, _ = frontend("/api/v1/text_labels/", {
        "user": fe_user(), "message_id": str(prompt.pk), "labels": {"spam": 1},
        "is_report": True, "text": "this is an advert",
    })  # fmt: skip
    assert status == 204
    assert Message.objects.get(pk=prompt.pk).emojis == {"red_flag": 1}


def test_stats_need_a_trusted_client(
    small_trees: object, volunteer_client: Client, trusted_client: tuple[ApiClient, str]
) -> None:
    write_prompt(people(1)[0])
    assert volunteer_client.get("/api/v1/stats/").status_code == 403
    stats = Client(HTTP_X_API_KEY=trusted_client[1]).get("/api/v1/stats/").json()
    assert stats["all"] == 1 and stats["message_trees"] == 1
    counts = Client(HTTP_X_API_KEY=trusted_client[1]).get("/api/v1/stats/tree_manager/state_counts")
    assert counts.json() == {"state_counts": {"initial_prompt_review": 1}}


def test_crowd_completes_trees_over_http_with_an_api_key(
    small_trees: object, frontend: Any
) -> None:
    volunteers = [HttpVolunteer(frontend, f"vol{i}", rng=random.Random(i)) for i in range(6)]
    statuses: dict[int, int] = {}
    for step in range(900):
        _kind, status = volunteers[step % len(volunteers)].work_once()
        statuses[status] = statuses.get(status, 0) + 1
        if step % 10 == 0 and count_exported() >= 2:
            break

    assert count_exported() >= 2, statuses
    assert not any(status >= 500 and status != 503 for status in statuses), statuses
    assert MessageTree.objects.filter(state=TreeState.READY_FOR_EXPORT).count() >= 2


# --- Queries per request ------------------------------------------------------------


def counting_poster(client: Client, key: str, counts: dict[str, list[int]]) -> Any:
    """``poster`` that records the queries of each successful request by its endpoint."""
    post = poster(client, key)

    def counted(path: str, body: dict[str, Any]) -> tuple[int, Any]:
        with CaptureQueriesContext(connection) as queries:
            status, data = post(path, body)
        if status < 300:
            name = body["type"] if path.endswith("/interaction") else path.rsplit("/", 2)[-1]
            counts.setdefault(name or "tasks", []).append(len(queries))
        return status, data

    return counted


def test_task_loop_queries_per_request_stay_few(
    small_trees: object, trusted_client: tuple[ApiClient, str]
) -> None:
    """A crowd over HTTP; each endpoint's queries per request (SAVEPOINTs of the test's
    transaction included, where production has BEGIN/COMMIT) stay at most these."""
    counts: dict[str, list[int]] = {}
    frontend = counting_poster(Client(), trusted_client[1], counts)
    volunteers = [HttpVolunteer(frontend, f"vol{i}", rng=random.Random(i)) for i in range(6)]
    for step in range(400):
        volunteers[step % len(volunteers)].work_once()
        if step % 10 == 0 and count_exported() >= 1:
            break
    assert counts["ack"] and set(counts["ack"]) == {1}  # one compare-and-set UPDATE
    # The task found and locked by the frontend's id in one statement; the
    # tree's size and open reviews counted in one (main had 13 for each).
    assert min(counts["text_reply_to_message"]) <= 12
    assert min(counts["text_labels"]) <= 12
    assert max(counts["text_reply_to_message"]) <= 14
    assert max(counts["text_labels"]) <= 19
    assert max(counts["message_ranking"]) <= 22


def test_ack_refusals_keep_their_codes(
    small_trees: object, frontend: Any, trusted_client: tuple[ApiClient, str]
) -> None:
    _, first = frontend("/api/v1/tasks/", {"type": "initial_prompt", "user": fe_user()})
    _, second = frontend("/api/v1/tasks/", {"type": "initial_prompt", "user": fe_user("bob")})
    ack = "/api/v1/tasks/{}/ack".format
    assert frontend(ack(first["id"]), {"message_id": "m-1"}) == (204, None)
    assert frontend(ack(first["id"]), {"message_id": "m-1"}) == (204, None)  # a repeat
    assert Task.objects.get(pk=first["id"]).frontend_message_id == "m-1"

    def code(task_id: str, message_id: str, post: Any = frontend) -> tuple[int, int]:
        status, body = post(ack(task_id), {"message_id": message_id})
        return status, body["error_code"]

    assert code(first["id"], "m-2") == (400, 2103)  # already acknowledged
    assert code(second["id"], "m-1") == (400, 2000)  # the id is another task's
    assert code(str(uuid.uuid4()), "m-3") == (404, 2100)
    _other, other_key = create_api_client("other", trusted=True)
    assert code(second["id"], "m-3", poster(Client(), other_key)) == (404, 2100)
    Task.objects.filter(pk=second["id"]).update(expires_at="2000-01-01T00:00:00Z")
    assert code(second["id"], "m-3") == (400, 2101)
    assert not Task.objects.get(pk=second["id"]).ack


def test_labels_for_an_unknown_task_are_2100_before_the_labels_are_checked(
    small_trees: object, frontend: Any
) -> None:
    prompt = write_prompt(people(1)[0])
    status, body = frontend("/api/v1/tasks/interaction", {
        "type": "text_labels", "user": fe_user(), "message_id": str(prompt.pk),
        "task_id": str(uuid.uuid4()), "labels": {"no_such_label": 1},
    })  # fmt: skip
    assert (status, body["error_code"]) == (404, 2100)
