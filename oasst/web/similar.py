"""Finding prompts that are nearly the same as one being written (OA #1812)."""

from __future__ import annotations

import re
from difflib import SequenceMatcher

from django.db.models import Q

from oasst.trees.models import Message

_WORD = re.compile(r"\w{4,}", re.UNICODE)
SIMILARITY = 0.8
CANDIDATES = 200


def _normal(text: str) -> str:
    return " ".join(text.lower().split())


def find_similar_prompts(text: str, *, lang: str, limit: int = 3) -> list[tuple[Message, float]]:
    """Existing prompts in ``lang`` whose text is at least 80 % the same as ``text``, closest first.

    The database narrows the candidates to recent prompts sharing one of the
    three longest words of the text; the similarity itself is measured in
    Python on those few.
    """
    words = sorted(set(_WORD.findall(text.lower())), key=len, reverse=True)[:3]
    if not words:
        return []
    condition = Q()
    for word in words:
        condition |= Q(text__icontains=word)
    candidates = (
        Message.objects.filter(parent__isnull=True, lang=lang, deleted=False)
        .filter(condition)
        .only("id", "text", "created_at")
        .order_by("-created_at")[:CANDIDATES]
    )
    wanted = _normal(text)
    scored = []
    for message in candidates:
        ratio = SequenceMatcher(None, wanted, _normal(message.text)).ratio()
        if ratio >= SIMILARITY:
            scored.append((message, ratio))
    scored.sort(key=lambda pair: pair[1], reverse=True)
    return scored[:limit]
