"""The web launcher (python -m oasst.serve): sockets per process, supervision, refusal without Redis."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# A stand-in for daphne: answers every connection on the inherited socket with its pid.
FAKE_SERVER = """
import os, socket, sys
sock = socket.socket(fileno=int(sys.argv[1]))
while True:
    conn, _ = sock.accept()
    conn.recv(1024)
    body = str(os.getpid()).encode()
    conn.sendall(b"HTTP/1.0 200 OK\\r\\nContent-Length: %d\\r\\n\\r\\n%s" % (len(body), body))
    conn.close()
"""

LAUNCHER = f"""
import sys
from oasst.serve import bind_sockets, supervise
sockets = bind_sockets("127.0.0.1", 0, 2)
print(sockets[0].getsockname()[1], flush=True)
sys.exit(supervise(sockets, lambda fd: [sys.executable, "-c", {FAKE_SERVER!r}, str(fd)]))
"""


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL"}}
    return {**env, "PYTHONPATH": str(ROOT), "DJANGO_SETTINGS_MODULE": "oasst.settings", **extra}


def _start_fake_set() -> tuple[subprocess.Popen, int]:
    launcher = subprocess.Popen(
        [sys.executable, "-c", LAUNCHER], cwd=ROOT, env=_env(), stdout=subprocess.PIPE, text=True
    )
    port = int(launcher.stdout.readline())
    return launcher, port


def _pid_answering(port: int) -> int:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=10) as response:  # noqa: S310
        return int(response.read())


def _is_running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _wait_gone(pid: int, seconds: float = 10) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not _is_running(pid):
            return True
        time.sleep(0.05)
    return False


def _children_of(pid: int) -> list[int]:
    children = []
    for entry in Path("/proc").iterdir():
        try:
            stat = (entry / "stat").read_text()
        except (OSError, ValueError):
            continue
        if entry.name.isdigit() and int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            children.append(int(entry.name))
    return children


def test_connections_are_spread_over_every_process_and_sigterm_stops_them(tmp_path: Path) -> None:
    launcher, port = _start_fake_set()
    try:
        pids = {_pid_answering(port) for _ in range(40)}
        assert len(pids) == 2  # one socket per process, the kernel spreads the connections
        launcher.send_signal(signal.SIGTERM)
        assert launcher.wait(timeout=10) == 0
        assert all(_wait_gone(pid) for pid in pids)
    finally:
        launcher.kill()
        launcher.wait()


def test_when_one_process_dies_the_others_are_stopped_and_its_status_returned(
    tmp_path: Path,
) -> None:
    launcher, port = _start_fake_set()
    try:
        pids = {_pid_answering(port) for _ in range(40)}
        assert len(pids) == 2
        victim, survivor = sorted(pids)
        os.kill(victim, signal.SIGKILL)
        assert launcher.wait(timeout=10) == 128 + signal.SIGKILL
        assert _wait_gone(survivor)
    finally:
        launcher.kill()
        launcher.wait()


def test_more_than_one_process_needs_redis(tmp_path: Path) -> None:
    env = _env(OASST_DATA_DIR=str(tmp_path))
    result = subprocess.run(
        [sys.executable, "-m", "oasst.serve", "--processes", "2", "--port", "0"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 2
    assert "more than one web process needs REDIS_URL" in result.stderr
    result = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=ROOT, env={**env, "OASST_WEB_PROCESSES": "2"}, capture_output=True, text=True,
        timeout=120,
    )  # fmt: skip
    assert result.returncode != 0
    assert "OASST_WEB_PROCESSES > 1 needs REDIS_URL" in result.stderr


def test_two_daphne_processes_serve_the_api(tmp_path: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    # REDIS_URL only has to be set: the route asked here touches neither cache nor channels.
    env = _env(
        OASST_DATA_DIR=str(tmp_path),
        REDIS_URL="redis://127.0.0.1:6379/15",
        OASST_RUNNER_WARMUP="false",
        OASST_LOG_LEVEL="WARNING",
    )
    log = (tmp_path / "serve.log").open("wb")
    server = subprocess.Popen(
        [sys.executable, "-m", "oasst.serve", "--port", str(port), "--processes", "2"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        status = None
        while time.monotonic() < deadline and status is None:
            assert server.poll() is None, (tmp_path / "serve.log").read_text()
            try:
                url = f"http://127.0.0.1:{port}/api/v1/text_labels/report_labels"
                with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310
                    status = response.status
            except OSError:
                time.sleep(0.5)
        assert status == 200
        assert len(_children_of(server.pid)) == 2
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
        log.close()
