"""How many answers a person may ask for in a time window (chat and API together)."""

from __future__ import annotations

from django.conf import settings
from django.core.cache import cache

from oasst.inference.runner import RunnerRefused


class QuotaExceeded(RunnerRefused):
    pass


def take_quota(user_id: int, count: int = 1) -> None:
    """Count ``count`` answers against the person's window; raises QuotaExceeded past it.

    The cache is shared by every process in production (Redis), so the limit
    holds across web nodes; a fixed window keeps it to one key per person.
    """
    key = f"answer-quota:{user_id}"
    window = settings.OASST_CHAT_RATE_WINDOW
    cache.add(key, 0, timeout=window)
    used = cache.get(key, 0)
    if used + count > settings.OASST_CHAT_RATE_LIMIT:
        raise QuotaExceeded(
            "You have asked for many answers in a short time; please wait a few minutes."
        )
    try:
        cache.incr(key, count)
    except ValueError:  # the window expired between add and incr
        cache.set(key, count, timeout=window)
