"""Chat pages: the list, a chat, its settings and feedback forms; the shared view."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from oasst.accounts.decorators import contributor_required
from oasst.chat import conversation, donation
from oasst.chat.conversation import VOTE_REASON_CHOICES, ChatError, ChatNotFound
from oasst.chat.models import Chat, ChatMessage, ReportReason
from oasst.inference.models import Model
from oasst.inference.specs import LIMITS, PRESETS

ADVANCED = (
    "temperature",
    "top_k",
    "top_p",
    "typical_p",
    "repetition_penalty",
    "max_new_tokens",
    "seed",
)


def _own_chat(request: HttpRequest, chat_id: int) -> Chat:
    try:
        return conversation.open_chat(chat_id, request.user)
    except ChatNotFound:
        raise Http404("no such chat") from None


def _own_message(request: HttpRequest, chat: Chat, message_id: int) -> ChatMessage:
    message = chat.messages.filter(pk=message_id).first()
    if message is None:
        raise Http404("no such message")
    return message


@require_GET
@contributor_required
def index(request: HttpRequest) -> HttpResponse:
    show_hidden = request.GET.get("hidden") == "1"
    chats = conversation.list_chats(request.user, include_hidden=show_hidden)
    return render(request, "chat/index.html", {"chats": chats, "show_hidden": show_hidden})


@require_POST
@contributor_required
def new_chat(request: HttpRequest) -> HttpResponse:
    chat = conversation.create_chat(request.user, model_name=request.POST.get("model") or None)
    return redirect("chat:detail", chat_id=chat.id)


@require_GET
@contributor_required
def detail(request: HttpRequest, chat_id: int) -> HttpResponse:
    chat = _own_chat(request, chat_id)
    view = conversation.chat_view(chat, user=request.user)
    return render(request, "chat/chat.html", _page_context(chat, view))


def _page_context(chat: Chat, view: conversation.ChatView) -> dict[str, Any]:
    return {
        "chat": view,
        "chat_row": chat,
        "models": Model.objects.enabled(),
        "presets": list(PRESETS),
        "advanced": [(name, chat.params.get(name, ""), LIMITS[name]) for name in ADVANCED],
        "vote_reasons": VOTE_REASON_CHOICES,
        "report_reasons": ReportReason.choices,
    }


@require_POST
@contributor_required
def update_settings(request: HttpRequest, chat_id: int) -> HttpResponse:
    chat = _own_chat(request, chat_id)
    params = {name: request.POST[name] for name in ADVANCED if request.POST.get(name, "") != ""}
    try:
        conversation.update_settings(
            chat,
            model_name=request.POST.get("model") or None,
            preset=request.POST.get("preset") or None,
            params=params,
            system_prompt=request.POST.get("system_prompt", ""),
            allow_data_use=request.POST.get("allow_data_use") == "on",
            title=request.POST.get("title") if "title" in request.POST else None,
        )
    except ChatError as exc:
        messages.error(request, str(exc))
        return redirect("chat:detail", chat_id=chat.id)
    messages.success(request, _("Settings saved."))
    return redirect("chat:detail", chat_id=chat.id)


@require_POST
@contributor_required
def share(request: HttpRequest, chat_id: int) -> HttpResponse:
    chat = _own_chat(request, chat_id)
    if request.POST.get("share") == "off":
        conversation.unshare_chat(chat)
        messages.success(request, _("The chat is no longer shared."))
    else:
        conversation.share_chat(chat)
        messages.success(request, _("Anyone with the link can now read this chat."))
    return redirect("chat:detail", chat_id=chat.id)


@require_POST
@contributor_required
def hide(request: HttpRequest, chat_id: int) -> HttpResponse:
    chat = _own_chat(request, chat_id)
    conversation.set_hidden(chat, hidden=request.POST.get("hidden") != "0")
    return redirect("chat:index")


@require_POST
@contributor_required
def delete(request: HttpRequest, chat_id: int) -> HttpResponse:
    conversation.delete_chat(_own_chat(request, chat_id))
    messages.success(request, _("Chat deleted."))
    return redirect("chat:index")


@require_POST
@contributor_required
def donate(request: HttpRequest, chat_id: int) -> HttpResponse:
    """Donate the chat to the dataset; htmx gets the donation fragment back."""
    chat = _own_chat(request, chat_id)
    status = 200
    try:
        result = donation.donate_chat(
            chat, user=request.user, consent=request.POST.get("consent") == "on"
        )
    except ChatError as exc:
        # 422: htmx swaps the fragment in, so the page says why.
        note, status = str(exc), 422
    else:
        note = (
            _("Thanks: your chat is now a conversation tree waiting for review.")
            if result.created
            else _("This chat was donated already.")
        )
        if result.left_out:
            note += " " + _("Some messages were left out to fit the tree's rules: %(what)s.") % {
                "what": ", ".join(f"{reason} ({n})" for reason, n in result.left_out.items())
            }
    if request.htmx:
        return render(
            request,
            "chat/_donation.html",
            {"chat_row": chat, "note": note, "error": status != 200},
            status=status,
        )
    (messages.error if status != 200 else messages.success)(request, note)
    return redirect("chat:detail", chat_id=chat.id)


@require_POST
@contributor_required
def feedback(request: HttpRequest, chat_id: int, message_id: int, kind: str) -> HttpResponse:
    """Votes, reports, better answers and draft picks: one form each, same flow."""
    chat = _own_chat(request, chat_id)
    message = _own_message(request, chat, message_id)
    status = 200
    try:
        if kind == "vote":
            conversation.vote(
                message,
                user=request.user,
                score=_int(request.POST.get("score")),
                reasons=request.POST.getlist("reasons"),
                text=request.POST.get("text", ""),
            )
            note = _("Thanks for your vote.")
        elif kind == "report":
            conversation.report(
                message,
                user=request.user,
                reason=request.POST.get("reason", ""),
                text=request.POST.get("text", ""),
            )
            note = _("Thanks; a moderator will look at it.")
        elif kind == "better":
            conversation.write_better_answer(
                message, user=request.user, text=request.POST.get("text")
            )
            note = _("Thanks; your answer is stored beside the model's.")
        elif kind == "pick":
            conversation.pick_draft(chat, user=request.user, message_id=message.id)
            note = _("Draft chosen.")
        else:
            raise Http404("unknown feedback")
    except ChatError as exc:
        # 422: htmx swaps the fragment in, so the page says why.
        note, status = str(exc), 422
    if request.htmx:
        return render(
            request, "chat/_note.html", {"note": note, "error": status != 200}, status=status
        )
    (messages.error if status != 200 else messages.success)(request, note)
    return redirect("chat:detail", chat_id=chat.id)


def _int(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


@require_GET
def shared(request: HttpRequest, token: str) -> HttpResponse:
    try:
        view = conversation.shared_chat_view(token)
    except ChatNotFound:
        raise Http404("no such shared chat") from None
    return render(request, "chat/shared.html", {"chat": view})
