"""The dashboard and the task pages: every task type, through the same functions as the API."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import push_url

from oasst.accounts.models import User
from oasst.lib.markdown import render_markdown
from oasst.lib.ratelimit import hit
from oasst.trees import selection, submissions, tasks
from oasst.trees.errors import ErrorCode, OasstError
from oasst.trees.models import LABEL_TASKS, RANKING_TASKS, REPLY_TASKS, Task, TaskType
from oasst.web import drafts
from oasst.web.access import volunteer_required
from oasst.web.errors import explain_error
from oasst.web.kinds import (
    KINDS,
    LABEL_TEXTS,
    LIKERT_ENDS,
    LIKERT_VALUES,
    RANK,
    WRITE,
    dashboard_types,
    explain_none,
)
from oasst.web.language_hint import other_language
from oasst.web.similar import find_similar_prompts

TASK_PAGE = "web/task.html"
REQUESTABLE = {selection.RANDOM, *TaskType.values}
WORD_GOALS = (20, 40, 50)


# --- Getting tasks ---------------------------------------------------------------------


def check_task_rate(user: User, requested: str) -> None:
    """The API's per-person task limits (§3.9), on the same counters, so both share one budget."""
    if not settings.OASST_RATE_LIMIT:
        return
    ident = f"self:{user.auth_method}:{user.pk}"
    limits = [
        (
            f"task-user:{ident}",
            settings.OASST_RATE_LIMIT_TASK_USER_TIMES,
            settings.OASST_RATE_LIMIT_TASK_USER_MINUTES,
        )
    ]
    if requested == TaskType.ASSISTANT_REPLY:
        limits.append(
            (
                f"assistant-user:{ident}",
                settings.OASST_RATE_LIMIT_ASSISTANT_USER_TIMES,
                settings.OASST_RATE_LIMIT_ASSISTANT_USER_MINUTES,
            )
        )
    elif requested == TaskType.PROMPTER_REPLY:
        limits.append(
            (
                f"prompter-user:{ident}",
                settings.OASST_RATE_LIMIT_PROMPTER_USER_TIMES,
                settings.OASST_RATE_LIMIT_PROMPTER_USER_MINUTES,
            )
        )
    for key, times, minutes in limits:
        retry_after = hit(key, times=times, seconds=minutes * 60)
        if retry_after:
            raise OasstError(
                ErrorCode.TOO_MANY_REQUESTS,
                _("Slow down a little: try again in %(seconds)s seconds.")
                % {"seconds": retry_after},
                http_status=429,
            )


def open_task_of(user: User, requested: str) -> Task | None:
    """The person's unfinished web task of this kind, so a reload never hands out a second one."""
    open_tasks = Task.objects.open().filter(user=user, api_client__isnull=True, ack=True)
    if requested != selection.RANDOM:
        open_tasks = open_tasks.filter(type=requested)
    for task in open_tasks.order_by("-created_at")[:5]:
        if not task.is_expired:
            return task
    return None


def start_task(user: User, requested: str) -> Task:
    """A task of the requested kind, acknowledged for the web page; raises OasstError if none."""
    task = open_task_of(user, requested)
    if task is not None:
        return task
    check_task_rate(user, requested)
    task = tasks.request_task(user, lang=user.task_language, requested=requested)
    return tasks.ack_task(task, frontend_message_id=f"web-{task.pk}")


def find_own_task(request: HttpRequest, task_id: object) -> Task | None:
    return Task.objects.filter(pk=task_id, user=request.user, api_client__isnull=True).first()


# --- What a task card shows ----------------------------------------------------------


def conversation_of(task: Task) -> list[dict[str, Any]]:
    rows = task.payload.get("conversation", {}).get("messages", [])
    return [{**row, "html": render_markdown(row["text"])} for row in rows]


def label_fields(task: Task, posted: dict[str, str] | None = None) -> list[dict[str, Any]]:
    mandatory = set(task.payload.get("mandatory_labels", []))
    fields = []
    for described in task.payload.get("labels", []):
        name = described["name"]
        text, help_text = LABEL_TEXTS.get(name, (described["display_text"], described["help_text"]))
        low, high = LIKERT_ENDS.get(name, (_("not at all"), _("very much")))
        fields.append(
            {
                "name": name,
                "widget": described["widget"],
                "text": text,
                "help": help_text,
                "mandatory": name in mandatory,
                "value": (posted or {}).get(name, ""),
                "low": low,
                "high": high,
            }
        )
    # Yes/no questions first, then flags, then scales, as OA's page grouped them.
    order = {"yes_no": 0, "flag": 1, "likert": 2}
    return sorted(fields, key=lambda field: order.get(field["widget"], 3))


def rank_items(task: Task, order: list[int] | None = None) -> list[dict[str, Any]]:
    replies = task.payload.get("reply_messages", [])
    positions = order if order and sorted(order) == list(range(len(replies))) else None
    positions = positions or list(range(len(replies)))
    return [
        {
            "position": position,
            "html": render_markdown(replies[position]["text"]),
            "synthetic": replies[position].get("synthetic"),
        }
        for position in positions
    ]


def task_context(
    request: HttpRequest,
    task: Task | None,
    *,
    requested: str,
    error: str = "",
    text: str | None = None,
    posted_labels: dict[str, str] | None = None,
    order: list[int] | None = None,
    unavailable: str = "",
) -> dict[str, Any]:
    context: dict[str, Any] = {
        "task": task,
        "requested": requested,
        "error": error,
        "unavailable": unavailable,
        "word_goals": WORD_GOALS,
        "likert_values": LIKERT_VALUES,
    }
    if task is None:
        return context
    kind = KINDS[task.type]
    context.update(kind=kind, family=kind.family, conversation=conversation_of(task))
    if kind.family == WRITE:
        draft = drafts.find_draft(user=request.user, task_type=task.type)
        context["earlier_draft"] = None
        if text is None and draft is not None:
            if draft.task_id == task.pk:
                text = draft.text
                context["draft_restored"] = True
            else:
                context["earlier_draft"] = draft
        context["text"] = text or ""
        context["max_length"] = settings.OASST_MESSAGE_SIZE_LIMIT
    elif kind.family == RANK:
        context["items"] = rank_items(task, order)
        context["reveal_synthetic"] = task.payload.get("reveal_synthetic", False)
    else:
        context["fields"] = label_fields(task, posted_labels)
        context["labelled_message_id"] = task.payload.get("message_id")
        context["mode"] = task.payload.get("mode", "full")
    return context


def render_task(
    request: HttpRequest, context: dict[str, Any], *, status: int = 200, slide: bool = False
) -> HttpResponse:
    """The task page, or for htmx its card (pushing the task's own address when it changed)."""
    context["slide"] = slide
    task = context.get("task")
    if request.htmx:
        response = render(request, f"{TASK_PAGE}#task-card", context, status=status)
        if task is not None and slide:
            response = push_url(response, reverse("trees:task", args=[task.pk]))
        return response
    return render(request, TASK_PAGE, context, status=status)


# --- Pages ---------------------------------------------------------------------------


@require_GET
@volunteer_required
def dashboard(request: HttpRequest) -> HttpResponse:
    """Start a random task, or pick a type: counts in the person's language and why there are none."""
    user = request.user
    lang = user.task_language
    counts = tasks.available_tasks(user, lang=lang)
    reasons = explain_none(counts, user=user, lang=lang)
    cards = [
        {"kind": KINDS[t], "count": counts.get(t, 0), "reason": reasons.get(t, "")}
        for t in dashboard_types()
    ]
    unfinished = [
        task
        for task in Task.objects.open()
        .filter(user=user, api_client__isnull=True, ack=True)
        .order_by("-created_at")[:10]
        if not task.is_expired
    ]
    saved_drafts = list(user.task_drafts.order_by("-updated_at")[:10])
    for draft in saved_drafts:
        draft.kind = KINDS.get(draft.task_type)
    alternatives = [card for card in cards if card["count"] > 0]
    return render(
        request,
        "web/dashboard.html",
        {
            "cards": cards,
            "total": counts.get(selection.RANDOM, 0),
            "alternatives": alternatives,
            "unfinished": [(task, KINDS[task.type]) for task in unfinished],
            "saved_drafts": saved_drafts,
            "task_language": lang,
        },
    )


@require_GET
@volunteer_required
def random_task(request: HttpRequest) -> HttpResponse:
    return _start(request, selection.RANDOM)


@require_GET
@volunteer_required
def new_task(request: HttpRequest, task_type: str) -> HttpResponse:
    if task_type not in REQUESTABLE:
        raise Http404("no such task type")
    return _start(request, task_type)


def _start(request: HttpRequest, requested: str) -> HttpResponse:
    try:
        task = start_task(request.user, requested)
    except OasstError as exc:
        status = 429 if exc.http_status == 429 else 200
        return render_task(
            request,
            task_context(request, None, requested=requested, unavailable=explain_error(exc)),
            status=status,
        )
    if request.htmx:
        context = task_context(request, task, requested=requested)
        return render_task(request, context, slide=True)
    url = reverse("trees:task", args=[task.pk])
    if requested != selection.RANDOM:
        url += f"?next={requested}"
    return redirect(url)


@require_GET
@volunteer_required
def task_page(request: HttpRequest, task_id: object) -> HttpResponse:
    """One task. A task that is gone or over sends the person on to a fresh one of its kind."""
    requested = request.GET.get("next", selection.RANDOM)
    if requested not in REQUESTABLE:
        requested = selection.RANDOM
    task = find_own_task(request, task_id)
    if task is None:
        draft = drafts.find_draft_of_task(user=request.user, task_id=task_id)
        if draft is None:
            raise Http404("no such task")
        messages.info(
            request, _("That task is gone. Your draft is waiting in a fresh task of the same kind.")
        )
        return redirect("trees:new-task", task_type=draft.task_type)
    if task.done:
        messages.info(request, _("You already finished that task."))
        return redirect("trees:dashboard")
    if task.skipped or task.is_expired:
        messages.info(
            request,
            _(
                "That task expired. Here is a fresh one of the same kind; any draft you had is offered in it."
            ),
        )
        return redirect("trees:new-task", task_type=task.type)
    return render_task(request, task_context(request, task, requested=requested))


@require_POST
@volunteer_required
def submit_task(request: HttpRequest, task_id: object) -> HttpResponse:
    """Store the work for a task, then slide in the next one (or say why there is none)."""
    task = find_own_task(request, task_id)
    if task is None:
        raise Http404("no such task")
    requested = request.POST.get("next", selection.RANDOM)
    if requested not in REQUESTABLE:
        requested = selection.RANDOM
    user = request.user
    family = KINDS[task.type].family
    text = request.POST.get("text", "")
    order: list[int] = []
    posted: dict[str, str] = {}
    try:
        if task.type in REPLY_TASKS:
            submissions.submit_reply(task, user=user, text=text)
            drafts.discard_draft(user=user, task_type=task.type)
        elif task.type in RANKING_TASKS:
            order = parse_order(request.POST.getlist("order"))
            submissions.submit_ranking(
                task,
                user=user,
                ranking=order,
                not_rankable=request.POST.get("not_rankable") == "on",
            )
        elif task.type in LABEL_TASKS:
            posted = {name: request.POST.get(name, "") for name in task.payload["valid_labels"]}
            labels = parse_labels(task, posted)
            submissions.submit_labels(
                user=user, message_id=task.parent_message_id, labels=labels, task=task
            )
    except OasstError as exc:
        context = task_context(
            request,
            task,
            requested=requested,
            error=explain_error(exc),
            text=text if family == WRITE else None,
            posted_labels=posted,
            order=order,
        )
        return render_task(request, context, status=422)
    return next_task(
        request, requested, thanks=_("Thank you! Your work is saved."), cleared=task.type
    )


def next_task(request: HttpRequest, requested: str, *, thanks: str, cleared: str) -> HttpResponse:
    """After a submit or skip: the next task of the same kind slides in (htmx), or a redirect."""
    if not request.htmx:
        messages.success(request, thanks)
        if requested == selection.RANDOM:
            return redirect("trees:random-task")
        return redirect("trees:new-task", task_type=requested)
    try:
        task = start_task(request.user, requested)
    except OasstError as exc:
        context = task_context(request, None, requested=requested, unavailable=explain_error(exc))
        context.update(thanks=thanks, cleared=cleared)
        return render_task(request, context)
    context = task_context(request, task, requested=requested)
    context.update(thanks=thanks, cleared=cleared)
    return render_task(request, context, slide=True)


def parse_order(values: list[str]) -> list[int]:
    try:
        return [int(value) for value in values]
    except ValueError:
        raise OasstError(
            ErrorCode.INVALID_RANKING_VALUE, _("The order sent is not valid.")
        ) from None


def parse_labels(task: Task, posted: dict[str, str]) -> dict[str, float]:
    """Form values → label values; every mandatory label must be answered (checked here, first)."""
    widgets = {item["name"]: item["widget"] for item in task.payload.get("labels", [])}
    labels: dict[str, float] = {}
    for name, raw in posted.items():
        widget = widgets.get(name)
        if widget == "flag":
            labels[name] = 1.0 if raw in ("1", "on") else 0.0
        elif raw == "":
            continue
        elif raw in {"yes_no": ("0", "1"), "likert": LIKERT_VALUES}.get(widget or "", ()):
            labels[name] = float(raw)
        else:
            raise OasstError(
                ErrorCode.GENERIC_ERROR,
                _("The answer for “%(label)s” is not valid.") % {"label": name},
            )
    missing = [name for name in task.payload.get("mandatory_labels", []) if name not in labels]
    if missing:
        names = ", ".join(
            str(LABEL_TEXTS[name][0]) if name in LABEL_TEXTS else name for name in missing
        )
        raise OasstError(
            ErrorCode.TEXT_LABELS_MANDATORY_LABEL_MISSING,
            _("Please answer: %(labels)s") % {"labels": names},
        )
    return labels


@require_POST
@volunteer_required
def skip_task(request: HttpRequest, task_id: object) -> HttpResponse:
    """Skip (nack) with an optional reason; the person is not offered that message again."""
    task = find_own_task(request, task_id)
    if task is None:
        raise Http404("no such task")
    requested = request.POST.get("next", selection.RANDOM)
    if requested not in REQUESTABLE:
        requested = selection.RANDOM
    try:
        tasks.nack_task(task, user=request.user, reason=request.POST.get("reason", "").strip())
    except OasstError as exc:
        context = task_context(request, task, requested=requested, error=explain_error(exc))
        return render_task(request, context, status=422)
    drafts.discard_draft(user=request.user, task_type=task.type)
    return next_task(
        request, requested, thanks=_("Skipped. Here is another task."), cleared=task.type
    )


@require_POST
@volunteer_required
def save_draft(request: HttpRequest, task_id: object) -> HttpResponse:
    """Keep what is typed (called as you type); answers with a short status line."""
    task = find_own_task(request, task_id)
    if task is None or task.type not in REPLY_TASKS:
        raise Http404("no such task")
    try:
        draft = drafts.save_draft(task, user=request.user, text=request.POST.get("text", ""))
    except OasstError as exc:
        return render(request, "web/_draft_status.html", {"error": exc.message}, status=422)
    return render(request, "web/_draft_status.html", {"draft": draft})


@require_POST
@volunteer_required
def discard_draft(request: HttpRequest, task_type: str) -> HttpResponse:
    drafts.discard_draft(user=request.user, task_type=task_type)
    if request.htmx:
        return HttpResponse("")
    messages.success(request, _("The draft is discarded."))
    return redirect("trees:dashboard")


@require_POST
@volunteer_required
def preview(request: HttpRequest) -> HttpResponse:
    """The review step of a writing task: rendered text, length, language and similar prompts."""
    text = request.POST.get("text", "")
    task_type = request.POST.get("task_type", "")
    lang = request.user.task_language
    words = len(text.split())
    similar = []
    if task_type == TaskType.INITIAL_PROMPT and words >= 3:
        similar = find_similar_prompts(text, lang=lang)
    context = {
        "html": render_markdown(text),
        "empty": not text.strip(),
        "words": words,
        "word_goals": WORD_GOALS,
        "too_long": len(text.strip()) > settings.OASST_MESSAGE_SIZE_LIMIT,
        "max_length": settings.OASST_MESSAGE_SIZE_LIMIT,
        "other_language": other_language(text, expected=lang),
        "task_language": lang,
        "similar": similar,
        "review": request.POST.get("step") == "review",
    }
    return render(request, "web/_preview.html", context)
