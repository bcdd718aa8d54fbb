"""Chats: a tree of messages per chat, and what people say about the answers."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from oasst.inference.specs import DEFAULT_PRESET


def default_allow_data_use() -> bool:
    return settings.OASST_CHAT_ALLOW_DATA_USE_DEFAULT


class ChatQuerySet(models.QuerySet["Chat"]):
    def of(self, user: settings.AUTH_USER_MODEL) -> ChatQuerySet:
        return self.filter(user=user)

    def visible(self) -> ChatQuerySet:
        return self.filter(hidden=False)


class Chat(models.Model):
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="chats"
    )
    title = models.CharField(max_length=100, blank=True)
    model = models.ForeignKey(
        "inference.Model", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    preset = models.CharField(max_length=32, default=DEFAULT_PRESET)
    # Advanced-panel values over the preset (validated by specs.parse_params).
    params = models.JSONField(default=dict, blank=True)
    system_prompt = models.TextField(blank=True)
    allow_data_use = models.BooleanField(
        _("allow my chat to be used as training data"), default=default_allow_data_use
    )
    hidden = models.BooleanField(default=False)
    share_token = models.CharField(max_length=43, null=True, blank=True, unique=True)
    active_leaf = models.ForeignKey(
        "ChatMessage", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # The message tree the chat became when its author donated it (chat/donation.py).
    donated_tree = models.ForeignKey(
        "trees.MessageTree", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    donated_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(default=timezone.now)

    objects = ChatQuerySet.as_manager()

    class Meta:
        ordering = ["-updated_at"]
        indexes = [models.Index(fields=["user", "-updated_at"])]

    def __str__(self) -> str:
        return self.title or f"Chat {self.pk}"


class Role(models.TextChoices):
    PROMPTER = "prompter", _("you")
    ASSISTANT = "assistant", _("assistant")


class State(models.TextChoices):
    COMPLETE = "complete", _("complete")
    PENDING = "pending", _("waiting")
    IN_PROGRESS = "in_progress", _("writing")
    CANCELLED = "cancelled", _("stopped")
    ABORTED = "aborted", _("failed")
    TIMED_OUT = "timed_out", _("timed out")


FINISHED_STATES = {State.COMPLETE, State.CANCELLED, State.ABORTED, State.TIMED_OUT}
WORKING_STATES = {State.PENDING, State.IN_PROGRESS}


class ChatMessage(models.Model):
    chat = models.ForeignKey(Chat, on_delete=models.CASCADE, related_name="messages")
    # Edit and regenerate add siblings under the same parent; nothing is overwritten.
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.CASCADE, related_name="children"
    )
    role = models.CharField(max_length=16, choices=Role.choices)
    text = models.TextField(blank=True)
    state = models.CharField(max_length=16, choices=State.choices, default=State.COMPLETE)
    error = models.CharField(max_length=500, blank=True)
    finish_reason = models.CharField(max_length=16, blank=True)
    model_name = models.CharField(max_length=100, blank=True)
    # The parameters it was generated with, seed included, to reproduce it.
    params = models.JSONField(default=dict, blank=True)
    # Answers generated together as drafts for the person to pick from.
    draft_group = models.UUIDField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    started_at = models.DateTimeField(null=True, blank=True)
    first_token_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    prompt_tokens = models.PositiveIntegerField(null=True, blank=True)
    completion_tokens = models.PositiveIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["chat", "parent"])]

    def __str__(self) -> str:
        return f"{self.role} {self.pk}"

    @property
    def is_finished(self) -> bool:
        return self.state in FINISHED_STATES

    @property
    def ttft_ms(self) -> float | None:
        if self.started_at and self.first_token_at:
            return (self.first_token_at - self.started_at).total_seconds() * 1000
        return None

    @property
    def tokens_per_second(self) -> float | None:
        if self.first_token_at and self.finished_at and self.completion_tokens:
            seconds = (self.finished_at - self.first_token_at).total_seconds()
            return self.completion_tokens / seconds if seconds > 0 else None
        return None


class Vote(models.Model):
    message = models.ForeignKey(ChatMessage, on_delete=models.CASCADE, related_name="votes")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    score = models.SmallIntegerField()
    reasons = models.JSONField(default=list, blank=True)
    text = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["message", "user"], name="one_vote_per_message"),
            models.CheckConstraint(
                condition=models.Q(score__in=[-1, 1]), name="vote_is_plus_or_minus_one"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.score:+d} on {self.message_id}"


class ReportReason(models.TextChoices):
    SPAM = "spam", _("spam")
    OFFENSIVE = "offensive", _("offensive or harmful")
    WRONG = "wrong", _("wrong or misleading")
    OTHER = "other", _("something else")


class Report(models.Model):
    message = models.ForeignKey(ChatMessage, on_delete=models.CASCADE, related_name="reports")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    reason = models.CharField(max_length=16, choices=ReportReason.choices)
    text = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"{self.reason} on {self.message_id}"


class BetterAnswer(models.Model):
    """A person's own answer, stored beside the model's: a human reply for the dataset."""

    message = models.ForeignKey(
        ChatMessage, on_delete=models.CASCADE, related_name="better_answers"
    )
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    text = models.TextField()
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"better answer to {self.message_id}"


class DraftPick(models.Model):
    """Which of several drafts the person chose: a preference, as Open-Assistant stored it."""

    chat = models.ForeignKey(Chat, on_delete=models.CASCADE, related_name="draft_picks")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    draft_group = models.UUIDField()
    selected = models.ForeignKey(ChatMessage, on_delete=models.CASCADE, related_name="+")
    rejected = models.JSONField(default=list)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["chat", "draft_group"], name="one_pick_per_draft_group")
        ]

    def __str__(self) -> str:
        return f"pick {self.selected_id}"
