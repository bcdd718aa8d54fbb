from __future__ import annotations

from datetime import datetime
from typing import Any

from ninja import Field, Schema


class ExportIn(Schema):
    filters: dict[str, Any] = Field(
        default_factory=dict,
        description="states, langs, since, until, deleted/spam/synthetic (exclude|include|only), "
        "prompts_only, user_id, tree_ids, limit, labels, events, anonymize (admins only may "
        "turn it off)",
    )
    format: str = "jsonl"
    shape: str = "tree"
    gzip: bool = True


class ExportOut(Schema):
    id: int
    status: str
    format: str
    shape: str
    gzip: bool
    filters: dict[str, Any]
    trees_total: int | None
    trees_done: int
    messages_total: int | None
    messages_done: int
    size: int | None
    sha256: str
    error: str
    created_at: datetime
    finished_at: datetime | None
    expires_at: datetime | None
    download_url: str | None
