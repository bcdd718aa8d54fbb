"""CPU time and queries per task-API request, measured in this process.

Wall-clock benches on a shared machine measure the neighbours as much as the
server; CPU time of one process does not. This drives the same loop as
``bench/task_api.py`` (volunteers of a trusted API client: request → ack →
interaction) through Django's test client, in one process, against the
database of DATABASE_URL (or the embedded SQLite), and prints ONE JSON line:
per endpoint, the server's CPU ms per request (``time.process_time``, after a
warm-up) and the queries per request, with the BEGIN/SAVEPOINT statements among
them. PostgreSQL's own CPU per query is not in it.

Like a server, each request starts and ends with ``close_old_connections``
(the test client leaves those signals out), so a pooled connection is checked
out and back per request as under daphne.

    DATABASE_URL=postgres://… .venv/bin/python bench/task_api_cpu.py --requests 600
    … bench/task_api_cpu.py --profile 30     # + the 30 costliest functions (cProfile)
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pstats
import random
import sys
import time
import uuid
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
KEY = "bench-key-0123456789abcdef0123456789"


class QueryCounter:
    """A connection execute wrapper counting statements per endpoint."""

    def __init__(self) -> None:
        self.endpoint = ""
        self.counts: Counter[str] = Counter()
        self.kinds: dict[str, Counter[str]] = defaultdict(Counter)

    def __call__(self, execute, sql, params, many, context):  # noqa: ANN001
        self.counts[self.endpoint] += 1
        word = sql.lstrip().split(None, 1)[0].upper() if sql.strip() else ""
        if word == "SELECT" and " FOR UPDATE" in sql.upper():
            word = "SELECT FOR UPDATE"
        self.kinds[self.endpoint][word] += 1
        return execute(sql, params, many, context)


def prepare(trees: int) -> None:
    from django.core.management import call_command
    from django.db import connection

    from oasst.accounts.keys import create_api_client
    from oasst.accounts.models import ApiClient, User

    call_command("migrate", verbosity=0)
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                "TRUNCATE trees_journalevent, trees_emojireaction, trees_ranking, trees_textlabel,"
                " trees_messagerevision, trees_task, trees_message, trees_messagetree CASCADE"
            )
    User.objects.filter(api_client__name="bench").delete()
    User.objects.filter(username__startswith="gen-").delete()
    ApiClient.objects.filter(name="bench").delete()
    call_command(
        "generate_data", trees=trees, users=500, langs="en", verbosity=0, stdout=io.StringIO()
    )
    create_api_client("bench", key=KEY, trusted=True)
    if connection.vendor == "postgresql":
        # Autovacuum would analyse the fresh tables in production; it may be off here.
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--volunteers", type=int, default=20)
    parser.add_argument(
        "--requests", type=int, default=600, help="measured loops (3 requests each)"
    )
    parser.add_argument("--warmup", type=int, default=100)
    parser.add_argument("--trees", type=int, default=1000)
    parser.add_argument("--no-prepare", action="store_true", help="reuse the data of a former run")
    parser.add_argument("--profile", type=int, default=0, help="print the N costliest functions")
    args = parser.parse_args()

    os.environ.setdefault("OASST_RATE_LIMIT", "false")
    os.environ.setdefault("OASST_LOG_LEVEL", "WARNING")
    os.environ.setdefault("DEBUG", "false")
    os.environ.setdefault("OASST_HTTPS", "false")
    os.environ.setdefault("OASST_SSL_REDIRECT", "false")
    os.environ.setdefault("SECRET_KEY", "b" * 64)
    os.environ["DJANGO_SETTINGS_MODULE"] = "oasst.settings"
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.db import close_old_connections, connection
    from django.test import Client

    from oasst.trees.crowd import decide

    if not args.no_prepare:
        prepare(args.trees)
    close_old_connections()
    client = Client(HTTP_X_API_KEY=KEY)
    counter = QueryCounter()
    cpu: dict[str, float] = defaultdict(float)
    calls: Counter[str] = Counter()
    statuses: Counter[str] = Counter()
    rng = random.Random(1)
    measuring = False

    def call(name: str, path: str, body: dict[str, Any]) -> tuple[int, Any]:
        counter.endpoint = name
        started = time.process_time()
        close_old_connections()  # request_started, as a server sends it
        with connection.execute_wrapper(counter):
            response = client.post(path, body, content_type="application/json")
        close_old_connections()  # request_finished: a pooled connection goes back
        if measuring:
            cpu[name] += time.process_time() - started
            calls[name] += 1
            statuses[f"{name} {response.status_code}"] += 1
        return response.status_code, (response.json() if response.content else None)

    def loop(index: int) -> None:
        user = {"id": f"bench-{index}", "display_name": f"Bench {index}", "auth_method": "local"}
        status, task = call(
            "POST /tasks/", "/api/v1/tasks/", {"type": "random", "user": user, "lang": "en"}
        )
        if status != 200:
            return
        ack_id = str(uuid.uuid4())
        status, _ = call(
            "POST /tasks/{id}/ack", f"/api/v1/tasks/{task['id']}/ack", {"message_id": ack_id}
        )
        if status != 204:
            return
        action = decide({**task, "lang": "en"}, rng=rng)
        if action["type"] != "text_labels":
            action["message_id"] = ack_id
        name = "POST /tasks/interaction " + action["type"]
        call(name, "/api/v1/tasks/interaction", {**action, "user": user})

    for i in range(args.warmup):
        loop(i % args.volunteers)
    counter.counts.clear()
    counter.kinds.clear()
    measuring = True
    profiler = cProfile.Profile(time.process_time) if args.profile else None
    if profiler:
        profiler.enable()
    for i in range(args.requests):
        loop(i % args.volunteers)
    if profiler:
        profiler.disable()
    total_calls = sum(calls.values())
    result = {
        "bench": "task_api_cpu",
        "database": connection.vendor,
        "profiled": bool(profiler),
        "cpu_ms_per_request_all": round(1000 * sum(cpu.values()) / max(total_calls, 1), 2),
        "endpoints": {
            name: {
                "count": calls[name],
                "cpu_ms": round(1000 * cpu[name] / calls[name], 2),
                "queries": round(counter.counts[name] / calls[name], 2),
                "statements": {
                    k: round(v / calls[name], 2) for k, v in sorted(counter.kinds[name].items())
                },
            }
            for name in sorted(calls)
        },
        "statuses": dict(sorted(statuses.items())),
    }
    print(json.dumps(result))
    if profiler:
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(args.profile)
        print(out.getvalue(), file=sys.stderr)
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(args.profile * 2)
        print(out.getvalue(), file=sys.stderr)


if __name__ == "__main__":
    main()
