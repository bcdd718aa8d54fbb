"""/v1/models and /v1/chat/completions with personal tokens and the fake model."""

from __future__ import annotations

import json

import pytest
from django.test import Client

from oasst.inference.models import Backend, Model
from oasst.inference.registry import register_model
from oasst.inference.runner import LocalRunner, set_runner

pytestmark = pytest.mark.django_db


@pytest.fixture
def fake_model(db: None) -> Model:
    runner = LocalRunner(user_limit=2)
    previous = set_runner(runner)
    yield register_model("fake", "fake:", backend=Backend.FAKE, make_default=True)
    runner.shutdown()
    set_runner(previous)


def post(token: str | None, body: dict) -> object:
    headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"} if token else {}
    return Client().post(
        "/v1/chat/completions", json.dumps(body), content_type="application/json", **headers
    )


def test_models_are_listed_for_a_token_holder(volunteer_token: str, fake_model: Model) -> None:
    response = Client().get("/v1/models", HTTP_AUTHORIZATION=f"Bearer {volunteer_token}")
    assert response.status_code == 200
    assert [m["id"] for m in response.json()["data"]] == ["fake"]


def test_a_completion_without_streaming(volunteer_token: str, fake_model: Model) -> None:
    response = post(
        volunteer_token,
        {
            "model": "fake",
            "messages": [
                {"role": "system", "content": "Be nice"},
                {"role": "user", "content": "hi"},
            ],
        },
    )
    assert response.status_code == 200, response.content
    data = response.json()
    assert data["object"] == "chat.completion"
    assert data["choices"][0]["message"] == {"role": "assistant", "content": "Echo: hi"}
    assert data["choices"][0]["finish_reason"] == "stop"
    assert data["usage"]["completion_tokens"] == len("Echo: hi")


def test_min_tokens_holds_the_end_of_text_off(volunteer_token: str, fake_model: Model) -> None:
    body = {"model": "fake", "messages": [{"role": "user", "content": "hi"}], "temperature": 0}
    response = post(volunteer_token, {**body, "min_tokens": 20})
    assert response.status_code == 200, response.content
    data = response.json()
    assert data["usage"]["completion_tokens"] == 20
    assert data["choices"][0]["message"]["content"].startswith("Echo: hi")
    assert data["choices"][0]["finish_reason"] == "stop"


def test_a_streamed_completion_sends_server_sent_events(
    volunteer_token: str, fake_model: Model
) -> None:
    response = post(
        volunteer_token,
        {"model": "fake", "stream": True, "messages": [{"role": "user", "content": "stream me"}]},
    )
    assert response.status_code == 200
    assert response["Content-Type"] == "text/event-stream"
    body = b"".join(response).decode()  # an async stream, collected by Django
    lines = [line[6:] for line in body.split("\n\n") if line.startswith("data: ")]
    assert lines[-1] == "[DONE]"
    chunks = [json.loads(line) for line in lines[:-1]]
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant"}
    text = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks)
    assert text == "Echo: stream me"
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"


def test_no_token_no_completion(fake_model: Model) -> None:
    response = post(None, {"messages": [{"role": "user", "content": "hi"}]})
    assert response.status_code == 401
    assert response.json()["error"]["type"] == "invalid_request_error"
    assert post("oat_wrong", {"messages": [{"role": "user", "content": "hi"}]}).status_code == 401


def test_bad_requests_get_openai_shaped_errors(volunteer_token: str, fake_model: Model) -> None:
    cases = [
        ({"model": "nope", "messages": [{"role": "user", "content": "x"}]}, 404, "model"),
        ({"messages": [{"role": "user", "content": "x"}], "temperature": 7}, 400, None),
        ({"messages": []}, 400, "messages"),
        ({"messages": [{"role": "assistant", "content": "x"}]}, 400, "messages"),
        ({"messages": [{"role": "robot", "content": "x"}]}, 400, None),
    ]
    for body, status, param in cases:
        response = post(volunteer_token, body)
        assert response.status_code == status, (body, response.content)
        error = response.json()["error"]
        assert error["message"]
        if param:
            assert error["param"].startswith(param)


def test_the_answer_quota_applies_to_the_api(
    volunteer_token: str, fake_model: Model, settings
) -> None:  # noqa: ANN001
    settings.OASST_CHAT_RATE_LIMIT = 1
    body = {"messages": [{"role": "user", "content": "x"}]}
    assert post(volunteer_token, body).status_code == 200
    response = post(volunteer_token, body)
    assert response.status_code == 429
    assert response.json()["error"]["type"] == "rate_limit_error"
