"""/api/v1/exports/: the same export runs as the page, for people with the data permission."""

from __future__ import annotations

from django.http import FileResponse, HttpRequest
from django.shortcuts import get_object_or_404
from django.urls import reverse
from ninja import Router, Status
from ninja.errors import HttpError

from oasst.accounts import roles
from oasst.accounts.auth import person_auth
from oasst.exports import runs
from oasst.exports.filters import parse_filters
from oasst.exports.models import Export, RunStatus
from oasst.exports.schemas import ExportIn, ExportOut
from oasst.exports.views import PERMISSION

router = Router(auth=person_auth, tags=["exports"])


def _check(request: HttpRequest) -> None:
    if not request.user.has_perm(PERMISSION):
        raise PermissionError("exporting data needs the data or admin role")


def _out(export: Export) -> dict:
    return {
        **{
            field: getattr(export, field)
            for field in ExportOut.model_fields
            if hasattr(export, field)
        },
        "id": export.pk,
        "download_url": reverse("api:export_download", args=[export.pk])
        if export.status == RunStatus.DONE
        else None,
    }


@router.post("/", response={201: ExportOut})
def create(request: HttpRequest, body: ExportIn) -> Status:
    _check(request)
    try:
        filters = parse_filters(body.filters)
        if not filters.anonymize and not roles.has_role(request.user, roles.ADMIN):
            raise PermissionError("only admins may export without anonymising ids")
        export = runs.create_export(
            filters=body.filters,
            format=body.format,
            shape=body.shape,
            gzip=body.gzip,
            requested_by=request.user,
            source="api",
        )
    except ValueError as exc:
        raise HttpError(422, str(exc)) from None
    return Status(201, _out(export))


@router.get("/", response=list[ExportOut])
def list_exports(request: HttpRequest) -> list[dict]:
    _check(request)
    return [_out(export) for export in Export.objects.all()[:50]]


@router.get("/{export_id}", response=ExportOut)
def detail(request: HttpRequest, export_id: int) -> dict:
    _check(request)
    return _out(get_object_or_404(Export, pk=export_id))


@router.post("/{export_id}/cancel", response=ExportOut)
def cancel(request: HttpRequest, export_id: int) -> dict:
    _check(request)
    return _out(runs.cancel_export(get_object_or_404(Export, pk=export_id)))


@router.get("/{export_id}/download", url_name="export_download")
def download(request: HttpRequest, export_id: int) -> FileResponse:
    _check(request)
    export = get_object_or_404(Export, pk=export_id, status=RunStatus.DONE)
    if export.path is None or not export.path.is_file():
        raise HttpError(404, "the file of this export is gone")
    response = FileResponse(export.path.open("rb"), as_attachment=True, filename=export.path.name)
    response["X-Checksum-SHA256"] = export.sha256
    return response
