"""The task types as the volunteer pages present them: titles, families, guidelines, and why none."""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.db.models import Count
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from oasst.accounts.models import User
from oasst.trees.models import Message, MessageTree, TaskType, TreeState

WRITE, RANK, LABEL = "write", "rank", "label"


@dataclass(frozen=True)
class TaskKind:
    type: str
    family: str
    title: Promise
    summary: Promise
    guideline: Promise


KINDS: dict[str, TaskKind] = {
    kind.type: kind
    for kind in [
        TaskKind(
            TaskType.INITIAL_PROMPT,
            WRITE,
            _("Write a prompt"),
            _("Start a new conversation with a question or request a person would really ask."),
            _(
                "Write as a person who wants help: a question, a task, a request for advice. "
                "Be specific, give the context the assistant needs, and vary topics and styles. "
                "Do not include personal data about real people."
            ),
        ),
        TaskKind(
            TaskType.ASSISTANT_REPLY,
            WRITE,
            _("Reply as the assistant"),
            _("Write the best answer an assistant could give to the conversation so far."),
            _(
                "Answer as a helpful, honest and harmless assistant: correct, complete but to the "
                "point, polite, and in the language of the conversation. Use markdown for lists "
                "and code. If you do not know, say so; refuse clearly harmful requests and explain why."
            ),
        ),
        TaskKind(
            TaskType.PROMPTER_REPLY,
            WRITE,
            _("Reply as the user"),
            _(
                "Continue the conversation as the person who asked: a follow-up, a correction, thanks."
            ),
            _(
                "Continue naturally as the person talking to the assistant: ask a follow-up, "
                "point out a mistake, or ask for more detail. Stay on the topic of the conversation."
            ),
        ),
        TaskKind(
            TaskType.RANK_ASSISTANT_REPLIES,
            RANK,
            _("Rank assistant replies"),
            _("Put the assistant's replies in order, best first."),
            _(
                "Order the replies from best to worst: correct and helpful first, then clear and "
                "well written. Put harmful, wrong or off-topic replies last. If none is acceptable, "
                "tick “None of these replies are acceptable” and still give your best order."
            ),
        ),
        TaskKind(
            TaskType.RANK_PROMPTER_REPLIES,
            RANK,
            _("Rank user replies"),
            _("Put the user's follow-ups in order, most natural and useful first."),
            _(
                "Order the follow-ups by how natural, relevant and interesting they are, best first."
            ),
        ),
        TaskKind(
            TaskType.LABEL_INITIAL_PROMPT,
            LABEL,
            _("Label a prompt"),
            _("Review a new prompt: is it spam, in the right language, how good is it?"),
            _(
                "Answer the spam question for every message: spam means deliberately low-quality, "
                "irrelevant or not a real request. Flag only what applies. Rate the scales from "
                "left (not at all) to right (very much)."
            ),
        ),
        TaskKind(
            TaskType.LABEL_ASSISTANT_REPLY,
            LABEL,
            _("Label an assistant reply"),
            _("Review an assistant reply for quality, helpfulness and problems."),
            _(
                "Judge the reply in the context of the conversation above it: does it follow the "
                "request, is it correct and helpful? Flag what applies and rate the scales."
            ),
        ),
        TaskKind(
            TaskType.LABEL_PROMPTER_REPLY,
            LABEL,
            _("Label a user reply"),
            _("Review a user's follow-up for quality and problems."),
            _(
                "Judge whether the follow-up fits the conversation and is a real request, then flag "
                "what applies and rate the scales."
            ),
        ),
    ]
}

# The order of the dashboard cards.
DASHBOARD_TYPES = [
    TaskType.INITIAL_PROMPT,
    TaskType.ASSISTANT_REPLY,
    TaskType.PROMPTER_REPLY,
    TaskType.RANK_ASSISTANT_REPLIES,
    TaskType.RANK_PROMPTER_REPLIES,
    TaskType.LABEL_INITIAL_PROMPT,
    TaskType.LABEL_ASSISTANT_REPLY,
    TaskType.LABEL_PROMPTER_REPLY,
]


def dashboard_types() -> list[str]:
    """The task types offered on the dashboard: ranking user replies only where it is on."""
    if settings.OASST_RANK_PROMPTER_REPLIES:
        return list(DASHBOARD_TYPES)
    return [t for t in DASHBOARD_TYPES if t != TaskType.RANK_PROMPTER_REPLIES]


# Translated label texts for the pages; the API keeps Open-Assistant's English ones.
LABEL_TEXTS: dict[str, tuple[Promise, Promise]] = {
    "spam": (
        _("Is it spam: intentionally low-quality or irrelevant?"),
        _(
            "Spam is a message that is not a genuine contribution: nonsense, ads, copy-paste junk, or text unrelated to the conversation."
        ),
    ),
    "fails_task": (
        _("Does it fail to follow the instruction or task?"),
        _(
            "Answer yes when the reply ignores or misunderstands what was asked, even if it is well written."
        ),
    ),
    "lang_mismatch": (
        _("Wrong language"),
        _(
            "The message is written in a language that differs from the currently selected language."
        ),
    ),
    "pii": (
        _("Contains personally identifiable information (PII)"),
        _(
            "Names with addresses, phone numbers, e-mail addresses or other data that identify a real private person."
        ),
    ),
    "not_appropriate": (
        _("Inappropriate"),
        _("Content that is unsuitable for a helpful, respectful assistant dataset."),
    ),
    "hate_speech": (
        _("Abusive or threatening, expresses prejudice against a protected characteristic"),
        _(
            "Prejudice refers to preconceived views not based on reason. Protected characteristics include gender, ethnicity, religion, sexual orientation, and similar characteristics."
        ),
    ),
    "sexual_content": (_("Contains sexual content"), _("Explicit or suggestive sexual material.")),
    "moral_judgement": (
        _("Expresses moral judgement"),
        _("The text judges people or actions as good or bad."),
    ),
    "political_content": (
        _("Expresses political views"),
        _("The text takes a side on political questions."),
    ),
    "quality": (_("Quality"), _("Overall subjective quality rating of the message.")),
    "toxicity": (_("Rudeness"), _("Rude, abusive, profane or insulting content.")),
    "humor": (_("Humour"), _("Humorous content including sarcasm.")),
    "helpfulness": (
        _("Helpfulness"),
        _("How much the reply helps the person with what they asked."),
    ),
    "creativity": (
        _("Creativity"),
        _("How original and unexpected the message is, beyond the obvious."),
    ),
    "violence": (_("Violence"), _("Violence, abuse, terrorism or self-harm.")),
}
LIKERT_VALUES = ("0", "0.25", "0.5", "0.75", "1")
LIKERT_ENDS: dict[str, tuple[Promise, Promise]] = {
    "quality": (_("low"), _("high")),
    "helpfulness": (_("unhelpful"), _("helpful")),
    "creativity": (_("ordinary"), _("creative")),
    "humor": (_("serious"), _("funny")),
    "toxicity": (_("polite"), _("rude")),
    "violence": (_("harmless"), _("violent")),
}


def explain_none(counts: dict[str, int], *, user: User, lang: str) -> dict[str, Promise | str]:
    """Why each task type with no tasks has none, in words (OA #1586). Two queries."""
    states = dict(
        MessageTree.objects.filter(lang=lang)
        .values("state")
        .annotate(n=Count("id"))
        .values_list("state", "n")
    )
    mine_in_review = Message.objects.filter(
        user=user, parent__isnull=True, tree__state=TreeState.INITIAL_PROMPT_REVIEW
    ).count()
    growing = states.get(TreeState.GROWING, 0)
    in_review = states.get(TreeState.INITIAL_PROMPT_REVIEW, 0)
    waiting = states.get(TreeState.PROMPT_LOTTERY_WAITING, 0)
    ranking = states.get(TreeState.RANKING, 0)
    reasons: dict[str, Promise | str] = {}
    for task_type in dashboard_types():
        if counts.get(task_type, 0) > 0:
            continue
        if task_type == TaskType.INITIAL_PROMPT:
            if lang in settings.OASST_INIT_PROMPT_DISABLED_LANGS:
                reasons[task_type] = _("New prompts are paused in this language.")
            else:
                reasons[task_type] = _(
                    "Enough prompts are waiting for review and for their turn to grow "
                    "(%(review)s in review, %(waiting)s waiting). Review them instead!"
                ) % {"review": in_review, "waiting": waiting}
        elif task_type in (TaskType.ASSISTANT_REPLY, TaskType.PROMPTER_REPLY):
            if growing == 0:
                reasons[task_type] = _(
                    "No conversation is growing in this language yet: new prompts need reviews "
                    "by other volunteers first (%(review)s waiting for review)."
                ) % {"review": in_review}
            else:
                reasons[task_type] = _(
                    "Every growing conversation has its replies, is being answered by someone "
                    "right now, or already has yours. Replies in review need labels first."
                )
        elif task_type == TaskType.LABEL_INITIAL_PROMPT:
            if mine_in_review:
                reasons[task_type] = _(
                    "The only prompts awaiting review are yours (%(mine)s); others must review them."
                ) % {"mine": mine_in_review}
            else:
                reasons[task_type] = _("No prompt by someone else is waiting for your review.")
        elif task_type in (TaskType.RANK_ASSISTANT_REPLIES, TaskType.RANK_PROMPTER_REPLIES):
            reasons[task_type] = (
                _("No conversation is being ranked in this language right now.")
                if ranking == 0
                else _("You have ranked, or written in, every conversation waiting for ranking.")
            )
        else:
            reasons[task_type] = _(
                "No reply by someone else is waiting for your review in this language."
            )
    return reasons
