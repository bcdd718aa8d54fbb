"""Who may use a volunteer page, answered the way an htmx request can show."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse
from django.template.loader import render_to_string
from django.utils.translation import gettext as _
from django_htmx.http import reswap, retarget

from oasst.accounts.decorators import contributor_required

View = Callable[..., HttpResponse]


def signed_out_response(request: HttpRequest) -> HttpResponse:
    """401 with a toast: the page (and whatever was typed in it) stays as it is."""
    body = render_to_string(
        "web/_signed_out_toast.html",
        {
            "message": _(
                "You are signed out. Your text is kept in this browser; sign in again (a new tab opens) and then send it."
            )
        },
        request=request,
    )
    response = HttpResponse(body, status=401)
    return reswap(retarget(response, "#toasts"), "beforeend")


def volunteer_required(view: View) -> View:
    """contributor_required, except that a signed-out htmx request gets a toast, not a page swap."""
    guarded = contributor_required(view)

    @wraps(view)
    def wrapper(request: HttpRequest, *args: object, **kwargs: object) -> HttpResponse:
        if not request.user.is_authenticated:
            if getattr(request, "htmx", False):
                return signed_out_response(request)
            return redirect_to_login(request.get_full_path())
        return guarded(request, *args, **kwargs)

    return wrapper


def may_moderate(request: HttpRequest) -> bool:
    return request.user.is_authenticated and request.user.has_perm("accounts.moderate")
