"""How long `make run` takes until /healthz answers, first and second time.

Clones the repository into a temporary folder (a fresh checkout, no .venv,
no data), runs `make run` there, waits for /healthz to answer 200, stops it
with Ctrl-C (SIGINT to the process group), and runs it again. The baseline is
daphne alone serving /healthz from the same, now-installed checkout.

    python bench/startup.py            # about 3 minutes on 2 cores
Prints one JSON line.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TIMEOUT_S = 900


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_healthy(url: str, proc: subprocess.Popen, started: float) -> float:
    while time.monotonic() - started < TIMEOUT_S:
        if proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode} before {url} answered")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - loopback only
                if response.status == 200:
                    return time.monotonic() - started
        except OSError:
            pass
        time.sleep(0.2)
    raise TimeoutError(f"{url} did not answer within {TIMEOUT_S} s")


def _timed(cmd: list[str], cwd: Path, port: int, log: Path) -> float:
    env = {
        k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL", "VIRTUAL_ENV"}
    }
    with log.open("w") as out:
        started = time.monotonic()
        proc = subprocess.Popen(
            cmd, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
        try:
            return _wait_healthy(f"http://127.0.0.1:{port}/healthz", proc, started)
        finally:
            os.killpg(proc.pid, signal.SIGINT)
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="oasst-startup-") as tmp:
        checkout = Path(tmp) / "oasst"
        subprocess.run(["git", "clone", "-q", str(ROOT), str(checkout)], check=True)
        port = _free_port()
        make = ["make", "run", f"PORT={port}"]
        first = _timed(make, checkout, port, Path(tmp) / "first.log")
        second = _timed(make, checkout, port, Path(tmp) / "second.log")
        daphne = [
            str(checkout / ".venv/bin/daphne"),
            "-b",
            "127.0.0.1",
            "-p",
            str(port),
            "oasst.asgi:application",
        ]
        os.environ["PYTHONPATH"] = str(checkout)
        baseline = _timed(daphne, checkout, port, Path(tmp) / "daphne.log")
    print(
        json.dumps(
            {
                "bench": "startup",
                "first_make_run_s": round(first, 1),
                "second_make_run_s": round(second, 1),
                "baseline_daphne_alone_s": round(baseline, 1),
                "python": sys.version.split()[0],
                "cpus": os.cpu_count(),
            }
        )
    )


if __name__ == "__main__":
    main()
