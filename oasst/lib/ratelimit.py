"""A fixed-window rate limiter on Django's cache (Redis in production, local memory embedded)."""

from __future__ import annotations

import time

from django.core.cache import cache


def hit(key: str, *, times: int, seconds: int) -> int:
    """Count one request against ``key``; returns 0 if allowed, else seconds until the window ends.

    ``cache.add`` creates the window's counter atomically and ``cache.incr``
    is atomic on Redis and under the local-memory cache's lock, so concurrent
    requests cannot slip through together.
    """
    now = time.time()
    window = int(now // seconds)
    bucket = f"ratelimit:{key}:{seconds}:{window}"
    cache.add(bucket, 0, timeout=seconds + 1)
    try:
        count = cache.incr(bucket)
    except ValueError:  # expired between add and incr
        cache.add(bucket, 1, timeout=seconds + 1)
        count = 1
    if count <= times:
        return 0
    return max(1, int((window + 1) * seconds - now) + 1)
