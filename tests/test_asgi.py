"""HTTP through the ASGI application, as daphne serves it."""

from __future__ import annotations

import json

import pytest
from asgiref import sync
from channels.testing import HttpCommunicator

from oasst.asgi import application

HOST = [(b"host", b"127.0.0.1")]


async def test_an_api_request_is_served_through_the_asgi_application() -> None:
    communicator = HttpCommunicator(
        application, "GET", "/api/v1/text_labels/report_labels", headers=HOST
    )
    response = await communicator.get_response()
    assert response["status"] == 200
    assert {"name": "spam"}.items() <= json.loads(response["body"])[0].items()


async def test_a_request_stays_in_its_thread_from_the_first_middleware_to_the_view(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """No async_to_sync back to the event loop between the middleware and the view."""
    calls: list[object] = []
    original = sync.AsyncToSync.__call__

    def counted(self: sync.AsyncToSync, *args: object, **kwargs: object) -> object:
        calls.append(self.awaitable)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(sync.AsyncToSync, "__call__", counted)
    communicator = HttpCommunicator(
        application, "GET", "/api/v1/text_labels/report_labels", headers=HOST
    )
    response = await communicator.get_response()
    assert response["status"] == 200
    assert calls == []
