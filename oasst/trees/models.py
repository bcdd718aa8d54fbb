"""Conversation trees: messages, the trees they form, and the crowd work on them.

Field names follow Open-Assistant's backend (reference/oa-backend.md §1) where
it has one, so the wire protocol and the export map onto them one to one.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class TreeState(models.TextChoices):
    INITIAL_PROMPT_REVIEW = "initial_prompt_review", _("Initial prompt review")
    PROMPT_LOTTERY_WAITING = "prompt_lottery_waiting", _("Waiting for the prompt lottery")
    GROWING = "growing", _("Growing")
    RANKING = "ranking", _("Ranking")
    READY_FOR_SCORING = "ready_for_scoring", _("Ready for scoring")
    READY_FOR_EXPORT = "ready_for_export", _("Ready for export")
    SCORING_FAILED = "scoring_failed", _("Scoring failed")
    ABORTED_LOW_GRADE = "aborted_low_grade", _("Aborted: low grade")
    HALTED_BY_MODERATOR = "halted_by_moderator", _("Halted by a moderator")
    BACKLOG_RANKING = "backlog_ranking", _("Backlog: waiting for ranking")


# A tree in one of these states gets no crowd work (OA's TERMINAL_STATES).
TERMINAL_STATES = frozenset(
    {
        TreeState.READY_FOR_EXPORT,
        TreeState.ABORTED_LOW_GRADE,
        TreeState.SCORING_FAILED,
        TreeState.HALTED_BY_MODERATOR,
        TreeState.BACKLOG_RANKING,
        TreeState.PROMPT_LOTTERY_WAITING,
    }
)


class Role(models.TextChoices):
    PROMPTER = "prompter"
    ASSISTANT = "assistant"


class TaskType(models.TextChoices):
    INITIAL_PROMPT = "initial_prompt"
    PROMPTER_REPLY = "prompter_reply"
    ASSISTANT_REPLY = "assistant_reply"
    RANK_PROMPTER_REPLIES = "rank_prompter_replies"
    RANK_ASSISTANT_REPLIES = "rank_assistant_replies"
    LABEL_INITIAL_PROMPT = "label_initial_prompt"
    LABEL_PROMPTER_REPLY = "label_prompter_reply"
    LABEL_ASSISTANT_REPLY = "label_assistant_reply"


REPLY_TASKS = frozenset(
    {TaskType.INITIAL_PROMPT, TaskType.PROMPTER_REPLY, TaskType.ASSISTANT_REPLY}
)
RANKING_TASKS = frozenset({TaskType.RANK_PROMPTER_REPLIES, TaskType.RANK_ASSISTANT_REPLIES})
LABEL_TASKS = frozenset(
    {TaskType.LABEL_INITIAL_PROMPT, TaskType.LABEL_PROMPTER_REPLY, TaskType.LABEL_ASSISTANT_REPLY}
)


class Emoji(models.TextChoices):
    PLUS_ONE = "+1"
    MINUS_ONE = "-1"
    RED_FLAG = "red_flag"
    HUNDRED = "100"
    ROFL = "rofl"
    CLAP = "clap"
    DIAMOND = "diamond"
    HEART_EYES = "heart_eyes"
    DISAPPOINTED = "disappointed"
    POOP = "poop"
    SKULL = "skull"
    # Hidden reactions written by a skip (nack): that person is not offered
    # the message again for that kind of work.
    SKIP_REPLY = "_skip_reply"
    SKIP_RANKING = "_skip_ranking"
    SKIP_LABELING = "_skip_labeling"


class MessageTreeQuerySet(models.QuerySet["MessageTree"]):
    def in_lang(self, lang: str) -> MessageTreeQuerySet:
        return self.filter(lang=lang)

    def active(self) -> MessageTreeQuerySet:
        return self.filter(active=True)

    def in_state(self, *states: str) -> MessageTreeQuerySet:
        return self.filter(state__in=states)


class MessageTree(models.Model):
    """A conversation tree; its id is the id of its root prompt, as in Open-Assistant."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    state = models.CharField(max_length=32, choices=TreeState.choices)
    active = models.BooleanField(default=True)
    lang = models.CharField(max_length=32)
    goal_tree_size = models.PositiveIntegerField()
    max_depth = models.PositiveIntegerField()
    max_children_count = models.PositiveIntegerField()
    origin = models.CharField(max_length=1024, blank=True)
    won_lottery_at = models.DateTimeField(null=True, blank=True)
    state_changed_at = models.DateTimeField(default=timezone.now)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    objects = MessageTreeQuerySet.as_manager()

    class Meta:
        indexes = [
            models.Index(fields=["lang", "state", "active"], name="tree_lang_state"),
            models.Index(fields=["state", "state_changed_at"], name="tree_state_changed"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(state__in=TreeState.values), name="tree_state_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"tree {self.id} ({self.state})"

    @property
    def is_active(self) -> bool:
        return self.active


class MessageQuerySet(models.QuerySet["Message"]):
    def visible(self) -> MessageQuerySet:
        return self.filter(deleted=False)

    def accepted(self) -> MessageQuerySet:
        return self.filter(review_result=True, deleted=False)

    def roots(self) -> MessageQuerySet:
        return self.filter(parent__isnull=True)

    def in_lang(self, lang: str) -> MessageQuerySet:
        return self.filter(lang=lang)

    def in_active_trees(self, *states: str) -> MessageQuerySet:
        return self.filter(tree__active=True, tree__state__in=states)

    def awaiting_review(self, required: int) -> MessageQuerySet:
        """Not yet accepted and with fewer than ``required`` reviews."""
        return self.filter(
            Q(review_result__isnull=True) | Q(review_result=False),
            review_count__lt=required,
            deleted=False,
        )

    def counted_as_children(self, required_reviews: int) -> MessageQuerySet:
        """Children that occupy a slot under their parent: accepted or still in review."""
        return self.filter(
            Q(review_result=True) | Q(review_count__lt=required_reviews), deleted=False
        )


class Message(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    tree = models.ForeignKey(MessageTree, on_delete=models.CASCADE, related_name="messages")
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.CASCADE, related_name="children"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="tree_messages"
    )
    api_client = models.ForeignKey(
        "accounts.ApiClient", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    task = models.ForeignKey(
        "Task", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    frontend_message_id = models.CharField(max_length=200, blank=True)
    role = models.CharField(max_length=16, choices=Role.choices)
    text = models.TextField()
    lang = models.CharField(max_length=32)
    depth = models.PositiveIntegerField(default=0)
    children_count = models.PositiveIntegerField(default=0)
    review_count = models.PositiveIntegerField(default=0)
    # None while in review, True accepted, False rejected (OA made it nullable
    # so "pending" and "failed" are told apart).
    review_result = models.BooleanField(null=True, blank=True)
    ranking_count = models.PositiveIntegerField(default=0)
    rank = models.PositiveIntegerField(null=True, blank=True)
    synthetic = models.BooleanField(default=False)
    model_name = models.CharField(max_length=1024, blank=True)
    deleted = models.BooleanField(default=False)
    edited = models.BooleanField(default=False)
    emojis = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    objects = MessageQuerySet.as_manager()

    class Meta:
        indexes = [
            models.Index(fields=["user", "created_at"], name="message_user_created"),
            models.Index(fields=["created_at", "id"], name="message_created_id"),
            models.Index(fields=["tree", "depth"], name="message_tree_depth"),
            # The review queues (§3.5): messages not yet accepted, per tree.
            models.Index(
                fields=["tree", "review_count"],
                condition=(Q(review_result__isnull=True) | Q(review_result=False))
                & Q(deleted=False),
                name="message_review_queue",
            ),
            # The accepted messages of a tree: extendible parents, tree size, ranking.
            models.Index(
                fields=["tree", "parent", "role"],
                condition=Q(review_result=True, deleted=False),
                name="message_accepted",
            ),
            models.Index(
                fields=["user", "rank", "created_at"],
                condition=Q(rank=0),
                name="message_ranked_first",
            ),
            # Trees holding model-generated replies (exports leave them out by
            # default); without it that check reads every message of the table.
            models.Index(fields=["tree"], condition=Q(synthetic=True), name="message_synthetic"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["parent", "user"],
                condition=Q(parent__isnull=False),
                name="one_reply_per_user_per_parent",
            ),
            models.UniqueConstraint(
                fields=["api_client", "frontend_message_id"],
                condition=~Q(frontend_message_id=""),
                name="unique_frontend_message_id",
            ),
            models.CheckConstraint(condition=Q(role__in=Role.values), name="message_role_valid"),
            models.CheckConstraint(
                condition=Q(parent__isnull=True, depth=0) | Q(parent__isnull=False, depth__gt=0),
                name="message_depth_matches_parent",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.role} {self.id}: {self.text[:40]}"

    @property
    def is_root(self) -> bool:
        return self.parent_id is None

    @property
    def is_assistant(self) -> bool:
        return self.role == Role.ASSISTANT


class TaskQuerySet(models.QuerySet["Task"]):
    def open(self) -> TaskQuerySet:
        return self.filter(done=False, skipped=False)

    def recent(self, seconds: int) -> TaskQuerySet:
        return self.filter(created_at__gte=timezone.now() - timedelta(seconds=seconds))

    def expired(self) -> TaskQuerySet:
        return self.filter(done=False, expires_at__lt=timezone.now())


class Task(models.Model):
    """A piece of crowd work handed to one person (or, if collective, to anyone)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    type = models.CharField(max_length=32, choices=TaskType.choices)
    payload = models.JSONField(default=dict)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.CASCADE, related_name="tasks"
    )
    api_client = models.ForeignKey(
        "accounts.ApiClient", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(null=True, blank=True)
    # None until acknowledged (or after a nack), as in OA.
    ack = models.BooleanField(null=True, blank=True)
    done = models.BooleanField(default=False)
    done_at = models.DateTimeField(null=True, blank=True)
    skipped = models.BooleanField(default=False)
    skip_reason = models.CharField(max_length=512, blank=True)
    frontend_message_id = models.CharField(max_length=200, blank=True)
    tree = models.ForeignKey(
        MessageTree, null=True, blank=True, on_delete=models.CASCADE, related_name="tasks"
    )
    parent_message = models.ForeignKey(
        Message, null=True, blank=True, on_delete=models.CASCADE, related_name="tasks"
    )
    collective = models.BooleanField(default=False)

    objects = TaskQuerySet.as_manager()

    class Meta:
        indexes = [
            models.Index(
                fields=["user", "created_at"],
                condition=Q(done=False, skipped=False),
                name="task_user_open",
            ),
            models.Index(
                fields=["parent_message", "created_at"],
                condition=Q(done=False, skipped=False),
                name="task_parent_open",
            ),
            models.Index(fields=["expires_at"], condition=Q(done=False), name="task_open_expiry"),
            models.Index(fields=["user", "type", "done"], name="task_user_type"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["api_client", "frontend_message_id"],
                condition=~Q(frontend_message_id=""),
                name="unique_task_frontend_id",
            ),
            models.CheckConstraint(condition=Q(type__in=TaskType.values), name="task_type_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.type} task {self.id}"

    @property
    def is_expired(self) -> bool:
        return self.expires_at is not None and timezone.now() > self.expires_at


class TextLabel(models.Model):
    """One person's labels for one message: a review (with a task), a free label, or a report."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="text_labels")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="text_labels"
    )
    task = models.OneToOneField(
        Task, null=True, blank=True, on_delete=models.SET_NULL, related_name="text_label"
    )
    api_client = models.ForeignKey(
        "accounts.ApiClient", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    labels = models.JSONField(default=dict)
    text = models.TextField(blank=True, max_length=65536)
    is_report = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["user", "message"],
                condition=Q(task__isnull=False),
                name="one_task_label_per_user_per_message",
            ),
            models.UniqueConstraint(
                fields=["user", "message"],
                condition=Q(task__isnull=True, is_report=False),
                name="one_free_label_per_user_per_message",
            ),
        ]

    def __str__(self) -> str:
        return f"labels by {self.user_id} on {self.message_id}"


class Ranking(models.Model):
    """One person's order of the replies under one parent (OA's ranking reaction)."""

    task = models.OneToOneField(Task, on_delete=models.CASCADE, related_name="ranking")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="rankings"
    )
    parent = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="rankings")
    tree = models.ForeignKey(MessageTree, on_delete=models.CASCADE, related_name="rankings")
    api_client = models.ForeignKey(
        "accounts.ApiClient", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # The offered replies' ids, best first, and the submitted permutation.
    ranked_message_ids = models.JSONField(default=list)
    ranking = models.JSONField(default=list)
    not_rankable = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["user", "parent"], name="one_ranking_per_user_per_parent"
            )
        ]

    def __str__(self) -> str:
        return f"ranking by {self.user_id} under {self.parent_id}"


class EmojiReaction(models.Model):
    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="emoji_reactions")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="emoji_reactions"
    )
    emoji = models.CharField(max_length=32, choices=Emoji.choices)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["message", "user", "emoji"], name="one_emoji_per_user")
        ]
        indexes = [models.Index(fields=["user", "message"], name="emoji_user_message")]

    def __str__(self) -> str:
        return f"{self.emoji} by {self.user_id} on {self.message_id}"


class MessageRevision(models.Model):
    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="revisions")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    text = models.TextField()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"revision of {self.message_id} at {self.created_at:%Y-%m-%d %H:%M}"


class JournalEvent(models.Model):
    """Append-only log of what happened (replies, rankings, labels, state changes)."""

    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    event_type = models.CharField(max_length=64)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    message = models.ForeignKey(
        Message, null=True, on_delete=models.SET_NULL, related_name="+", db_constraint=False
    )
    tree = models.ForeignKey(
        MessageTree, null=True, on_delete=models.SET_NULL, related_name="+", db_constraint=False
    )
    api_client = models.ForeignKey(
        "accounts.ApiClient", null=True, on_delete=models.SET_NULL, related_name="+"
    )
    payload = models.JSONField(default=dict)

    class Meta:
        verbose_name = _("journal event")
        indexes = [models.Index(fields=["tree", "created_at"], name="journal_tree")]

    def __str__(self) -> str:
        return f"{self.event_type} at {self.created_at:%Y-%m-%d %H:%M}"


def expiry_for_new_task(now: datetime | None = None) -> datetime:
    return (now or timezone.now()) + timedelta(minutes=settings.OASST_TASK_VALIDITY_MINUTES)
