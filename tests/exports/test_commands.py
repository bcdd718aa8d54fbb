"""manage.py export_trees: every flag maps onto the filters; .gz compresses; '-' is stdout."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from django.core.management import CommandError, call_command

from tests.exports.conftest import Garden, make_tree
from tests.exports.test_format import P


def run(tmp_path: Path, name: str, *flags: str) -> list[dict[str, Any]]:
    path = tmp_path / name
    call_command("export_trees", "--out", str(path), *flags, verbosity=0)
    data = path.read_bytes()
    if name.endswith(".gz"):
        data = gzip.decompress(data)
    return [json.loads(line) for line in data.splitlines()]


def test_gz_in_the_name_compresses_and_ids_are_anonymised_by_default(
    garden: Garden, tmp_path: Path, export_dir: Path
) -> None:
    [tree] = run(tmp_path, "out.trees.jsonl.gz")
    assert len(tree["message_tree_id"]) == 64 and tree["message_tree_id"] != P
    [plain] = run(tmp_path, "out.jsonl", "--no-anonymize")
    assert plain["message_tree_id"] == P


def test_flags_select_like_the_filters(garden: Garden, tmp_path: Path, export_dir: Path) -> None:
    make_tree(state="growing", lang="de")
    assert len(run(tmp_path, "a.jsonl", "--state", "all")) == 2
    assert len(run(tmp_path, "b.jsonl", "--state", "growing", "--lang", "de")) == 1
    assert run(tmp_path, "c.jsonl", "--lang", "de") == []
    flat = run(tmp_path, "d.jsonl", "--deleted-only", "--no-anonymize")
    assert [row["message_id"] for row in flat] == [str(garden.deleted.pk)]
    [tree] = run(tmp_path, "e.jsonl", "--include-spam", "--include-deleted", "--labels", "--events")
    assert "labels" in tree["prompt"] and "events" in tree["prompt"]
    assert len(tree["prompt"]["replies"]) == 6
    rows = run(tmp_path, "f.jsonl", "--shape", "message", "--no-anonymize", "--prompts-only")
    assert [row["message_id"] for row in rows] == [P]
    assert len(run(tmp_path, "g.jsonl", "--state", "all", "--limit", "1")) == 1
    [row] = run(tmp_path, "h.jsonl", "--user", str(garden.users["bob"].pk), "--no-anonymize")
    assert row["message_id"] == str(garden.a1.pk)
    assert len(run(tmp_path, "i.jsonl", "--include-synthetic", "--since", "2023-02-01")) == 1


def test_parquet_flag(garden: Garden, tmp_path: Path, export_dir: Path) -> None:
    path = tmp_path / "out.parquet"
    call_command("export_trees", "--out", str(path), "--format", "parquet", verbosity=0)
    assert pq.read_table(path).num_rows == 4


def test_dash_writes_to_stdout(garden: Garden, capsysbinary: Any, export_dir: Path) -> None:
    call_command("export_trees", "--out", "-", "--no-anonymize", verbosity=0)
    [tree] = [json.loads(line) for line in capsysbinary.readouterr().out.splitlines()]
    assert tree["message_tree_id"] == P


def test_bad_flags_are_a_command_error(db: None, tmp_path: Path) -> None:
    with pytest.raises(CommandError, match="unknown tree state"):
        call_command("export_trees", "--out", str(tmp_path / "x"), "--state", "bogus")
    with pytest.raises(CommandError, match="stdout"):
        call_command("export_trees", "--out", "-", "--format", "parquet")
    assert not (tmp_path / "x").exists()


def test_expire_command_reports_counts(db: None, capsys: Any, export_dir: Path) -> None:
    call_command("expire_exports")
    assert "0 expired, 0 stalled, 0 swept" in capsys.readouterr().out
