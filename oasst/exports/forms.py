from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from oasst.exports.filters import EXCLUDE, INCLUDE, ONLY
from oasst.exports.models import ExportFormat, ExportShape
from oasst.trees.models import TreeState

INCLUSION_CHOICES = [(EXCLUDE, _("leave out")), (INCLUDE, _("include")), (ONLY, _("only these"))]


class ExportForm(forms.Form):
    """The export page's choices; ``filters()`` gives the dict ``create_export`` takes."""

    format = forms.ChoiceField(label=_("Format"), choices=ExportFormat.choices)
    shape = forms.ChoiceField(label=_("Shape"), choices=ExportShape.choices)
    gzip = forms.BooleanField(label=_("Compress with gzip (JSONL)"), required=False, initial=True)
    states = forms.MultipleChoiceField(
        label=_("Tree states"),
        choices=[("all", _("all states")), *TreeState.choices],
        initial=[TreeState.READY_FOR_EXPORT],
        widget=forms.SelectMultiple(attrs={"size": 6}),
    )
    langs = forms.CharField(
        label=_("Languages"), required=False, help_text=_("Codes, comma-separated; empty for all.")
    )
    since = forms.DateField(
        label=_("Created from"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    until = forms.DateField(
        label=_("Created until"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    deleted = forms.ChoiceField(label=_("Deleted messages"), choices=INCLUSION_CHOICES)
    spam = forms.ChoiceField(label=_("Rejected (spam) messages"), choices=INCLUSION_CHOICES)
    synthetic = forms.ChoiceField(label=_("Synthetic messages"), choices=INCLUSION_CHOICES)
    prompts_only = forms.BooleanField(label=_("Prompts only"), required=False)
    user_id = forms.IntegerField(label=_("Only this user's messages (user id)"), required=False)
    limit = forms.IntegerField(label=_("At most this many trees"), required=False, min_value=1)
    labels = forms.BooleanField(label=_("Include labels"), required=False)
    events = forms.BooleanField(label=_("Include events (emojis, rankings)"), required=False)
    anonymize = forms.BooleanField(
        label=_("Anonymise ids"),
        required=False,
        initial=True,
        help_text=_("Only admins may export the real ids."),
    )

    def __init__(self, *args: Any, may_skip_anonymizer: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.may_skip_anonymizer = may_skip_anonymizer

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if not data.get("anonymize") and not self.may_skip_anonymizer:
            self.add_error("anonymize", _("Only admins may export without anonymising ids."))
        if data.get("format") == ExportFormat.PARQUET and data.get("events"):
            self.add_error("events", _("Events are not part of the Parquet columns; use JSONL."))
        return data

    def filters(self) -> dict[str, Any]:
        data = self.cleaned_data
        return {
            "states": data["states"],
            "langs": data["langs"],
            "since": data["since"].isoformat() if data["since"] else None,
            "until": data["until"].isoformat() if data["until"] else None,
            "deleted": data["deleted"],
            "spam": data["spam"],
            "synthetic": data["synthetic"],
            "prompts_only": data["prompts_only"],
            "user_id": data["user_id"],
            "limit": data["limit"],
            "labels": data["labels"],
            "events": data["events"],
            "anonymize": data["anonymize"],
        }
