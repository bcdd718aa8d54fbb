from django.contrib import admin

from oasst.inference.models import Model


@admin.register(Model)
class ModelAdmin(admin.ModelAdmin):
    list_display = ["name", "backend", "prompt_format", "context_length", "enabled", "is_default"]
    list_filter = ["backend", "enabled"]
    search_fields = ["name", "path"]

    def has_module_permission(self, request) -> bool:  # noqa: ANN001 - Django's signature
        return request.user.has_perm("accounts.manage_models")

    def has_view_permission(self, request, obj=None) -> bool:  # noqa: ANN001
        return request.user.has_perm("accounts.manage_models")

    def has_add_permission(self, request) -> bool:  # noqa: ANN001
        return request.user.has_perm("accounts.manage_models")

    def has_change_permission(self, request, obj=None) -> bool:  # noqa: ANN001
        return request.user.has_perm("accounts.manage_models")

    def has_delete_permission(self, request, obj=None) -> bool:  # noqa: ANN001
        return request.user.has_perm("accounts.manage_models")
