"""Request and response bodies of Open-Assistant's v1 wire protocol (oasst_shared.schemas.protocol)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

from ninja import Schema
from pydantic import Field


class FrontEndUserIn(Schema):
    id: str = Field(min_length=1, max_length=128)
    display_name: str | None = Field(default=None, max_length=256)
    auth_method: str = Field(default="local", max_length=64)


class TaskRequest(Schema):
    type: str = "random"
    user: FrontEndUserIn | None = None
    collective: bool = False
    lang: str | None = None


class AvailabilityRequest(Schema):
    id: str | None = None
    display_name: str | None = None
    auth_method: str = "local"


class TaskAck(Schema):
    message_id: str = Field(min_length=1, max_length=200)


class TaskNAck(Schema):
    reason: str | None = Field(default=None, max_length=512)
    user: FrontEndUserIn | None = None


class TaskClose(Schema):
    message_id: str = Field(min_length=1, max_length=200)
    user: FrontEndUserIn | None = None


class TextReplyToMessage(Schema):
    type: Literal["text_reply_to_message"]
    user: FrontEndUserIn | None = None
    message_id: str
    user_message_id: str = Field(default="", max_length=200)
    text: str
    lang: str | None = None


class MessageRanking(Schema):
    type: Literal["message_ranking"]
    user: FrontEndUserIn | None = None
    message_id: str
    ranking: list[int] = Field(min_length=1)
    not_rankable: bool | None = False


class TextLabels(Schema):
    type: Literal["text_labels"] = "text_labels"
    user: FrontEndUserIn | None = None
    text: str = ""
    labels: dict[str, float]
    message_id: UUID
    task_id: UUID | None = None
    is_report: bool | None = False


Interaction = Annotated[
    TextReplyToMessage | MessageRanking | TextLabels, Field(discriminator="type")
]


class TaskDone(Schema):
    id: UUID | None = None
    type: str = "task_done"


class EmojiIn(Schema):
    user: FrontEndUserIn | None = None
    op: str = "toggle"
    emoji: str


class ErrorOut(Schema):
    error_code: int
    message: str


class MessageOut(Schema):
    id: UUID
    parent_id: UUID | None
    frontend_message_id: str | None
    text: str
    lang: str
    is_assistant: bool
    created_date: datetime
    emojis: dict[str, int]
    user_emojis: list[str]
    user_is_author: bool | None
    synthetic: bool
    model_name: str | None
    message_tree_id: UUID
    ranking_count: int
    rank: int | None
    review_count: int
    review_result: bool | None
    deleted: bool
    edited: bool
    user_id: str


class MessagePage(Schema):
    prev: str | None
    next: str | None
    sort_key: str
    order: str
    items: list[MessageOut]


class MessageTreeOut(Schema):
    id: UUID
    messages: list[MessageOut]


class MessageTreeStateOut(Schema):
    message_tree_id: UUID
    state: str
    active: bool
    origin: str | None
    goal_tree_size: int
    max_depth: int
    max_children_count: int
    lang: str
    won_prompt_lottery_date: datetime | None


class FrontEndUserOut(Schema):
    user_id: str
    id: str
    display_name: str
    auth_method: str
    created_date: datetime
    enabled: bool
    deleted: bool
    notes: str
    show_on_leaderboard: bool
    tos_acceptance_date: datetime | None


class FrontEndUserUpdate(Schema):
    id: str = Field(min_length=1, max_length=128)
    display_name: str | None = Field(default=None, max_length=256)
    auth_method: str = "local"
    show_on_leaderboard: bool | None = None
    enabled: bool | None = None
    tos_acceptance: bool | None = None
    notes: str | None = None


class LabelDescriptionOut(Schema):
    name: str
    widget: str
    display_text: str
    help_text: str | None


class ValidLabelsOut(Schema):
    valid_labels: list[LabelDescriptionOut]
    mandatory_labels: list[str]


class SystemStatsOut(Schema):
    all: int
    active: int
    active_by_lang: dict[str, int]
    deleted: int
    message_trees: int
