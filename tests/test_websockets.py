"""The websocket stack: origin check, session authentication, notifications."""

from __future__ import annotations

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.test import Client

from oasst.accounts.notifications import notify_user
from oasst.asgi import application
from tests.conftest import make_user

ORIGIN = (b"origin", b"http://127.0.0.1:8000")


def _session_cookie(user) -> bytes:
    client = Client()
    client.force_login(user)
    return f"sessionid={client.cookies['sessionid'].value}".encode()


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
async def test_a_socket_without_a_session_is_refused() -> None:
    communicator = WebsocketCommunicator(application, "/ws/notifications/", headers=[ORIGIN])
    connected, code = await communicator.connect()
    assert not connected
    assert code == 4401


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
async def test_a_socket_from_a_foreign_origin_is_refused() -> None:
    user = await sync_to_async(make_user)("wanda")
    cookie = await sync_to_async(_session_cookie)(user)
    communicator = WebsocketCommunicator(
        application,
        "/ws/notifications/",
        headers=[(b"origin", b"https://evil.example"), (b"cookie", cookie)],
    )
    connected, _ = await communicator.connect()
    assert not connected


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
async def test_a_signed_in_person_receives_their_notifications_only() -> None:
    user = await sync_to_async(make_user)("wanda")
    other = await sync_to_async(make_user)("otto")
    cookie = await sync_to_async(_session_cookie)(user)
    communicator = WebsocketCommunicator(
        application, "/ws/notifications/", headers=[ORIGIN, (b"cookie", cookie)]
    )
    connected, _ = await communicator.connect()
    assert connected

    await sync_to_async(notify_user)(other.pk, "not for you")
    await sync_to_async(notify_user)(user.pk, "Your export is ready <script>", level="success")
    html = await communicator.receive_from(timeout=2)
    assert "toast-success" in html
    assert "Your export is ready &lt;script&gt;" in html
    assert await communicator.receive_nothing(timeout=0.2)
    await communicator.disconnect()
