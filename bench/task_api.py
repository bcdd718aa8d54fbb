"""Task API throughput: K simulated volunteers loop request → ack → interaction over HTTP.

Starts a daphne server on a prepared database (SQLite in a temporary data
directory, and PostgreSQL when DATABASE_URL is set), lets K volunteers of a
trusted API client work without pauses, and prints ONE JSON line: requests/s,
completed tasks/s, p50/p95 per endpoint, status counts, and a baseline
measured in the same run (the same server answering a route without database
work, at the same concurrency). Open-Assistant's own figures on this kind of
machine (20 volunteers) are included for comparison.

The server runs as README tells production to run it: ``python -m oasst.serve``
with one web process per CPU core on PostgreSQL (``--processes``; more than
one needs REDIS_URL), and one on the embedded SQLite set-up, as ``make run``
serves it. Each leg's JSON says how many processes served it.

    .venv/bin/python bench/task_api.py                       # SQLite (+ PostgreSQL if DATABASE_URL)
    .venv/bin/python bench/task_api.py --volunteers 50 --seconds 20
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
KEY = "bench-key-0123456789abcdef0123456789"
OA_REFERENCE = {"requests_per_s": 32.6, "completed_tasks_per_s": 10.3, "post_tasks_p95_ms": 1600}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def manage(env: dict[str, str], *args: str) -> str:
    result = subprocess.run(
        [PYTHON, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True
    )
    if result.returncode != 0:
        raise SystemExit(f"manage.py {' '.join(args)} failed:\n{result.stderr[-3000:]}")
    return result.stdout


def reset_postgres(env: dict[str, str]) -> None:
    """Empty the tree tables and the bench's users, keeping the schema."""
    code = (
        "import django; django.setup()\n"
        "from django.db import connection\n"
        "from oasst.accounts.models import ApiClient, User\n"
        "with connection.cursor() as c:\n"
        "    c.execute('TRUNCATE trees_journalevent, trees_emojireaction, trees_ranking, "
        "trees_textlabel, trees_messagerevision, trees_task, trees_message, trees_messagetree CASCADE')\n"
        "User.objects.filter(api_client__name='bench').delete()\n"
        "User.objects.filter(username__startswith='gen-').delete()\n"
        "ApiClient.objects.filter(name='bench').delete()\n"
    )
    result = subprocess.run([PYTHON, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemExit(result.stderr[-3000:])


def ensure_postgres_database(url: str) -> None:
    """Create the database of ``url`` if it does not exist yet."""
    import psycopg

    name = url.rsplit("/", 1)[1].split("?")[0]
    with psycopg.connect(url.rsplit("/", 1)[0] + "/postgres", autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')


def analyze_postgres(url: str) -> None:
    """Fresh statistics for the tables just filled.

    Production runs autovacuum, which analyses a table soon after a bulk load;
    where it is off (as on the benchmark machine) the planner would otherwise
    plan the run's queries from the statistics of the emptied tables.
    """
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("ANALYZE")


def prepare(env: dict[str, str], *, trees: int, postgres: bool) -> None:
    if postgres:
        ensure_postgres_database(env["DATABASE_URL"])
    manage(env, "migrate", "--noinput")
    if postgres:
        reset_postgres(env)
    manage(env, "generate_data", "--trees", str(trees), "--users", "500", "--langs", "en")
    manage(env, "create_api_client", "bench", "--trusted", "--key", KEY)
    if postgres:
        analyze_postgres(env["DATABASE_URL"])


class Server:
    """The server as production runs it: ``python -m oasst.serve`` with ``processes`` daphnes."""

    def __init__(self, env: dict[str, str], *, processes: int):
        self.port = free_port()
        # The server's log goes to a file: a pipe nobody reads fills up and
        # blocks the server mid-run.
        self.log_path = Path(env["OASST_DATA_DIR"]) / "daphne.log"
        self.log = self.log_path.open("wb")
        self.process = subprocess.Popen(
            [PYTHON, "-m", "oasst.serve", "--host", "127.0.0.1", "--port", str(self.port),
             "--processes", str(processes)],
            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=self.log, start_new_session=True,
        )  # fmt: skip
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                status, _ = request(self.connect(), "GET", "/api/v1/text_labels/report_labels")
                if status == 200:
                    return
            except OSError:
                time.sleep(0.3)
        self.stop()
        raise SystemExit("daphne did not start")

    def connect(self) -> http.client.HTTPConnection:
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)

    def stop(self) -> None:
        self.process.terminate()  # the launcher passes it on to its daphnes
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
        self.log.close()
        lines = self.log_path.read_text(errors="replace").splitlines()
        if lines:  # on stderr, beside the JSON line on stdout
            print(
                f"-- daphne log, last {min(len(lines), 20)} of {len(lines)} lines:", file=sys.stderr
            )
            print("\n".join(lines[-20:]), file=sys.stderr)


def request(
    conn: http.client.HTTPConnection, method: str, path: str, body: Any = None
) -> tuple[int, Any]:
    payload = json.dumps(body) if body is not None else None
    headers = {"X-API-Key": KEY, "Content-Type": "application/json"}
    conn.request(method, path, body=payload, headers=headers)
    response = conn.getresponse()
    data = response.read()
    return response.status, (json.loads(data) if data else None)


class Recorder:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.latencies: dict[str, list[float]] = defaultdict(list)
        self.statuses: Counter[str] = Counter()
        self.completed = 0

    def timed(self, conn: http.client.HTTPConnection, name: str, method: str, path: str,
              body: Any = None) -> tuple[int, Any]:  # fmt: skip
        started = time.perf_counter()
        status, data = request(conn, method, path, body)
        elapsed = time.perf_counter() - started
        with self.lock:
            self.latencies[name].append(elapsed)
            self.statuses[f"{name} {status}"] += 1
        return status, data


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return 0.0
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def volunteer_loop(server: Server, index: int, stop_at: float, recorder: Recorder) -> None:
    from oasst.trees.crowd import decide  # after django.setup() in main()

    rng = random.Random(index)
    user = {"id": f"bench-{index}", "display_name": f"Bench {index}", "auth_method": "local"}
    conn = server.connect()
    while time.time() < stop_at:
        status, task = recorder.timed(
            conn,
            "POST /tasks/",
            "POST",
            "/api/v1/tasks/",
            {"type": "random", "user": user, "lang": "en"},
        )
        if status != 200:
            continue
        ack_id = str(uuid.uuid4())
        status, _ = recorder.timed(
            conn,
            "POST /tasks/{id}/ack",
            "POST",
            f"/api/v1/tasks/{task['id']}/ack",
            {"message_id": ack_id},
        )
        if status != 204:
            continue
        action = decide({**task, "lang": "en"}, rng=rng)
        if action["type"] != "text_labels":
            action["message_id"] = ack_id
        status, _ = recorder.timed(
            conn,
            "POST /tasks/interaction",
            "POST",
            "/api/v1/tasks/interaction",
            {**action, "user": user},
        )
        if status == 200:
            with recorder.lock:
                recorder.completed += 1
    conn.close()


def baseline_loop(server: Server, stop_at: float, recorder: Recorder) -> None:
    conn = server.connect()
    while time.time() < stop_at:
        recorder.timed(conn, "GET report_labels", "GET", "/api/v1/text_labels/report_labels")
    conn.close()


def run_threads(work: Any, count: int, seconds: float) -> float:
    """Run ``work(index, stop_at)`` on ``count`` threads for ``seconds``; returns the elapsed time."""
    stop_at = time.time() + seconds
    threads = [threading.Thread(target=work, args=(i, stop_at)) for i in range(count)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return time.perf_counter() - started


def summarise(recorder: Recorder, elapsed: float) -> dict[str, Any]:
    total = sum(len(v) for v in recorder.latencies.values())
    return {
        "requests": total,
        "requests_per_s": round(total / elapsed, 1),
        "completed_tasks_per_s": round(recorder.completed / elapsed, 1),
        "endpoints": {
            name: {
                "count": len(values),
                "p50_ms": round(percentile(values, 0.50) * 1000, 1),
                "p95_ms": round(percentile(values, 0.95) * 1000, 1),
            }
            for name, values in sorted(recorder.latencies.items())
        },
        "status_counts": dict(sorted(recorder.statuses.items())),
        "server_errors_5xx": sum(
            n
            for key, n in recorder.statuses.items()
            if key.split()[-1].startswith("5") and not key.endswith(" 503")
        ),
        "no_task_available_503": sum(
            n for key, n in recorder.statuses.items() if key.endswith(" 503")
        ),
    }


def run_leg(
    name: str, env: dict[str, str], args: argparse.Namespace, *, processes: int
) -> dict[str, Any]:
    prepare(env, trees=args.trees, postgres=name == "postgresql")
    server = Server(env, processes=processes)
    try:
        baseline = Recorder()
        elapsed = run_threads(
            lambda i, stop: baseline_loop(server, stop, baseline),
            args.volunteers,
            args.baseline_seconds,
        )
        base = summarise(baseline, elapsed)
        warm = Recorder()
        run_threads(lambda i, stop: volunteer_loop(server, i, stop, warm), args.volunteers, 2)
        recorder = Recorder()
        elapsed = run_threads(
            lambda i, stop: volunteer_loop(server, i, stop, recorder), args.volunteers, args.seconds
        )
        result = summarise(recorder, elapsed)
    finally:
        server.stop()
    result["web_processes"] = processes
    result["baseline_no_db_route"] = {
        "requests_per_s": base["requests_per_s"],
        **base["endpoints"]["GET report_labels"],
    }
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--volunteers", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--baseline-seconds", type=float, default=5)
    parser.add_argument("--trees", type=int, default=1000, help="generate_data trees to start from")
    parser.add_argument(
        "--processes",
        type=int,
        default=os.cpu_count() or 1,
        help="web processes on PostgreSQL (OASST_WEB_PROCESSES; default: one per CPU core, as "
        "README's production set-up); the embedded SQLite leg is served by one, as make run does",
    )
    parser.add_argument(
        "--dbs",
        default="",
        help="sqlite,postgresql (default: sqlite, + postgresql if DATABASE_URL)",
    )
    args = parser.parse_args()
    database_url = os.environ.pop("DATABASE_URL", "")
    redis_url = os.environ.pop("REDIS_URL", "")
    base_env = {**os.environ, "PYTHONPATH": str(ROOT), "DJANGO_SETTINGS_MODULE": "oasst.settings",
                "OASST_RATE_LIMIT": "false", "DEBUG": "false", "OASST_LOG_LEVEL": "WARNING"}  # fmt: skip
    legs = [leg for leg in args.dbs.split(",") if leg] or (
        ["sqlite", "postgresql"] if database_url else ["sqlite"]
    )
    # The load generator only borrows ``decide`` from the project; it never
    # touches a database, so the embedded settings in a scratch directory do.
    os.environ["OASST_DATA_DIR"] = tempfile.mkdtemp(prefix="oasst-bench-client-")
    import django

    django.setup()
    results: dict[str, Any] = {}
    for leg in legs:
        env = dict(base_env)
        tmp = tempfile.mkdtemp(prefix="oasst-bench-")
        env["OASST_DATA_DIR"] = tmp
        if leg == "postgresql":
            if not database_url:
                raise SystemExit("the postgresql leg needs DATABASE_URL")
            env.update({"DATABASE_URL": database_url, "OASST_HTTPS": "false",
                        "SECRET_KEY": env.get("SECRET_KEY") or "b" * 64})  # fmt: skip
            if redis_url:
                env["REDIS_URL"] = redis_url
            elif args.processes > 1:
                raise SystemExit("more than one web process needs REDIS_URL (or --processes 1)")
        processes = args.processes if leg == "postgresql" else 1
        try:
            results[leg] = run_leg(leg, env, args, processes=processes)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    print(json.dumps({
        "bench": "task_api",
        "volunteers": args.volunteers,
        "seconds": args.seconds,
        "start_trees": args.trees,
        "results": results,
        "oa_reference_same_load": OA_REFERENCE,
        "targets_postgresql": {"requests_per_s_min": round(3 * OA_REFERENCE["requests_per_s"], 1),
                               "post_tasks_p95_ms_max": OA_REFERENCE["post_tasks_p95_ms"] / 5},
    }))  # fmt: skip


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    os.environ["DJANGO_SETTINGS_MODULE"] = "oasst.settings"
    main()
