"""Open-Assistant's error codes (reference/oa-backend.md §2.6) and the one exception we raise.

Two pairs of OA's codes share a number (2053 and 2106). Here they are distinct
errors with their own names and messages; the number on the wire stays OA's
so that existing frontends keep working.
"""

from __future__ import annotations

from enum import Enum
from http import HTTPStatus


class ErrorCode(Enum):
    """name = (wire code, HTTP status)."""

    GENERIC_ERROR = (0, 400)
    API_CLIENT_NOT_AUTHORIZED = (2, 403)
    DATABASE_MAX_RETRIES_EXHAUSTED = (4, 503)
    SORT_KEY_UNSUPPORTED = (100, 400)
    INVALID_CURSOR_VALUE = (101, 400)
    TOO_MANY_REQUESTS = (429, 429)
    INVALID_AUTHENTICATION = (600, 401)
    TASK_INVALID_REQUEST_TYPE = (1000, 400)
    TASK_ACK_FAILED = (1001, 400)
    TASK_NACK_FAILED = (1002, 400)
    TASK_INVALID_RESPONSE_TYPE = (1003, 400)
    TASK_INTERACTION_REQUEST_FAILED = (1004, 400)
    TASK_GENERATION_FAILED = (1005, 400)
    TASK_REQUESTED_TYPE_NOT_AVAILABLE = (1006, 503)
    TASK_AVAILABILITY_QUERY_FAILED = (1007, 400)
    TASK_MESSAGE_TOO_LONG = (1008, 400)
    TASK_MESSAGE_DUPLICATED = (1009, 400)
    TASK_MESSAGE_TEXT_EMPTY = (1010, 400)
    TASK_MESSAGE_DUPLICATE_REPLY = (1011, 400)
    TASK_TOO_MANY_PENDING = (1012, 400)
    INVALID_FRONTEND_MESSAGE_ID = (2000, 400)
    MESSAGE_NOT_FOUND = (2001, 404)
    RATING_OUT_OF_RANGE = (2002, 400)
    INVALID_RANKING_VALUE = (2003, 400)
    INVALID_TASK_TYPE = (2004, 400)
    NO_MESSAGE_TREE_FOUND = (2006, 404)
    NO_REPLIES_FOUND = (2007, 400)
    INVALID_MESSAGE = (2008, 400)
    BROKEN_CONVERSATION = (2009, 400)
    TREE_IN_ABORTED_STATE = (2010, 400)
    CORRUPT_RANKING_RESULT = (2011, 400)
    AUTH_AND_USERNAME_REQUIRED = (2012, 400)
    TEXT_LABELS_WRONG_MESSAGE_ID = (2050, 400)
    TEXT_LABELS_INVALID_LABEL = (2051, 400)
    TEXT_LABELS_MANDATORY_LABEL_MISSING = (2052, 400)
    TEXT_LABELS_NO_SELF_LABELING = (2053, 400)
    # Same number as NO_SELF_LABELING in OA; kept for wire compatibility only.
    TEXT_LABELS_DUPLICATE_TASK_REPLY = (2053, 409)
    TASK_NOT_FOUND = (2100, 404)
    TASK_EXPIRED = (2101, 400)
    TASK_PAYLOAD_TYPE_MISMATCH = (2102, 400)
    TASK_ALREADY_UPDATED = (2103, 400)
    TASK_NOT_ACK = (2104, 400)
    TASK_ALREADY_DONE = (2105, 400)
    TASK_NOT_COLLECTIVE = (2106, 400)
    # Same number as NOT_COLLECTIVE in OA; kept for wire compatibility only.
    TASK_NOT_ASSIGNED_TO_USER = (2106, 403)
    TASK_UNEXPECTED_PAYLOAD_TYPE = (2107, 400)
    USER_NOT_SPECIFIED = (4000, 400)
    USER_DISABLED = (4001, 503)
    USER_NOT_FOUND = (4002, 404)
    USER_HAS_NOT_ACCEPTED_TOS = (4003, 451)
    EMOJI_OP_UNSUPPORTED = (5000, 400)

    @property
    def code(self) -> int:
        return self.value[0]

    @property
    def http_status(self) -> int:
        return self.value[1]


class OasstError(Exception):
    """A request that cannot be served, with OA's error code; nothing was changed."""

    def __init__(self, error: ErrorCode, message: str = "", *, http_status: int | None = None):
        self.error = error
        self.message = message or error.name.replace("_", " ").capitalize()
        self.http_status = http_status or error.http_status
        super().__init__(self.message)

    @property
    def error_code(self) -> int:
        return self.error.code

    def as_body(self) -> dict[str, object]:
        return {"error_code": self.error.code, "message": self.message}

    def __repr__(self) -> str:
        return f"OasstError({self.error.name}, {self.message!r}, {HTTPStatus(self.http_status)})"
