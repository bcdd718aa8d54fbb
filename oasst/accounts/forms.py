from __future__ import annotations

import zoneinfo

from django import forms
from django.utils.translation import gettext_lazy as _

from oasst.accounts.models import User
from oasst.lib.languages import language_choices


def _time_zone_choices() -> list[tuple[str, str]]:
    return [(name, name) for name in sorted(zoneinfo.available_timezones())]


class ProfileForm(forms.ModelForm):
    task_language = forms.ChoiceField(
        label=_("Task language"),
        help_text=_("The language of the tasks you are given."),
        choices=language_choices,
    )
    other_languages = forms.MultipleChoiceField(
        label=_("Other languages you can write"),
        required=False,
        choices=language_choices,
        widget=forms.CheckboxSelectMultiple(attrs={"class": "language-list"}),
    )
    time_zone = forms.ChoiceField(label=_("Time zone"), choices=_time_zone_choices)

    field_order = ["display_name", "task_language", "other_languages", "time_zone"]

    class Meta:
        model = User
        fields = ["display_name", "time_zone", "show_on_leaderboard"]

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        languages = self.instance.languages or ["en"]
        self.fields["task_language"].initial = languages[0]
        self.fields["other_languages"].initial = languages[1:]
        self.fields["display_name"].widget.attrs["maxlength"] = 64

    def clean_display_name(self) -> str:
        name = self.cleaned_data["display_name"].strip()
        if len(name) > 64:
            raise forms.ValidationError(_("At most 64 characters."))
        return name

    def languages(self) -> list[str]:
        first = self.cleaned_data["task_language"]
        others = [code for code in self.cleaned_data["other_languages"] if code != first]
        return [first, *others]


class TokenForm(forms.Form):
    name = forms.CharField(label=_("Token name"), max_length=100)


class DeleteAccountForm(forms.Form):
    confirm = forms.CharField(label=_("Type your username to confirm"), max_length=150, strip=True)

    def __init__(self, *args: object, user: User, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.user = user

    def clean_confirm(self) -> str:
        value = self.cleaned_data["confirm"]
        if value != self.user.username:
            raise forms.ValidationError(_("That is not your username."))
        return value
