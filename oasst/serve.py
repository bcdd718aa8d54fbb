"""The web server: ``OASST_WEB_PROCESSES`` daphne processes serving one address.

    python -m oasst.serve [--host 127.0.0.1] [--port 8000] [--processes N] [daphne options…]

A web process runs Python under one interpreter lock, so it keeps about one
CPU core busy however many requests it holds; more processes use more cores.
With one process (the default) this is plain daphne. With more, the launcher
opens one listening socket per process on the same address with
``SO_REUSEPORT`` (the kernel spreads new connections evenly over them, where
one shared socket would let whichever process wakes first take a whole burst),
starts a daphne on each with ``--fd`` and stays in front as their supervisor:
SIGINT and SIGTERM reach every child, and when one child exits the others are
stopped and the launcher exits with the first one's status, for the process
manager (honcho, systemd, Docker) to restart the whole set.

The processes share nothing in memory, so more than one needs ``REDIS_URL``
(the cache behind rate limits, and the channel layer); settings refuse
``OASST_WEB_PROCESSES`` > 1 without it. Each process with ``OASST_RUNNER=local``
loads its own copy of the models; ``OASST_RUNNER=remote`` leaves them to
``manage.py runworker inference``.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Callable, Sequence
from types import FrameType

APPLICATION = "oasst.asgi:application"


def daphne_command(fd: int, options: Sequence[str]) -> list[str]:
    """The command line of one daphne serving the listening socket ``fd``."""
    return [sys.executable, "-m", "daphne", "--fd", str(fd), *options, APPLICATION]


def bind_sockets(host: str, port: int, count: int) -> list[socket.socket]:
    """``count`` IPv4 listening sockets on one address (port 0: one free port for all)."""
    if not hasattr(socket, "SO_REUSEPORT"):
        raise SystemExit("more than one web process needs SO_REUSEPORT (Linux, BSD, macOS)")
    try:
        address = socket.getaddrinfo(host, port, socket.AF_INET, socket.SOCK_STREAM)[0][4]
    except socket.gaierror:
        # daphne's --fd adopts IPv4 sockets only.
        raise SystemExit(
            f"with more than one web process, --host must be an IPv4 address, got {host!r}"
        ) from None
    sockets: list[socket.socket] = []
    try:
        for _ in range(count):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sockets.append(sock)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            sock.bind(address)
            sock.listen(socket.SOMAXCONN)
            address = sock.getsockname()  # the port the first socket got, for the others
    except OSError as exc:
        for sock in sockets:
            sock.close()
        raise SystemExit(f"cannot listen on {host}:{port}: {exc}") from None
    return sockets


def supervise(sockets: list[socket.socket], command: Callable[[int], list[str]]) -> int:
    """Start ``command(fd)`` for each socket and wait; returns the exit status of the first to end.

    The launcher keeps no socket open itself: once its children are gone
    nothing listens any more, and a restarted set can bind again at once.
    """
    children: list[subprocess.Popen] = []
    stopping = False

    def stop_all(signum: int = signal.SIGTERM, frame: FrameType | None = None) -> None:
        nonlocal stopping
        if stopping:
            return
        stopping = True
        for child in children:
            if child.returncode is None:
                child.send_signal(signum)

    previous = {sig: signal.signal(sig, stop_all) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        for sock in sockets:
            fd = sock.fileno()
            children.append(subprocess.Popen(command(fd), pass_fds=[fd]))  # noqa: S603 - our argv
            sock.close()
        status: int | None = None
        running = list(children)
        while running:
            pid, wait_status = os.wait()
            child = next((c for c in running if c.pid == pid), None)
            if child is None:
                continue
            child.returncode = os.waitstatus_to_exitcode(wait_status)
            running.remove(child)
            if status is None:
                status = 0 if stopping else child.returncode
                if not stopping:
                    print(
                        f"web process {pid} exited with status {child.returncode}; "
                        "stopping the others",
                        file=sys.stderr,
                        flush=True,
                    )
                stop_all()
        status = status or 0
        return (
            128 - status if status < 0 else status
        )  # killed by signal N: 128 + N, as a shell says
    finally:
        stop_all()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        for sock in sockets:
            sock.close()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m oasst.serve",
        description="Serve oasst with OASST_WEB_PROCESSES daphne processes; "
        "unknown options go to daphne (e.g. --proxy-headers).",
    )
    parser.add_argument("--host", default=os.environ.get("OASST_HOST") or "127.0.0.1")
    parser.add_argument("--port", type=int, default=int(os.environ.get("OASST_PORT") or 8000))
    parser.add_argument(
        "--processes", type=int, default=None, help="default: OASST_WEB_PROCESSES (1)"
    )
    args, options = parser.parse_known_args(argv)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "oasst.settings")
    from django.conf import settings

    processes = settings.OASST_WEB_PROCESSES if args.processes is None else args.processes
    if processes < 1:
        parser.error("--processes must be at least 1")
    if processes > 1 and not settings.REDIS_URL:
        parser.error(
            "more than one web process needs REDIS_URL: the processes share the cache "
            "(rate limits) and the channel layer only through Redis"
        )
    if processes == 1:
        daphne = [sys.executable, "-m", "daphne", "-b", args.host, "-p", str(args.port)]
        os.execv(sys.executable, [*daphne, *options, APPLICATION])  # noqa: S606 - no shell wanted
    sockets = bind_sockets(args.host, args.port, processes)
    port = sockets[0].getsockname()[1]
    print(
        f"Serving on http://{args.host}:{port}/ with {processes} web processes",
        file=sys.stderr,
        flush=True,
    )
    return supervise(sockets, lambda fd: daphne_command(fd, options))


if __name__ == "__main__":
    sys.exit(main())
