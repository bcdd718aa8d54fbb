"""Noticing text written in another language than the task's (server side, py3langid offline)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from oasst.lib.languages import CONTENT_LANGUAGES

# py3langid speaks ISO 639-1; a few of our content languages carry a region.
_REGIONAL = {"pt": "pt-BR", "nb": "nb-NO", "no": "nb-NO", "uk": "uk-UA"}
MIN_WORDS = 5
MIN_PROBABILITY = 0.9


@dataclass(frozen=True)
class LanguageGuess:
    code: str
    probability: float


@lru_cache(maxsize=1)
def _identifier():  # noqa: ANN202 - py3langid has no type hints
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    return LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)


def guess_language(text: str) -> LanguageGuess | None:
    """The language ``text`` is most likely in, if the text is long enough to tell."""
    if len(text.split()) < MIN_WORDS:
        return None
    code, probability = _identifier().classify(text)
    code = _REGIONAL.get(code, code)
    if code not in CONTENT_LANGUAGES:
        return None
    return LanguageGuess(code=code, probability=float(probability))


def other_language(text: str, *, expected: str) -> str | None:
    """The code of the language ``text`` seems to be in, when that is clearly not ``expected``."""
    guess = guess_language(text)
    if guess is None or guess.probability < MIN_PROBABILITY:
        return None
    if guess.code.split("-")[0] == expected.split("-")[0]:
        return None
    return guess.code
