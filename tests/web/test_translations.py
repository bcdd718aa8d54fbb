"""The volunteer pages ship in Spanish and German: every string of theirs is translated."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse

from oasst.trees.models import TaskType

VOLUNTEER_SOURCES = ("oasst/web/", "templates/web/")


def read_catalogue(path: Path) -> list[dict[str, object]]:
    """The entries of a .po file: references, flags, msgid and msgstr values (enough for checks)."""
    entries = []
    for block in path.read_text(encoding="utf-8").split("\n\n"):
        entry: dict[str, object] = {"refs": [], "flags": [], "msgid": "", "msgstr": []}
        key = ""
        for line in block.splitlines():
            if line.startswith("#:"):
                entry["refs"] += line[2:].split()  # type: ignore[operator]
            elif line.startswith("#,"):
                entry["flags"] += [flag.strip() for flag in line[2:].split(",")]  # type: ignore[operator]
            elif line.startswith(("msgid ", "msgstr")):
                key, _, value = line.partition(" ")
                if key.startswith("msgstr"):
                    entry["msgstr"].append(ast.literal_eval(value))  # type: ignore[attr-defined]
                elif key == "msgid":
                    entry["msgid"] = ast.literal_eval(value)
            elif line.startswith('"') and key.startswith("msgstr"):
                entry["msgstr"][-1] += ast.literal_eval(line)  # type: ignore[index]
            elif line.startswith('"') and key == "msgid":
                entry["msgid"] = str(entry["msgid"]) + ast.literal_eval(line)
        if entry["msgid"]:
            entries.append(entry)
    return entries


@pytest.mark.parametrize("lang", ["es", "de"])
def test_every_string_of_the_volunteer_pages_is_translated(lang: str) -> None:
    catalogue = Path(settings.BASE_DIR) / "locale" / lang / "LC_MESSAGES" / "django.po"
    ours = [
        entry
        for entry in read_catalogue(catalogue)
        if any(str(ref).startswith(VOLUNTEER_SOURCES) for ref in entry["refs"])  # type: ignore[attr-defined]
    ]
    assert len(ours) > 200
    missing = [
        entry["msgid"]
        for entry in ours
        if "fuzzy" in entry["flags"] or not all(entry["msgstr"])  # type: ignore[operator,arg-type]
    ]
    assert not missing, f"untranslated in {lang}: {missing}"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("lang", "expected"),
    [
        ("es", ["Escribir una pregunta", "Elige una tarea"]),
        ("de", ["Eine Anfrage schreiben", "Wähle eine Aufgabe"]),
    ],
)
def test_the_dashboard_speaks_the_browser_language(
    volunteer_client: Client, lang: str, expected: list[str]
) -> None:
    page = volunteer_client.get(
        reverse("trees:dashboard"), HTTP_ACCEPT_LANGUAGE=lang
    ).content.decode()
    for text in expected:
        assert text in page
    assert f'data-task-type="{TaskType.INITIAL_PROMPT}"' in page
