"""Profiles, guidelines and the task language."""

from __future__ import annotations

from django.contrib import messages
from django.db.models import Count, Q
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from oasst.accounts import people
from oasst.accounts.models import User
from oasst.lib.languages import CONTENT_LANGUAGES, is_valid_language, language_name
from oasst.trees.labels import LABELS
from oasst.trees.models import Message, Ranking, Role, TextLabel
from oasst.web.access import volunteer_required
from oasst.web.kinds import KINDS, LABEL_TEXTS


def contribution_stats(user: User) -> dict[str, int]:
    """What a person contributed, in three aggregate queries."""
    written = Message.objects.filter(user=user, deleted=False).aggregate(
        prompts=Count("id", filter=Q(parent__isnull=True)),
        accepted_prompts=Count("id", filter=Q(parent__isnull=True, review_result=True)),
        assistant=Count("id", filter=Q(role=Role.ASSISTANT)),
        accepted_assistant=Count("id", filter=Q(role=Role.ASSISTANT, review_result=True)),
        prompter=Count("id", filter=Q(role=Role.PROMPTER, parent__isnull=False)),
        ranked_first=Count("id", filter=Q(rank=0)),
    )
    labels = TextLabel.objects.filter(user=user, is_report=False).aggregate(
        reviews=Count("id", filter=Q(task__isnull=False)),
        free_labels=Count("id", filter=Q(task__isnull=True)),
    )
    return {**written, **labels, "rankings": Ranking.objects.filter(user=user).count()}


@require_GET
@volunteer_required
def profile(request: HttpRequest, user_id: int | None = None) -> HttpResponse:
    """A person's public profile: name, languages and what they contributed."""
    person = request.user if user_id is None else User.objects.filter(pk=user_id).first()
    if person is None or person.is_deleted or person.api_client_id is not None:
        raise Http404("no such person")
    context = {
        "person": person,
        "is_me": person.pk == request.user.pk,
        "lang_options": [(code, language_name(code)) for code in person.languages],
        "stats": contribution_stats(person),
    }
    return render(request, "web/profile.html", context)


@require_GET
def guidelines(request: HttpRequest) -> HttpResponse:
    """How to do each task type well, and what every label means (open to everyone)."""
    labels = [
        {
            "name": name,
            "text": LABEL_TEXTS[name][0],
            "help": LABEL_TEXTS[name][1],
            "widget": LABELS[name].widget,
        }
        for name in LABELS
    ]
    return render(request, "web/guidelines.html", {"kinds": KINDS.values(), "labels": labels})


@require_POST
@volunteer_required
def set_task_language(request: HttpRequest) -> HttpResponse:
    """Make one language the task language (first in the list); it is added if it was not there."""
    code = request.POST.get("language", "")
    if not is_valid_language(code):
        messages.error(request, _("Unknown language."))
    else:
        people.set_languages(request.user, [code, *request.user.languages])
        messages.success(
            request, _("Your tasks are now in %(language)s.") % {"language": language_name(code)}
        )
    target = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        target = ""
    return redirect(target or "trees:dashboard")


def language_options(user: User) -> list[tuple[str, str, bool]]:
    """(code, name, is one of the person's) for the picker, the person's languages first."""
    own = list(user.languages)
    rest = [code for code in CONTENT_LANGUAGES if code not in own]
    return [(code, language_name(code), code in own) for code in own + rest]
