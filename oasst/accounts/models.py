"""People, the frontends that act for them, and their keys."""

from __future__ import annotations

from django.contrib.auth.models import AbstractUser, UserManager
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class ApiClient(models.Model):
    """A program that calls the API with ``X-API-Key``.

    A trusted client (a frontend such as a chat bot or another website) may act
    for its own users, named in each request, as Open-Assistant's frontends do.
    """

    name = models.CharField(max_length=128, unique=True)
    description = models.CharField(max_length=256, blank=True)
    admin_email = models.EmailField(blank=True)
    frontend_type = models.CharField(max_length=64, blank=True, help_text=_("e.g. web, discord"))
    key_prefix = models.CharField(max_length=16, editable=False)
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    enabled = models.BooleanField(default=True)
    trusted = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        verbose_name = _("API client")

    def __str__(self) -> str:
        return self.name


class OasstUserManager(UserManager["User"]):
    def active(self) -> models.QuerySet[User]:
        return self.filter(is_active=True, deleted_at__isnull=True)


class User(AbstractUser):
    """A volunteer, moderator or admin, or a user of a trusted API client."""

    display_name = models.CharField(_("display name"), max_length=256, blank=True)
    languages = models.JSONField(
        _("languages"),
        default=list,
        blank=True,
        help_text=_("BCP-47 codes; the first is the language of your tasks."),
    )
    time_zone = models.CharField(_("time zone"), max_length=64, default="UTC")
    show_on_leaderboard = models.BooleanField(_("show me on public leaderboards"), default=True)
    tos_accepted_at = models.DateTimeField(null=True, blank=True)
    banned_at = models.DateTimeField(null=True, blank=True)
    ban_reason = models.CharField(max_length=512, blank=True)
    deleted_at = models.DateTimeField(null=True, blank=True)
    notes = models.TextField(blank=True, help_text=_("Moderators' notes; never shown to the user."))
    # Users of a trusted API client are known by the client's own id for them.
    api_client = models.ForeignKey(
        ApiClient, null=True, blank=True, on_delete=models.PROTECT, related_name="users"
    )
    auth_method = models.CharField(max_length=64, default="local")
    frontend_id = models.CharField(max_length=256, blank=True)

    objects = OasstUserManager()

    class Meta:
        permissions = [
            ("moderate", "Can moderate content and volunteers"),
            ("export_data", "Can export and import datasets"),
            ("manage_models", "Can manage models and fine-tuning"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["api_client", "auth_method", "frontend_id"],
                condition=Q(api_client__isnull=False),
                name="unique_frontend_user",
            )
        ]

    def __str__(self) -> str:
        return self.public_name

    @property
    def public_name(self) -> str:
        return self.display_name or self.username

    @property
    def task_language(self) -> str:
        return self.languages[0] if self.languages else "en"

    @property
    def has_accepted_tos(self) -> bool:
        return self.tos_accepted_at is not None

    @property
    def is_banned(self) -> bool:
        return self.banned_at is not None

    @property
    def is_deleted(self) -> bool:
        return self.deleted_at is not None


class ApiToken(models.Model):
    """A personal token: its owner's identity for scripts and OpenAI-style tools."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100)
    key_prefix = models.CharField(max_length=16, editable=False)
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("personal API token")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.name} ({self.key_prefix}…)"

    @property
    def is_usable(self) -> bool:
        if self.revoked_at is not None:
            return False
        return self.expires_at is None or self.expires_at > timezone.now()
