from __future__ import annotations

from channels.generic.websocket import AsyncWebsocketConsumer
from django.template.loader import render_to_string

from oasst.accounts.notifications import user_group

CLOSE_UNAUTHENTICATED = 4401


class NotificationConsumer(AsyncWebsocketConsumer):
    """Sends a signed-in person's notifications as out-of-band toast fragments."""

    async def connect(self) -> None:
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        self.group = user_group(user.pk)
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()

    async def disconnect(self, code: int) -> None:
        if hasattr(self, "group"):
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        # The socket is one-way; anything sent by the browser is ignored.
        return

    async def notify(self, event: dict[str, str]) -> None:
        html = render_to_string(
            "accounts/_toast.html", {"message": event["message"], "level": event["level"]}
        )
        await self.send(text_data=html)
