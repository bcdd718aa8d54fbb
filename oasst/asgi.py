"""ASGI entry point: HTTP through Django, websockets through Channels.

Websockets pass an origin check against ALLOWED_HOSTS, then the session
authentication of Django; each consumer decides what an anonymous user may do.
"""

from __future__ import annotations

import os

import django
from asgiref.sync import sync_to_async
from django.core.handlers.asgi import ASGIHandler
from django.core.handlers.base import BaseHandler
from django.http import HttpRequest, HttpResponseBase


class SyncChainASGIHandler(ASGIHandler):
    """Django's ASGI handler, running the middleware and the view as one synchronous call.

    The views and all middleware are synchronous. Django's handler builds an
    async chain, so each request went into a worker thread for the middleware,
    back to the event loop to resolve the URL, and into the thread again for
    the view: about 1.5 ms of CPU per request, a third of one that does no
    database work. Built in sync mode, as under WSGI, the chain is entered
    with one ``sync_to_async`` in the request's own thread (Django's
    ``ThreadSensitiveContext`` per request, as before), and the thread
    switches back and forth are gone. An async view would still work, through
    ``async_to_sync``.
    """

    def __init__(self) -> None:
        BaseHandler.__init__(self)  # not ASGIHandler's, which loads the async chain
        self.load_middleware(is_async=False)

    async def get_response_async(self, request: HttpRequest) -> HttpResponseBase:
        return await sync_to_async(self.get_response, thread_sensitive=True)(request)


os.environ.setdefault("DJANGO_SETTINGS_MODULE", "oasst.settings")
django.setup(set_prefix=False)  # what get_asgi_application() does before its handler
django_asgi_app = SyncChainASGIHandler()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ChannelNameRouter, ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402

from oasst.inference.remote import InferenceWorkerConsumer  # noqa: E402
from oasst.routing import websocket_urlpatterns  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": AllowedHostsOriginValidator(
            AuthMiddlewareStack(URLRouter(websocket_urlpatterns))
        ),
        # `manage.py runworker inference`: the model runner for other web nodes.
        "channel": ChannelNameRouter({"inference": InferenceWorkerConsumer.as_asgi()}),
    }
)

# Load the registered models now rather than on the first chat (start-up is
# the time to pay for it); a failed load shows on /healthz.
from django.conf import settings  # noqa: E402

if settings.OASST_RUNNER_WARMUP and settings.OASST_RUNNER == "local":
    from oasst.inference.registry import warm_up  # noqa: E402

    warm_up()
