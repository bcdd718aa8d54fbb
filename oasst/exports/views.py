"""The export page (admins and the data role): choose filters, watch progress, download."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from oasst.accounts import roles
from oasst.exports import runs
from oasst.exports.filters import InvalidFilters, parse_filters
from oasst.exports.forms import ExportForm
from oasst.exports.models import Export, RunStatus

PERMISSION = "accounts.export_data"


def may_skip_anonymizer(request: HttpRequest) -> bool:
    return roles.has_role(request.user, roles.ADMIN)


def describe(export: Export) -> str:
    try:
        return parse_filters(export.filters).describe()
    except InvalidFilters:
        return str(export.filters)


def _rows(exports: list[Export]) -> list[tuple[Export, str]]:
    return [(export, describe(export)) for export in exports]


@login_required
@permission_required(PERMISSION, raise_exception=True)
@require_http_methods(["GET", "POST"])
def index(request: HttpRequest) -> HttpResponse:
    form = ExportForm(request.POST or None, may_skip_anonymizer=may_skip_anonymizer(request))
    if request.method == "POST" and form.is_valid():
        try:
            runs.create_export(
                filters=form.filters(),
                format=form.cleaned_data["format"],
                shape=form.cleaned_data["shape"],
                gzip=form.cleaned_data["gzip"],
                requested_by=request.user,
                source="page",
            )
        except ValueError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, _("Export queued. This page shows its progress."))
            return redirect("exports:index")
    exports = list(Export.objects.select_related("requested_by")[:50])
    return render(
        request,
        "exports/index.html",
        {"form": form, "rows": _rows(exports)},
        status=400 if form.errors else 200,
    )


@login_required
@permission_required(PERMISSION, raise_exception=True)
@require_GET
def row(request: HttpRequest, export_id: int) -> HttpResponse:
    """One export's row, polled by htmx while it runs."""
    export = get_object_or_404(Export.objects.select_related("requested_by"), pk=export_id)
    return render(
        request, "exports/_export_row.html", {"export": export, "summary": describe(export)}
    )


@login_required
@permission_required(PERMISSION, raise_exception=True)
@require_GET
def download(request: HttpRequest, export_id: int) -> FileResponse:
    export = get_object_or_404(Export, pk=export_id, status=RunStatus.DONE)
    if export.path is None or not export.path.is_file():
        raise Http404(_("The file of this export is gone."))
    response = FileResponse(export.path.open("rb"), as_attachment=True, filename=export.path.name)
    response["X-Checksum-SHA256"] = export.sha256
    return response


@login_required
@permission_required(PERMISSION, raise_exception=True)
@require_POST
def cancel(request: HttpRequest, export_id: int) -> HttpResponse:
    export = runs.cancel_export(get_object_or_404(Export, pk=export_id))
    if request.htmx:
        return render(
            request, "exports/_export_row.html", {"export": export, "summary": describe(export)}
        )
    return redirect("exports:index")
