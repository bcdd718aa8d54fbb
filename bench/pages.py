"""Server time and query count of the volunteer pages on a large dataset from generate_data.

Fills a throw-away database with ``manage.py generate_data`` (PostgreSQL when
DATABASE_URL is set: a fresh database beside the one named there, dropped at
the end; else SQLite in a temporary OASST_DATA_DIR) and measures, in process
with Django's test ``Client`` signed in as a volunteer who accepted the terms:
the dashboard, an assistant-reply task page, a ranking task page when one is
on offer, the messages list (plain and searched), and the page of a deepest
message of the largest tree. Each page is measured twice in the same run, on
a small dataset (``--small-trees``) and after growing it to ``--trees``;
``/healthz`` on the same client is the baseline for the machine. The timed
requests follow one warm-up request; the query count comes from one more
request after them, under ``CaptureQueriesContext``.
Prints ONE JSON line.

    PYTHONPATH=. .venv/bin/python bench/pages.py                   # SQLite, 10k trees
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/oasst PYTHONPATH=. .venv/bin/python bench/pages.py
    PYTHONPATH=. .venv/bin/python bench/pages.py --trees 100000 --samples 200
"""

from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def percentiles(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    pick = lambda f: ordered[min(len(ordered) - 1, int(f * len(ordered)))] * 1000  # noqa: E731
    return {"p50_ms": round(pick(0.5), 2), "p95_ms": round(pick(0.95), 2), "n": len(ordered)}


def throwaway_database(url: str) -> tuple[str, str]:
    """Create an empty database beside the one in ``url``; returns its URL and name."""
    import psycopg

    base, _, rest = url.rpartition("/")
    given, _, query = rest.partition("?")
    name = f"{given or 'oasst'}_pages_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return f"{base}/{name}" + (f"?{query}" if query else ""), name


def drop_database(url: str, name: str) -> None:
    import psycopg

    base = url.rpartition("/")[0]
    with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def make_volunteer() -> Any:
    from django.utils import timezone

    from oasst.accounts import roles
    from oasst.accounts.models import User

    user = User.objects.create_user(
        f"bench-{uuid.uuid4().hex[:8]}",
        email="bench@example.org",
        password="correct horse battery staple",  # noqa: S106
        languages=["en"],
        tos_accepted_at=timezone.now(),
    )
    roles.assign_role(user, roles.VOLUNTEER)
    return user


def task_url(user: Any, task_type: str) -> str | None:
    """The page of an open task of this type for ``user``, or None when none is on offer."""
    from django.urls import reverse

    from oasst.trees.errors import OasstError
    from oasst.web.views.work import start_task

    try:
        task = start_task(user, task_type)
    except OasstError:
        return None
    return reverse("trees:task", args=[task.pk])


def deep_message_url() -> tuple[str, int]:
    """A deepest message of the largest tree, and that tree's size."""
    from django.db.models import Count
    from django.urls import reverse

    from oasst.trees.models import Message

    biggest = (
        Message.objects.filter(deleted=False)
        .values("tree_id")
        .annotate(n=Count("id"))
        .order_by("-n", "tree_id")
        .first()
    )
    if biggest is None:
        raise SystemExit("generate_data made no messages")
    deepest = (
        Message.objects.filter(tree_id=biggest["tree_id"], deleted=False)
        .order_by("-depth", "created_at")
        .first()
    )
    return reverse("trees:message", args=[deepest.pk]), biggest["n"]


def measure_page(client: Any, url: str, samples: int) -> dict[str, Any]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    status = client.get(url).status_code  # warm-up
    if status != 200:
        raise SystemExit(f"GET {url} answered {status}")
    timings = []
    for _ in range(samples):
        started = time.perf_counter()
        client.get(url)
        timings.append(time.perf_counter() - started)
    # Counted last: a dashboard visit draws the prompt lottery while a place
    # is free, which adds a dozen queries to the first visits of a small dataset.
    with CaptureQueriesContext(connection) as captured:
        client.get(url)
    return {**percentiles(timings), "queries": len(captured)}


def measure_all(samples: int, volunteer: Any) -> dict[str, Any]:
    from django.db import connection
    from django.test import Client
    from django.urls import reverse

    from oasst.trees.models import Message, MessageTree, TaskType

    client = Client()
    client.force_login(volunteer)
    message_url, tree_size = deep_message_url()
    pages = {
        "healthz_baseline": "/healthz",
        "dashboard": reverse("trees:dashboard"),
        "task_assistant_reply": task_url(volunteer, TaskType.ASSISTANT_REPLY),
        "task_rank_assistant_replies": task_url(volunteer, TaskType.RANK_ASSISTANT_REPLIES),
        "messages": reverse("trees:messages"),
        "messages_search": reverse("trees:messages") + "?q=houseplants",
        "message_tree": message_url,
    }
    results: dict[str, Any] = {
        "db": connection.vendor,
        "tree_count": MessageTree.objects.count(),
        "message_count": Message.objects.count(),
        "largest_tree_messages": tree_size,
    }
    for name, url in pages.items():
        results[name] = measure_page(client, url, samples) if url else "no task on offer"
    return results


def generate(trees: int, *, first: bool, seed: int, args: argparse.Namespace) -> float:
    from django.core.management import call_command

    started = time.perf_counter()
    options = ["--trees", str(trees), "--langs", args.langs, "--users", str(args.users)]
    options += ["--messages-per-tree", str(args.messages_per_tree), "--seed", str(seed)]
    if not first:
        options.append("--no-active")  # keep the per-language caps of the active states
    call_command("generate_data", *options, stdout=io.StringIO())
    return round(time.perf_counter() - started, 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--trees", type=int, default=10000)
    parser.add_argument("--small-trees", type=int, default=200)
    parser.add_argument("--messages-per-tree", type=int, default=12)
    parser.add_argument("--langs", default="en,es,de")
    parser.add_argument("--users", type=int, default=2000)
    parser.add_argument("--samples", type=int, default=100)
    args = parser.parse_args()
    if args.trees <= args.small_trees:
        raise SystemExit("--trees must be larger than --small-trees")
    data_dir = tempfile.mkdtemp(prefix="oasst-bench-pages-")
    os.environ["OASST_DATA_DIR"] = data_dir
    os.environ.pop("REDIS_URL", None)  # the pages alone: local cache, no broker
    database_url = os.environ.get("DATABASE_URL", "")
    dropped: tuple[str, str] | None = None
    if database_url.startswith("postgres"):
        os.environ["DATABASE_URL"], name = throwaway_database(database_url)
        dropped = (database_url, name)
        os.environ.setdefault("SECRET_KEY", "s" * 64)
    else:
        os.environ.pop("DATABASE_URL", None)
    os.environ["OASST_HTTPS"] = "false"
    os.environ["OASST_RATE_LIMIT"] = "false"
    os.environ["DEBUG"] = "false"
    os.environ["DJANGO_SETTINGS_MODULE"] = "oasst.settings"
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connections

    try:
        call_command("migrate", verbosity=0)
        volunteer = make_volunteer()
        small_seconds = generate(args.small_trees, first=True, seed=1, args=args)
        small = measure_all(args.samples, volunteer)
        large_seconds = generate(args.trees - args.small_trees, first=False, seed=2, args=args)
        large = measure_all(args.samples, volunteer)
    finally:
        connections.close_all()
        if dropped:
            drop_database(*dropped)
        shutil.rmtree(data_dir, ignore_errors=True)
    print(json.dumps({"bench": "pages", "samples": args.samples,
                      "generate_seconds": {"small": small_seconds, "large": large_seconds},
                      "small": small, "large": large}))  # fmt: skip


if __name__ == "__main__":
    main()
