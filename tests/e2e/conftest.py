"""Playwright driving Debian's Chromium against pytest-django's live server, or daphne."""

from __future__ import annotations

import os
import re
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.test import Client

from oasst.accounts.models import User

# Playwright's sync API keeps an event loop on the test thread; the ORM calls
# the tests make there (building state, checking results) are still synchronous.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
    "--disable-quic",
]


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install -y chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        yield browser
        browser.close()


@pytest.fixture
def page(browser: Any, request: pytest.FixtureRequest) -> Iterator[Any]:
    """A fresh browser context per test; a screenshot of the last state is kept as an artifact."""
    viewport = getattr(request, "param", None) or {"width": 1280, "height": 900}
    context = browser.new_context(viewport=viewport, locale="en-US")
    page = context.new_page()
    page.set_default_timeout(10_000)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    yield page
    ARTIFACTS.mkdir(exist_ok=True)
    name = re.sub(r"[^A-Za-z0-9_.-]", "_", request.node.name)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
    context.close()
    assert not errors, f"JavaScript errors on the page: {errors}"


@pytest.fixture
def e2e_settings(settings: Any) -> Any:
    """Tiny trees and no rate limits, seen by the live server's thread too."""
    from tests.web.seed import use_tiny_trees

    use_tiny_trees(settings)
    return settings


def sign_in(page: Any, server: Any, user: User) -> None:
    """Put a session for ``user`` into the browser (the sign-in form has its own test).

    ``server`` is pytest-django's live server or the URL of ``asgi_server``.
    """
    client = Client()
    client.force_login(user)
    cookie = client.cookies[django_settings.SESSION_COOKIE_NAME]
    url = getattr(server, "url", server)
    page.context.add_cookies([{"name": cookie.key, "value": cookie.value, "url": url}])


def shot(page: Any, name: str) -> None:
    """An extra screenshot in the middle of a test (the fixture takes one at the end)."""
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


@pytest.fixture(scope="session")
def asgi_server() -> Iterator[str]:
    """The whole ASGI application (HTTP and websockets) under daphne, in a thread.

    pytest-django's live server speaks WSGI only; the chat needs websockets.
    Daphne runs in this process so it sees the test database, as the live
    server does; static files come from the finders, as in development.
    """
    from channels.routing import ProtocolTypeRouter
    from daphne.server import Server  # installs Twisted's asyncio reactor
    from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler
    from twisted.internet import reactor

    from oasst.asgi import application

    routes = application.application_mapping
    app = ProtocolTypeRouter(
        {"http": ASGIStaticFilesHandler(routes["http"]), "websocket": routes["websocket"]}
    )
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = Server(app, endpoints=[f"tcp:port={port}:interface=127.0.0.1"], signal_handlers=False)
    thread = threading.Thread(target=server.run, name="daphne", daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            if time.monotonic() > deadline:
                pytest.fail("daphne did not start")
            time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    reactor.callFromThread(reactor.stop)
    thread.join(timeout=10)
