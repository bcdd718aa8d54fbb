"""Exports and imports in the Django admin, and an "export selected trees" action on trees."""

from __future__ import annotations

from django.contrib import admin, messages
from django.db import transaction
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponseRedirect
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from oasst.exports import runs
from oasst.exports.models import Export, ImportRun
from oasst.trees.models import MessageTree

PERMISSION = "accounts.export_data"


@admin.register(Export)
class ExportAdmin(admin.ModelAdmin):
    list_display = ["id", "created_at", "requested_by", "source", "format", "shape", "status",
                    "trees_done", "messages_done", "size"]  # fmt: skip
    list_filter = ["status", "format", "source"]
    readonly_fields = [field.name for field in Export._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # exports start from the export page, the API, the CLI or the tree action

    def has_view_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return request.user.has_perm(PERMISSION)


@admin.register(ImportRun)
class ImportRunAdmin(admin.ModelAdmin):
    """Upload a dataset file; a job imports it and the report shows here."""

    list_display = ["id", "created_at", "uploaded_by", "file", "dry_run", "status", "summary"]
    fields = ["file", "state", "synthetic", "origin", "model_name", "dry_run"]

    def summary(self, run: ImportRun) -> str:
        report = run.report or {}
        if not report:
            return run.error or "–"
        trees = report.get("trees_created", 0)
        return ngettext(
            "%(created)s messages, %(trees)s new tree, %(skipped)s already present, "
            "%(rejected)s rejected",
            "%(created)s messages, %(trees)s new trees, %(skipped)s already present, "
            "%(rejected)s rejected",
            trees,
        ) % {
            "created": report.get("messages_created", 0),
            "trees": trees,
            "skipped": report.get("messages_skipped", 0),
            "rejected": report.get("rejected_count", 0),
        }

    def get_fields(self, request: HttpRequest, obj: ImportRun | None = None) -> list[str]:
        if obj is None:
            return self.fields
        return [*self.fields, "status", "uploaded_by", "created_at", "finished_at", "error",
                "report"]  # fmt: skip

    def get_readonly_fields(self, request: HttpRequest, obj: ImportRun | None = None) -> list[str]:
        return [] if obj is None else self.get_fields(request, obj)

    def has_module_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm(PERMISSION)

    def has_view_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return request.user.has_perm(PERMISSION)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm(PERMISSION)

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def save_model(self, request: HttpRequest, obj: ImportRun, form: object, change: bool) -> None:
        obj.uploaded_by = request.user
        super().save_model(request, obj, form, change)
        if not change:
            from oasst.exports.jobs import run_import

            transaction.on_commit(lambda: run_import.delay(obj.pk))


@admin.action(description=_("Export selected trees (oasst JSONL, anonymised)"))
def export_selected_trees(
    modeladmin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet[MessageTree]
) -> HttpResponseRedirect | None:
    if not request.user.has_perm(PERMISSION):
        modeladmin.message_user(
            request, _("Exporting needs the data or admin role."), messages.ERROR
        )
        return None
    tree_ids = [str(pk) for pk in queryset.values_list("pk", flat=True)]
    export = runs.create_export(
        filters={"states": ["all"], "tree_ids": tree_ids, "labels": True},
        requested_by=request.user,
        source="admin",
    )
    modeladmin.message_user(
        request,
        ngettext(
            "Export #%(id)s of %(count)d tree queued.",
            "Export #%(id)s of %(count)d trees queued.",
            len(tree_ids),
        )
        % {"id": export.pk, "count": len(tree_ids)},
    )
    return HttpResponseRedirect(reverse("exports:index"))


def add_tree_action(site: admin.AdminSite = admin.site) -> None:
    """Offer the action on the trees admin (registered by the trees app, or here if it has none)."""
    if MessageTree not in site._registry:

        @admin.register(MessageTree, site=site)
        class MessageTreeAdmin(admin.ModelAdmin):
            list_display = ["id", "state", "lang", "active", "created_at"]
            list_filter = ["state", "lang", "active"]
            readonly_fields = [field.name for field in MessageTree._meta.fields]

    tree_admin = site._registry[MessageTree]
    actions = list(tree_admin.actions or [])
    if export_selected_trees not in actions:
        tree_admin.actions = [*actions, export_selected_trees]


add_tree_action()
