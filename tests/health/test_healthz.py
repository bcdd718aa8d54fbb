from __future__ import annotations

import pytest
from django.test import Client

from oasst.health import checks


@pytest.mark.django_db
def test_healthz_reports_every_service_and_answers_200() -> None:
    response = Client().get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert {"database", "cache", "broker", "worker"} <= set(body["checks"])
    assert all(check["ok"] for check in body["checks"].values())
    assert body["checks"]["worker"]["alive"] is False


@pytest.mark.django_db
def test_healthz_answers_503_when_the_database_is_down(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken() -> dict[str, object]:
        raise ConnectionError("database unreachable")

    monkeypatch.setitem(checks.CORE_CHECKS, "database", broken)
    response = Client().get("/healthz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "fail"
    assert body["checks"]["database"] == {
        "ok": False,
        "error": "ConnectionError: database unreachable",
        "ms": body["checks"]["database"]["ms"],
    }


@pytest.mark.django_db
def test_a_recent_heartbeat_shows_the_worker_alive() -> None:
    from oasst.health.jobs import heartbeat

    heartbeat.apply()
    body = Client().get("/healthz").json()
    assert body["checks"]["worker"]["alive"] is True
