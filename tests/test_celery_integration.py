"""One job through the real embedded broker, executed by a real worker process."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _env(data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL"}}
    env.update({"OASST_DATA_DIR": str(data_dir), "PYTHONPATH": str(ROOT)})
    return env


def test_a_job_runs_through_the_filesystem_broker_in_a_worker(tmp_path: Path) -> None:
    env = _env(tmp_path)
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"],
        cwd=ROOT,
        env=env,
        check=True,
        timeout=300,
    )
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "oasst",
            "worker",
            "--pool=solo",
            "--loglevel=WARNING",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        sender = subprocess.run(
            [
                sys.executable,
                "-c",
                "import django; django.setup();"
                "from oasst.health.jobs import heartbeat;"
                "print(heartbeat.delay().get(timeout=90))",
            ],
            cwd=ROOT,
            env={**env, "DJANGO_SETTINGS_MODULE": "oasst.settings"},
            capture_output=True,
            text=True,
            timeout=120,
        )
    finally:
        worker.terminate()
        log = worker.communicate(timeout=30)[0]
    assert sender.returncode == 0, sender.stderr + log
    returned = sender.stdout.strip()
    assert returned.startswith("20")
    # The worker wrote the heartbeat into the database the web process reads.
    with sqlite3.connect(tmp_path / "db.sqlite3") as db:
        (seen,) = db.execute(
            "SELECT seen_at FROM health_heartbeat WHERE name = 'worker'"
        ).fetchone()
    assert seen
    assert list((tmp_path / "broker" / "queue").iterdir()) == []
