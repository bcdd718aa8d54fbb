from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from oasst.accounts import keys, people
from oasst.accounts.forms import DeleteAccountForm, ProfileForm, TokenForm
from oasst.accounts.models import ApiToken


def _safe_next(request: HttpRequest, fallback: str = "home") -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return fallback


@require_http_methods(["GET", "POST"])
def terms(request: HttpRequest) -> HttpResponse:
    """The terms and guidelines; signed-in people accept them here before contributing."""
    if request.method == "POST":
        if not request.user.is_authenticated:
            return redirect("account_login")
        if request.POST.get("accept") != "yes":
            messages.error(request, _("Please tick the box to accept the terms."))
            return redirect(request.get_full_path())
        people.accept_tos(request.user)
        messages.success(request, _("Thank you. You can now contribute."))
        return redirect(_safe_next(request))
    return render(request, "accounts/terms.html", {"next": _safe_next(request, "")})


@login_required
@require_http_methods(["GET", "POST"])
def settings_page(request: HttpRequest) -> HttpResponse:
    form = ProfileForm(request.POST or None, instance=request.user)
    if request.method == "POST" and form.is_valid():
        with transaction.atomic():
            form.save()
            people.set_languages(request.user, form.languages())
        messages.success(request, _("Your settings are saved."))
        return redirect("accounts:settings")
    return render(
        request,
        "accounts/settings.html",
        {"form": form, "token_form": TokenForm(), "tokens": _tokens(request), "new_key": None},
    )


def _tokens(request: HttpRequest) -> list[ApiToken]:
    return list(request.user.api_tokens.filter(revoked_at__isnull=True))


@login_required
@require_POST
def create_token(request: HttpRequest) -> HttpResponse:
    form = TokenForm(request.POST)
    new_key = None
    if form.is_valid():
        if len(_tokens(request)) >= 20:
            form.add_error(None, _("You have 20 tokens; revoke one first."))
        else:
            new_key = keys.create_token(request.user, name=form.cleaned_data["name"])[1]
            form = TokenForm()
    context = {"token_form": form, "tokens": _tokens(request), "new_key": new_key}
    if request.htmx:
        return render(request, "accounts/settings.html#token-list", context)
    if new_key:
        messages.success(
            request,
            _("Your new token: %(key)s. Copy it now; it is not shown again.") % {"key": new_key},
        )
    return redirect("accounts:settings")


@login_required
@require_POST
def revoke_token(request: HttpRequest, token_id: int) -> HttpResponse:
    token = get_object_or_404(ApiToken, pk=token_id, user=request.user)
    keys.revoke_token(token)
    if request.htmx:
        context = {"token_form": TokenForm(), "tokens": _tokens(request), "new_key": None}
        return render(request, "accounts/settings.html#token-list", context)
    messages.success(request, _("The token is revoked."))
    return redirect("accounts:settings")


@login_required
@require_http_methods(["GET", "POST"])
def delete_account(request: HttpRequest) -> HttpResponse:
    form = DeleteAccountForm(request.POST or None, user=request.user)
    if request.method == "POST" and form.is_valid():
        people.delete_account(request.user)
        logout(request)
        messages.success(
            request, _("Your account is deleted. What you contributed stays, without your name.")
        )
        return redirect("home")
    return render(request, "accounts/delete.html", {"form": form})
