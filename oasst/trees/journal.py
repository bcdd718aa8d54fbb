"""Appending to the journal of events."""

from __future__ import annotations

from typing import Any

from oasst.trees.models import JournalEvent


def record_event(
    event_type: str,
    *,
    user_id: int | None = None,
    message_id: object = None,
    tree_id: object = None,
    api_client_id: int | None = None,
    **payload: Any,
) -> None:
    JournalEvent.objects.create(
        event_type=event_type,
        user_id=user_id,
        message_id=message_id,
        tree_id=tree_id,
        api_client_id=api_client_id,
        payload={
            key: str(value)
            if not isinstance(value, int | float | bool | str | list | dict | None)
            else value
            for key, value in payload.items()
        },
    )
