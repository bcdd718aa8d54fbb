"""Import: both JSONL shapes (gzipped or not) and Parquet, validation, idempotence, round trip."""

from __future__ import annotations

import gzip
import io
import json
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command

from oasst.accounts.models import User
from oasst.exports.anonymizer import Anonymizer
from oasst.exports.filters import parse_filters
from oasst.exports.importer import import_file, message_uuid
from oasst.exports.writer import write_dataset
from oasst.trees.models import Message, MessageTree, TextLabel
from tests.exports.conftest import Garden, add_labels, add_message, make_tree
from tests.exports.test_format import P, lines


def dump(filters: dict[str, Any] | None = None, **options: Any) -> bytes:
    out = io.BytesIO()
    write_dataset(out, parse_filters({"anonymize": False, **(filters or {})}), **options)
    return out.getvalue()


def wipe_trees() -> None:
    MessageTree.objects.all().delete()


def without_users(obj: Any) -> Any:
    """The export without author ids (authors become placeholders) and origin (the file name)."""
    if isinstance(obj, dict):
        return {k: without_users(v) for k, v in obj.items() if k not in ("user_id", "origin")}
    if isinstance(obj, list):
        return [without_users(item) for item in obj]
    return obj


def write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


FULL = {"states": ["all"], "labels": True}


@pytest.mark.parametrize(
    ("name", "options"),
    [
        ("t.trees.jsonl", {}),
        ("t.trees.jsonl.gz", {"compress": True}),
        ("t.messages.jsonl", {"shape": "message"}),
        ("t.messages.jsonl.gz", {"shape": "message", "compress": True}),
        ("t.parquet", {"format": "parquet"}),
    ],
)
def test_round_trip_gives_the_same_trees(
    garden: Garden, tmp_path: Path, name: str, options: dict[str, Any]
) -> None:
    second, root = make_tree(state="growing", lang="de", text="Wie geht's?")
    reply = add_message(second, root, "assistant", rank=0, lang="de")
    add_labels(reply, garden.users["bob"], {"quality": 0.3, "spam": 0.0})
    add_labels(reply, garden.users["cy"], {"quality": 0.4})
    before = dump(FULL)
    path = write(tmp_path, name, dump(FULL, **options))
    wipe_trees()
    assert not Message.objects.exists()
    report = import_file(path)
    assert report.rejected_count == 0, report.rejected
    assert (report.trees_created, report.messages_created) == (2, 6)
    after = dump(FULL)
    assert [without_users(tree) for tree in lines(after)] == [
        without_users(tree) for tree in lines(before)
    ]
    assert MessageTree.objects.get(pk=second.pk).state == "growing"
    assert {tree["origin"] for tree in lines(after)} == {name}


def test_import_is_idempotent_by_message_id(garden: Garden, tmp_path: Path) -> None:
    path = write(tmp_path, "t.jsonl", dump(FULL))
    wipe_trees()
    first = import_file(path)
    counts = (Message.objects.count(), TextLabel.objects.count(), User.objects.count())
    second = import_file(path)
    assert first.messages_created == 4 and second.messages_created == 0
    assert second.messages_skipped == 4 and second.trees_created == 0
    assert (Message.objects.count(), TextLabel.objects.count(), User.objects.count()) == counts


def test_existing_trees_gain_only_the_new_replies(garden: Garden, tmp_path: Path) -> None:
    path = write(tmp_path, "t.jsonl", dump({"spam": "include"}))
    spam_id = garden.spam.pk
    garden.spam.delete()
    report = import_file(path)
    assert report.messages_created == 1 and report.trees_created == 0
    assert Message.objects.get(pk=spam_id).review_result is False


def test_anonymised_export_imports_with_stable_ids(garden: Garden, tmp_path: Path) -> None:
    out = io.BytesIO()
    write_dataset(out, parse_filters({"events": True}), anonymizer=Anonymizer("pepper"))
    [tree] = lines(out.getvalue())
    path = write(tmp_path, "anon.jsonl", out.getvalue())
    wipe_trees()
    report = import_file(path)
    assert report.messages_created == 4 and report.rejected_count == 0
    root = Message.objects.get(pk=message_uuid(tree["message_tree_id"]))
    assert root.frontend_message_id == tree["message_tree_id"]
    assert root.tree_id == root.pk
    authors = User.objects.filter(auth_method="import")
    assert tree["prompt"]["user_id"] in set(authors.values_list("frontend_id", flat=True))
    assert not any(user.has_usable_password() for user in authors)
    assert import_file(path).messages_skipped == 4


def test_synthetic_replies_are_imported_to_wait_for_ranking(db: None, tmp_path: Path) -> None:
    rows = [
        {"message_id": "p1", "text": "Name a fruit.", "role": "prompter", "lang": "en"},
        {"message_id": "r1", "parent_id": "p1", "text": "Apple.", "role": "assistant"},
        {"message_id": "r2", "parent_id": "p1", "text": "Pear.", "role": "assistant"},
    ]
    path = write(tmp_path, "gen.jsonl", "\n".join(json.dumps(r) for r in rows).encode())
    report = import_file(path, synthetic=True, model_name="pythia", origin="lab run 4")
    assert report.messages_created == 3 and report.rejected_count == 0
    tree = MessageTree.objects.get()
    assert tree.state == "backlog_ranking" and not tree.active and tree.origin == "lab run 4"
    replies = Message.objects.filter(parent__isnull=False)
    assert all(m.synthetic and m.model_name == "pythia" for m in replies)
    assert replies.values("user").distinct().count() == 2  # one reply per author per parent
    assert Message.objects.get(parent__isnull=True).children_count == 2


def test_invalid_records_are_reported_with_the_reason(db: None, tmp_path: Path) -> None:
    records = [
        "this is not json",
        json.dumps({"something": "else"}),
        json.dumps({"message_id": "a", "text": "Hi", "role": "prompter"}),
        json.dumps({"message_id": "b", "parent_id": "a", "text": "Hello", "role": "prompter"}),
        json.dumps({"message_id": "c", "parent_id": "b", "text": "child", "role": "assistant"}),
        json.dumps({"message_id": "d", "parent_id": "zz", "text": "lost", "role": "assistant"}),
        json.dumps({"message_id": "e", "text": "", "role": "prompter"}),
        json.dumps({"message_id": "f", "text": "x", "role": "robot"}),
        json.dumps({"message_id": "g", "text": "x", "role": "assistant"}),
        json.dumps({"message_id": "h", "text": "x", "role": "prompter", "labels": {"nice": {"value": 1, "count": 1}}}),
        json.dumps({"message_id": "i", "text": "x", "role": "prompter", "rank": -1}),
        json.dumps({"message_id": "a", "text": "again", "role": "prompter"}),
        json.dumps({"message_tree_id": "t", "prompt": {"message_id": "u", "text": "x", "role": "prompter"}}),
    ]  # fmt: skip
    path = write(tmp_path, "bad.jsonl", "\n".join(records).encode())
    report = import_file(path)
    assert report.messages_created == 1  # only "a"
    reasons = {entry["line"]: entry["reason"] for entry in report.rejected}
    assert "not valid JSON" in reasons[1]
    assert "neither a message" in reasons[2]
    assert "roles must alternate" in reasons[4]
    assert "was rejected" in reasons[5]
    assert "neither in the file" in reasons[6]
    assert "text" in reasons[7]
    assert "role" in reasons[8]
    assert "must start with a prompter" in reasons[9]
    assert "unknown label" in reasons[10]
    assert "rank" in reasons[11]
    assert "duplicate" in reasons[12]
    assert "differs from prompt.message_id" in reasons[13]
    assert report.rejected_count == 12


def test_dry_run_reports_but_stores_nothing(garden: Garden, tmp_path: Path) -> None:
    path = write(tmp_path, "t.jsonl.gz", gzip.compress(dump(FULL)))
    wipe_trees()
    users = User.objects.count()
    report = import_file(path, dry_run=True)
    assert report.messages_created == 4 and report.dry_run
    assert not Message.objects.exists() and User.objects.count() == users


def test_state_option_overrides_the_file(garden: Garden, tmp_path: Path) -> None:
    path = write(tmp_path, "t.jsonl", dump())
    wipe_trees()
    import_file(path, state="ranking")
    assert MessageTree.objects.get().state == "ranking"


def test_import_command_prints_the_summary_and_rejections(
    garden: Garden, tmp_path: Path, capsys: Any
) -> None:
    path = write(tmp_path, "t.jsonl", dump() + b"{oops\n")
    wipe_trees()
    call_command("import_trees", str(path), "--dry-run")
    captured = capsys.readouterr()
    assert "dry run: would import 4 messages in 1 new trees" in captured.out
    assert "line 2" in captured.err and "not valid JSON" in captured.err
    assert not Message.objects.exists()
    call_command("import_trees", str(path), "--origin", "backup")
    assert MessageTree.objects.get(pk=P).origin == "backup"
