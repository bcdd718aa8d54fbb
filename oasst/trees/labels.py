"""The text labels (§4.1) and which of them each task mode asks for (§4.2)."""

from __future__ import annotations

from dataclasses import dataclass

from oasst.trees.models import TaskType


@dataclass(frozen=True)
class LabelDescription:
    name: str
    widget: str
    display_text: str
    help_text: str = ""

    def as_dict(self) -> dict[str, str]:
        return {
            "name": self.name,
            "widget": self.widget,
            "display_text": self.display_text,
            "help_text": self.help_text,
        }


LABELS: dict[str, LabelDescription] = {
    label.name: label
    for label in [
        LabelDescription("spam", "yes_no", "Seems to be intentionally low-quality or irrelevant"),
        LabelDescription("fails_task", "yes_no", "Fails to follow the correct instruction / task"),
        LabelDescription(
            "lang_mismatch",
            "flag",
            "Wrong Language",
            "The message is written in a language that differs from the currently selected language.",
        ),
        LabelDescription("pii", "flag", "Contains personal identifiable information (PII)"),
        LabelDescription("not_appropriate", "flag", "Inappropriate"),
        LabelDescription(
            "hate_speech",
            "flag",
            "Content is abusive or threatening and expresses prejudice against a protected characteristic",
            "Prejudice refers to preconceived views not based on reason. Protected characteristics "
            "include gender, ethnicity, religion, sexual orientation, and similar characteristics.",
        ),
        LabelDescription("sexual_content", "flag", "Contains sexual content"),
        LabelDescription("moral_judgement", "flag", "Expresses moral judgement"),
        LabelDescription("political_content", "flag", "Expresses political views"),
        LabelDescription("quality", "likert", "Overall subjective quality rating of the message"),
        LabelDescription("toxicity", "likert", "Rude, abusive, profane or insulting content"),
        LabelDescription("humor", "likert", "Humorous content including sarcasm"),
        LabelDescription("helpfulness", "likert", "Helpfulness of the message"),
        LabelDescription("creativity", "likert", "Creativity"),
        LabelDescription("violence", "likert", "Violence/abuse/terrorism/self-harm"),
    ]
}

_PROMPT_FULL = [
    "spam", "lang_mismatch", "quality", "creativity", "humor", "toxicity", "violence",
    "not_appropriate", "pii", "hate_speech", "sexual_content",
]  # fmt: skip
_ASSISTANT_FULL = [
    "spam", "lang_mismatch", "fails_task", "quality", "helpfulness", "creativity", "humor",
    "toxicity", "violence", "not_appropriate", "pii", "hate_speech", "sexual_content",
]  # fmt: skip

FULL_LABELS: dict[str, list[str]] = {
    TaskType.LABEL_INITIAL_PROMPT: _PROMPT_FULL,
    TaskType.LABEL_PROMPTER_REPLY: _PROMPT_FULL,
    TaskType.LABEL_ASSISTANT_REPLY: _ASSISTANT_FULL,
}
SIMPLE_LABELS: dict[str, list[str]] = {
    TaskType.LABEL_INITIAL_PROMPT: ["spam", "lang_mismatch"],
    TaskType.LABEL_PROMPTER_REPLY: ["spam", "lang_mismatch", "quality"],
    TaskType.LABEL_ASSISTANT_REPLY: ["spam", "lang_mismatch", "quality"],
}
MANDATORY_LABELS = ["spam"]
REPORT_LABELS = [
    "spam", "not_appropriate", "pii", "hate_speech", "sexual_content", "moral_judgement",
    "political_content", "toxicity", "violence", "quality",
]  # fmt: skip
FREE_LABELS = [name for name in LABELS if name != "fails_task"]


def labels_for_role(role: str, *, is_root: bool) -> list[str]:
    """The labels free labeling offers for a message (the full task list of its kind)."""
    if is_root:
        return FULL_LABELS[TaskType.LABEL_INITIAL_PROMPT]
    if role == "assistant":
        return FULL_LABELS[TaskType.LABEL_ASSISTANT_REPLY]
    return FULL_LABELS[TaskType.LABEL_PROMPTER_REPLY]


def describe(names: list[str]) -> list[dict[str, str]]:
    return [LABELS[name].as_dict() for name in names]
