"""Running a write in one transaction, again when the database asks for it."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TypeVar

from django.conf import settings
from django.db import IntegrityError, OperationalError, transaction

from oasst.trees.errors import ErrorCode, OasstError

Result = TypeVar("Result")
log = logging.getLogger(__name__)


def run_atomically(write: Callable[[], Result]) -> Result:
    """Run ``write`` in a transaction; retry on serialization failures, deadlocks and races.

    A unique-constraint violation is retried too: the second attempt sees the
    row the other writer committed and fails with the right error code (or
    finds there is nothing left to do). Must not be called inside an outer
    transaction on PostgreSQL, or a serialization failure could not start afresh.
    """
    attempts = settings.OASST_DB_MAX_RETRIES
    for attempt in range(1, attempts + 1):
        try:
            with transaction.atomic():
                return write()
        except (OperationalError, IntegrityError) as exc:
            if attempt == attempts:
                log.warning("giving up after %d attempts: %s", attempt, exc)
                raise OasstError(
                    ErrorCode.DATABASE_MAX_RETRIES_EXHAUSTED,
                    "the database was too busy; please try again",
                ) from exc
            log.info("retrying a write after %s: %s", exc.__class__.__name__, exc)
            time.sleep(0.01 * attempt)
    raise AssertionError("unreachable")
