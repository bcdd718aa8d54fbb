from __future__ import annotations

from datetime import datetime

from django.http import HttpRequest
from ninja import Router, Schema

from oasst.accounts.auth import person_auth
from oasst.accounts.models import User

router = Router(tags=["auth"])


class MeOut(Schema):
    id: int
    username: str
    display_name: str
    languages: list[str]
    tos_accepted_at: datetime | None
    is_staff: bool


@router.get("/me", response=MeOut, auth=person_auth)
def me(request: HttpRequest) -> User:
    """The person behind this session or personal token."""
    return request.user
