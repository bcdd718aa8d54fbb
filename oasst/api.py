"""The one NinjaAPI, served at /api/v1/; each app adds its router here."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from ninja import NinjaAPI

from oasst.accounts.api import router as auth_router
from oasst.exports.api import router as exports_router
from oasst.trees import api as trees_api
from oasst.trees.errors import OasstError

api = NinjaAPI(
    title="oasst API",
    version="1",
    urls_namespace="api",
    docs_url="/docs",
    description=(
        "The REST API of oasst. Trusted frontends authenticate with `X-API-Key` and act "
        "for their users; people use a personal token (`Authorization: Bearer …`) or "
        "their browser session."
    ),
)
api.add_router("/auth/", auth_router)
# Open-Assistant's v1 task protocol, at OA's own paths.
api.add_router("/tasks/", trees_api.tasks_router)
api.add_router("/messages/", trees_api.messages_router)
api.add_router("/frontend_messages/", trees_api.frontend_messages_router)
api.add_router("/text_labels/", trees_api.text_labels_router)
api.add_router("/users/", trees_api.users_router)
api.add_router("/frontend_users/", trees_api.frontend_users_router)
api.add_router("/stats/", trees_api.stats_router)
api.add_router("/exports/", exports_router)
api.add_exception_handler(OasstError, trees_api.render_error)


@api.exception_handler(PermissionError)
def _permission_denied(request: HttpRequest, exc: PermissionError) -> HttpResponse:
    return api.create_response(request, {"error_code": 2, "message": str(exc)}, status=403)
