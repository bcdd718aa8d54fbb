"""The demo model's chat corpus: shipped pairs and templates, expanded deterministically."""

from __future__ import annotations

import json
import random
from pathlib import Path

CORPUS_FILE = Path(__file__).parent / "data" / "demo_corpus.json"
Turns = list[tuple[str, str]]


def load_corpus() -> dict:
    return json.loads(CORPUS_FILE.read_text(encoding="utf-8"))


def expand_pairs(corpus: dict) -> list[tuple[str, str]]:
    """Every question/answer pair: the written ones and each template filled in."""
    pairs = [tuple(p) for lang in corpus["pairs"].values() for p in lang]
    tables = corpus["tables"]
    rows: list[dict[str, str]] = []
    for index, country in enumerate(tables["countries"]):
        a, b = index + 2, (index * 3) % 7 + 1
        rows.append(
            {
                **country,
                **tables["words"][index % len(tables["words"])],
                "name": tables["names"][index],
                "a": str(a),
                "b": str(b),
                "sum": str(a + b),
            }
        )
    for extra, name in enumerate(tables["names"][len(rows) :]):
        rows.append({**rows[extra % len(rows)], "name": name})
    for lang_templates in corpus["templates"].values():
        for question, answer in lang_templates:
            seen = set()
            for row in rows:
                filled = (question.format(**row), answer.format(**row))
                if filled not in seen:
                    seen.add(filled)
                    pairs.append(filled)
    return pairs


def demo_chats(*, count: int = 2000, seed: int = 0) -> list[tuple[str, Turns]]:
    """``count`` chats of one to three exchanges, some with a system prompt."""
    corpus = load_corpus()
    pairs = expand_pairs(corpus)
    rng = random.Random(seed)
    chats: list[tuple[str, Turns]] = []
    # Every pair appears on its own at least once, so short prompts are covered.
    for question, answer in pairs:
        chats.append(("", [("prompter", question), ("assistant", answer)]))
    while len(chats) < count:
        system = rng.choice(corpus["system_prompts"]) if rng.random() < 0.15 else ""
        turns: Turns = []
        for _ in range(rng.choice((1, 1, 2))):
            question, answer = rng.choice(pairs)
            turns += [("prompter", question), ("assistant", answer)]
        chats.append((system, turns))
    rng.shuffle(chats)
    return chats[:count]
