"""ASGI entry point: HTTP through Django, websockets through Channels.

Websockets pass an origin check against ALLOWED_HOSTS, then the session
authentication of Django; each consumer decides what an anonymous user may do.
"""

from __future__ import annotations

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "oasst.settings")
django_asgi_app = get_asgi_application()

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
