from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from urllib.parse import urlencode

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django_htmx.http import HttpResponseClientRedirect

View = Callable[..., HttpResponse]


def contributor_required(view: View) -> View:
    """Signed in, not banned, and the terms accepted: what every contribution needs."""

    @login_required
    @wraps(view)
    def wrapper(request: HttpRequest, *args: object, **kwargs: object) -> HttpResponse:
        if not request.user.has_accepted_tos:
            url = reverse("accounts:terms") + "?" + urlencode({"next": request.get_full_path()})
            if getattr(request, "htmx", False):
                return HttpResponseClientRedirect(url)
            return redirect(url)
        return view(request, *args, **kwargs)

    return wrapper
