"""Toasts pushed to a person's open pages over /ws/notifications/.

Across processes this needs a shared channel layer (Redis, in production); in
the embedded set-up it reaches browsers from the web process only.
"""

from __future__ import annotations

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

LEVELS = ("info", "success", "warning", "error")


def user_group(user_id: int) -> str:
    return f"user-{user_id}"


def notify_user(user_id: int, message: str, *, level: str = "info") -> None:
    if level not in LEVELS:
        raise ValueError(f"level must be one of {LEVELS}")
    layer = get_channel_layer()
    if layer is None:
        return
    async_to_sync(layer.group_send)(
        user_group(user_id), {"type": "notify", "message": message[:500], "level": level}
    )
