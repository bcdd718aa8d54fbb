"""Browsing messages and trees; reactions, reports, free labels, and editing one's own message."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from django.conf import settings
from django.contrib import messages as flash
from django.core.paginator import Paginator
from django.db.models import Q
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from oasst.lib.languages import CONTENT_LANGUAGES, language_name
from oasst.lib.markdown import render_markdown
from oasst.trees import submissions
from oasst.trees.errors import OasstError
from oasst.trees.labels import labels_for_role
from oasst.trees.models import Emoji, EmojiReaction, Message, Role, TextLabel
from oasst.web.access import may_moderate, volunteer_required
from oasst.web.editing import edit_deadline, edit_own_message, why_not_editable
from oasst.web.errors import explain_error
from oasst.web.kinds import LABEL_TEXTS, LIKERT_ENDS, LIKERT_VALUES
from oasst.web.search import search_messages

PER_PAGE = 25
# The reactions the page offers; the rest are stored and counted, as in OA's web UI.
SHOWN_EMOJIS = [
    (Emoji.PLUS_ONE, "👍"),
    (Emoji.MINUS_ONE, "👎"),
    (Emoji.RED_FLAG, "🚩"),
    (Emoji.HUNDRED, "💯"),
    (Emoji.HEART_EYES, "😍"),
    (Emoji.ROFL, "🤣"),
]
STATES = {
    "review": Q(review_result__isnull=True),
    "accepted": Q(review_result=True),
    "rejected": Q(review_result=False),
}


def find_message(request: HttpRequest, message_id: object) -> Message:
    message = Message.objects.select_related("tree", "user").filter(pk=message_id).first()
    if message is None or (message.deleted and not may_moderate(request)):
        raise Http404("no such message")
    return message


def review_status(message: Message) -> str:
    if message.deleted:
        return "deleted"
    if message.review_result is True:
        return "accepted"
    if message.review_result is False:
        return "rejected"
    return "review"


def decorate(messages: list[Message], *, user: Any) -> list[Message]:
    """Add what the pages show beside each message, in two queries for the whole list."""
    ids = [m.pk for m in messages]
    mine: dict[object, set[str]] = defaultdict(set)
    for message_id, emoji in EmojiReaction.objects.filter(
        user=user, message_id__in=ids
    ).values_list("message_id", "emoji"):
        mine[message_id].add(emoji)
    sums: dict[object, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for message_id, labels in TextLabel.objects.filter(
        message_id__in=ids, is_report=False
    ).values_list("message_id", "labels"):
        for name, value in (labels or {}).items():
            if isinstance(value, int | float):
                sums[message_id][name].append(float(value))
    for m in messages:
        m.html = render_markdown(m.text)
        m.status = review_status(m)
        m.reactions = [
            {
                "code": code,
                "icon": icon,
                "count": (m.emojis or {}).get(code, 0),
                "mine": code in mine[m.pk],
            }
            for code, icon in SHOWN_EMOJIS
        ]
        m.label_summary = [
            {
                "name": name,
                "text": LABEL_TEXTS[name][0] if name in LABEL_TEXTS else name,
                "mean": sum(values) / len(values),
                "count": len(values),
            }
            for name, values in sorted(sums[m.pk].items())
            if name in LABEL_TEXTS
        ]
    return messages


@require_GET
@volunteer_required
def message_list(request: HttpRequest) -> HttpResponse:
    """Messages with search and filters (language, role, author, review state)."""
    query = request.GET.get("q", "")[:200]
    lang = request.GET.get("lang", "")
    role = request.GET.get("role", "")
    author = request.GET.get("author", "")[:150]
    state = request.GET.get("state", "")
    rows = Message.objects.visible().select_related("user", "tree")
    if lang in CONTENT_LANGUAGES:
        rows = rows.filter(lang=lang)
    if role in Role.values:
        rows = rows.filter(role=role)
    if author == "me":
        rows = rows.filter(user=request.user)
    elif author:
        rows = rows.filter(Q(user__username=author) | Q(user__display_name=author))
    if state in STATES:
        rows = rows.filter(STATES[state])
    rows = search_messages(rows, query).order_by("-created_at", "-id")
    page = Paginator(rows, PER_PAGE).get_page(request.GET.get("page"))
    listed = decorate(list(page.object_list), user=request.user)
    params = request.GET.copy()
    params.pop("page", None)
    context = {
        "page": page,
        "listed": listed,
        "query": query,
        "filters": {"lang": lang, "role": role, "author": author, "state": state},
        "lang_options": [(code, language_name(code)) for code in CONTENT_LANGUAGES],
        "querystring": params.urlencode(),
    }
    if request.htmx and request.htmx.target == "message-results":
        return render(request, "web/messages.html#message-results", context)
    return render(request, "web/messages.html", context)


def tree_nodes(message: Message, request: HttpRequest) -> list[dict[str, Any]]:
    """The whole tree as a flat list in depth-first order with depths (one query + decorate)."""
    rows = Message.objects.filter(tree_id=message.tree_id).select_related("user")
    if not may_moderate(request):
        rows = rows.filter(deleted=False)
    rows = decorate(list(rows.order_by("depth", "rank", "created_at")), user=request.user)
    children: dict[object, list[Message]] = defaultdict(list)
    for row in rows:
        children[row.parent_id].append(row)
    ordered: list[dict[str, Any]] = []

    def walk(parent_id: object) -> None:
        for child in children.get(parent_id, []):
            ordered.append({"message": child, "children": bool(children.get(child.pk))})
            walk(child.pk)

    walk(None)
    return ordered


def conversation_path(nodes: list[dict[str, Any]], message: Message) -> list[Message]:
    by_id = {node["message"].pk: node["message"] for node in nodes}
    path = []
    current = by_id.get(message.pk)
    while current is not None:
        path.append(current)
        current = by_id.get(current.parent_id)
    return list(reversed(path))


@require_GET
@volunteer_required
def message_page(request: HttpRequest, message_id: object) -> HttpResponse:
    """A message with its conversation and its tree (nested, ranks, review status, labels)."""
    message = find_message(request, message_id)
    nodes = tree_nodes(message, request)
    reason = why_not_editable(message, user=request.user, tree_state=message.tree.state)
    context = {
        "message": message,
        "tree": message.tree,
        "nodes": nodes,
        "conversation": conversation_path(nodes, message),
        "may_edit": not reason,
        "edit_deadline": edit_deadline(message),
        "revisions": list(message.revisions.all()) if message.edited else [],
    }
    return render(request, "web/message.html", context)


@require_POST
@volunteer_required
def react(request: HttpRequest, message_id: object) -> HttpResponse:
    """Toggle one reaction (+1 and −1 exclude each other; none on one's own +1/−1)."""
    message = find_message(request, message_id)
    emoji = request.POST.get("emoji", "")
    try:
        updated = submissions.set_emoji(message, user=request.user, emoji=emoji, op="toggle")
    except OasstError as exc:
        # Plain text: the engine's message may quote what was posted.
        return HttpResponse(explain_error(exc), status=422, content_type="text/plain")
    updated = decorate([updated], user=request.user)[0]
    if request.htmx:
        return render(request, "web/_reactions.html", {"m": updated})
    return redirect("trees:message", message_id=message.pk)


@require_http_methods(["GET", "POST"])
@volunteer_required
def report(request: HttpRequest, message_id: object) -> HttpResponse:
    """Report a message to the moderators (a red flag plus the reason)."""
    message = find_message(request, message_id)
    error = ""
    if request.method == "POST":
        reason = request.POST.get("reason", "").strip()
        if not reason:
            error = _("Please say briefly what is wrong with this message.")
        elif len(reason) > 4096:
            error = _("Please keep the reason under 4096 characters.")
        else:
            submissions.submit_labels(
                user=request.user, message_id=message.pk, labels={}, text=reason, is_report=True
            )
            if request.htmx:
                return render(request, "web/report.html#report-done", {"message": message})
            flash.success(request, _("Thank you. The moderators will look at your report."))
            return redirect("trees:message", message_id=message.pk)
    context = {"message": message, "error": error, "reason": request.POST.get("reason", "")}
    status = 422 if error else 200
    if request.htmx:
        return render(request, "web/report.html#report-form", context, status=status)
    return render(request, "web/report.html", context, status=status)


@require_http_methods(["GET", "POST"])
@volunteer_required
def free_label(request: HttpRequest, message_id: object) -> HttpResponse:
    """Label any message (free labelling: a later answer replaces the earlier one)."""
    message = find_message(request, message_id)
    names = labels_for_role(message.role, is_root=message.is_root)
    earlier = TextLabel.objects.filter(
        message=message, user=request.user, task__isnull=True, is_report=False
    ).first()
    values = {name: str(v) for name, v in (earlier.labels if earlier else {}).items()}
    error = ""
    if request.method == "POST":
        labels: dict[str, float] = {}
        for name in names:
            raw = request.POST.get(name, "")
            if raw == "":
                continue
            try:
                value = float(raw)
            except ValueError:
                value = -1.0
            if not 0 <= value <= 1:
                error = _("The answer for “%(label)s” is not valid.") % {"label": name}
                break
            labels[name] = value
        if not error:
            if not labels:
                error = _("Answer at least one question.")
            else:
                submissions.submit_labels(user=request.user, message_id=message.pk, labels=labels)
                flash.success(request, _("Your labels are saved."))
                return redirect("trees:message", message_id=message.pk)
        values = {name: request.POST.get(name, "") for name in names}
    fields = []
    for name in names:
        text, help_text = LABEL_TEXTS[name]
        widget = (
            "likert"
            if name in LIKERT_ENDS
            else ("flag" if name not in ("spam", "fails_task") else "yes_no")
        )
        low, high = LIKERT_ENDS.get(name, ("", ""))
        fields.append(
            {
                "name": name,
                "widget": widget,
                "text": text,
                "help": help_text,
                "value": _norm(values.get(name, "")),
                "low": low,
                "high": high,
                "mandatory": False,
            }
        )
    context = {
        "message": message,
        "fields": fields,
        "error": error,
        "likert_values": LIKERT_VALUES,
    }
    return render(request, "web/label.html", context, status=422 if error else 200)


def _norm(value: str) -> str:
    """1.0 → "1", 0.25 → "0.25": the form's option values."""
    try:
        number = float(value)
    except ValueError:
        return ""
    return f"{number:g}"


@require_http_methods(["GET", "POST"])
@volunteer_required
def edit_message(request: HttpRequest, message_id: object) -> HttpResponse:
    """Edit one's own message inside the edit window; it goes back to review."""
    message = find_message(request, message_id)
    if message.user_id != request.user.pk:
        raise Http404("not your message")
    reason = why_not_editable(message, user=request.user, tree_state=message.tree.state)
    error = ""
    text = message.text
    if request.method == "POST" and not reason:
        text = request.POST.get("text", "")
        try:
            edit_own_message(message, user=request.user, text=text)
        except OasstError as exc:
            error = explain_error(exc)
        else:
            flash.success(request, _("Your message is changed and goes back to review."))
            return redirect("trees:message", message_id=message.pk)
    context = {
        "message": message,
        "reason": reason,
        "error": error,
        "text": text,
        "deadline": edit_deadline(message),
        "max_length": settings.OASST_MESSAGE_SIZE_LIMIT,
    }
    status = 422 if error else (403 if reason and request.method == "POST" else 200)
    return render(request, "web/edit.html", context, status=status)


@require_GET
@volunteer_required
def contributions(request: HttpRequest) -> HttpResponse:
    """The person's own messages with their review status, rank and tree state."""
    rows = (
        Message.objects.filter(user=request.user, deleted=False)
        .select_related("tree")
        .order_by("-created_at", "-id")
    )
    page = Paginator(rows, PER_PAGE).get_page(request.GET.get("page"))
    listed = list(page.object_list)
    for m in listed:
        m.status = review_status(m)
        m.editable = not why_not_editable(m, user=request.user, tree_state=m.tree.state)
    return render(request, "web/contributions.html", {"page": page, "listed": listed})
