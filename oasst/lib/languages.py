"""Content languages: the BCP-47 codes volunteers may write and chat in.

The interface is translated into settings.LANGUAGES; content may be in any of
the languages below (Open-Assistant's 41 and a few more).
"""

from __future__ import annotations

import re

from django.conf.locale import LANG_INFO

_EXTRA_NAMES = {
    "bar": "Bavarian",
    "swg": "Swabian",
    "nb-NO": "Norwegian Bokmål",
    "pt-BR": "Portuguese (Brazil)",
    "uk-UA": "Ukrainian",
    "zh": "Chinese",
}

CONTENT_LANGUAGES: tuple[str, ...] = (
    "en", "es", "de", "fr", "it", "pt-BR", "ru", "zh", "ja", "ko", "ar", "bar", "bg", "bn",
    "ca", "cs", "da", "el", "eo", "eu", "fa", "fi", "gl", "he", "hi", "hu", "id", "lt",
    "nb-NO", "nl", "pl", "ro", "sk", "sl", "sr", "sv", "swg", "th", "tr", "uk-UA", "vi",
)  # fmt: skip

_BCP47 = re.compile(r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$")


def is_valid_language(code: str) -> bool:
    return bool(_BCP47.match(code)) and code in CONTENT_LANGUAGES


def language_name(code: str) -> str:
    if code in _EXTRA_NAMES:
        return _EXTRA_NAMES[code]
    info = LANG_INFO.get(code.lower()) or LANG_INFO.get(code.split("-")[0], {})
    return info.get("name", code)


def language_choices() -> list[tuple[str, str]]:
    return [(code, f"{language_name(code)} ({code})") for code in CONTENT_LANGUAGES]
