from __future__ import annotations

from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.db.models import QuerySet
from django.http import HttpRequest

from oasst.accounts import people
from oasst.accounts.keys import create_api_client
from oasst.accounts.models import ApiClient, ApiToken, User


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    list_display = (
        "username",
        "display_name",
        "email",
        "task_language",
        "is_staff",
        "is_active",
        "banned_at",
        "tos_accepted_at",
        "api_client",
        "date_joined",
    )
    list_filter = ("is_staff", "is_active", "groups", "auth_method", "api_client")
    search_fields = ("username", "display_name", "email", "frontend_id")
    ordering = ("-date_joined",)
    readonly_fields = ("date_joined", "last_login", "tos_accepted_at", "deleted_at", "banned_at")
    fieldsets = (
        *BaseUserAdmin.fieldsets,
        (
            "oasst",
            {
                "fields": (
                    "display_name",
                    "languages",
                    "time_zone",
                    "show_on_leaderboard",
                    "tos_accepted_at",
                    "banned_at",
                    "ban_reason",
                    "deleted_at",
                    "notes",
                    "api_client",
                    "auth_method",
                    "frontend_id",
                )
            },
        ),
    )
    actions = ["ban_selected", "unban_selected"]

    @admin.action(description="Ban the selected users", permissions=["change"])
    def ban_selected(self, request: HttpRequest, queryset: QuerySet[User]) -> None:
        for user in queryset.exclude(pk=request.user.pk):
            people.ban_user(user, reason=f"banned by {request.user.username} in the admin")
        self.message_user(request, "Banned.", messages.SUCCESS)

    @admin.action(description="Lift the ban on the selected users", permissions=["change"])
    def unban_selected(self, request: HttpRequest, queryset: QuerySet[User]) -> None:
        for user in queryset:
            people.unban_user(user)
        self.message_user(request, "Ban lifted.", messages.SUCCESS)


@admin.register(ApiClient)
class ApiClientAdmin(admin.ModelAdmin):
    list_display = (
        "name",
        "frontend_type",
        "trusted",
        "enabled",
        "key_prefix",
        "created_at",
        "last_used_at",
    )
    list_filter = ("trusted", "enabled", "frontend_type")
    search_fields = ("name", "description", "admin_email", "key_prefix")
    readonly_fields = ("key_prefix", "created_at", "last_used_at")
    fields = (
        "name",
        "description",
        "admin_email",
        "frontend_type",
        "trusted",
        "enabled",
        *readonly_fields,
    )

    def save_model(self, request: HttpRequest, obj: ApiClient, form: object, change: bool) -> None:
        if change:
            super().save_model(request, obj, form, change)
            return
        # A new client gets a fresh key, shown once to the admin who made it.
        client, key = create_api_client(
            obj.name,
            trusted=obj.trusted,
            description=obj.description,
            frontend_type=obj.frontend_type,
            admin_email=obj.admin_email,
        )
        obj.pk = client.pk
        obj.key_prefix, obj.key_hash, obj.created_at = (
            client.key_prefix,
            client.key_hash,
            client.created_at,
        )
        self.message_user(
            request,
            f"The key of {client.name} is {key}. Copy it now; it is not shown again.",
            messages.WARNING,
        )


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = (
        "name",
        "user",
        "key_prefix",
        "created_at",
        "last_used_at",
        "expires_at",
        "revoked_at",
    )
    list_filter = ("revoked_at",)
    search_fields = ("name", "user__username", "key_prefix")
    readonly_fields = ("user", "key_prefix", "created_at", "last_used_at")
    fields = (
        "name",
        "user",
        "key_prefix",
        "created_at",
        "last_used_at",
        "expires_at",
        "revoked_at",
    )

    def has_add_permission(self, request: HttpRequest) -> bool:
        # Tokens are made by their owners (settings page or create_token), so the key reaches them.
        return False
