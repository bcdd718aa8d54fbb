"""What /healthz reports: each check returns a small dict with ``ok``."""

from __future__ import annotations

import socket
import time
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta

from django.core.cache import caches
from django.db import connection
from django.utils import timezone

from oasst.health.models import Heartbeat

Check = Callable[[], dict[str, object]]
WORKER_STALE_AFTER = timedelta(minutes=2)

# Checks other apps add (e.g. the model runner); a failing one makes /healthz 503.
extra_checks: dict[str, Check] = {}


def record_heartbeat(name: str) -> datetime:
    now = timezone.now()
    Heartbeat.objects.update_or_create(
        name=name, defaults={"seen_at": now, "hostname": socket.gethostname()}
    )
    return now


def _timed(func: Callable[[], dict[str, object]]) -> dict[str, object]:
    started = time.perf_counter()
    try:
        result = func()
    except Exception as exc:  # noqa: BLE001 - a health check reports any failure
        result = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
    result["ms"] = round((time.perf_counter() - started) * 1000, 1)
    return result


def check_database() -> dict[str, object]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    return {"ok": True, "vendor": connection.vendor}


def check_cache() -> dict[str, object]:
    key = f"healthz:{uuid.uuid4().hex}"
    cache = caches["default"]
    cache.set(key, "1", timeout=5)
    ok = cache.get(key) == "1"
    cache.delete(key)
    return {"ok": ok, "backend": type(cache).__name__}


def check_broker() -> dict[str, object]:
    from oasst.celery import app

    with app.connection_for_write() as conn:
        conn.ensure_connection(max_retries=1, timeout=2)
        transport = (
            conn.transport_cls
            if isinstance(conn.transport_cls, str)
            else conn.transport.driver_type
        )
    return {"ok": True, "transport": transport}


def check_worker() -> dict[str, object]:
    """Informational: a fresh install has no heartbeat until beat's first run."""
    beat = Heartbeat.objects.filter(name="worker").first()
    if beat is None:
        return {"ok": True, "seen": None, "alive": False}
    alive = timezone.now() - beat.seen_at < WORKER_STALE_AFTER
    return {"ok": True, "seen": beat.seen_at.isoformat(), "alive": alive}


CORE_CHECKS: dict[str, Check] = {
    "database": check_database,
    "cache": check_cache,
    "broker": check_broker,
    "worker": check_worker,
}


def run_checks() -> tuple[bool, dict[str, dict[str, object]]]:
    results = {name: _timed(check) for name, check in {**CORE_CHECKS, **extra_checks}.items()}
    return all(bool(r["ok"]) for r in results.values()), results
