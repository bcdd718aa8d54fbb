"""Read dataset files back: tree or message JSON Lines (gzipped or not) and Parquet.

Each record comes out as ``(line, kind, obj)``; lines that are not JSON, or
neither a message nor a tree, come out as kind ``"invalid"`` with the reason,
so the importer can report them. Objects are told apart as OA's reader does:
``message_id`` makes a message, else ``message_tree_id`` a tree.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from oasst.exports.parquet import from_parquet_row

GZIP_MAGIC = b"\x1f\x8b"
PARQUET_MAGIC = b"PAR1"
TREE, MESSAGE, INVALID = "tree", "message", "invalid"

Record = tuple[int, str, Any]


def sniff(path: Path) -> str:
    """``parquet``, ``gzip`` or ``jsonl``, from the file's first bytes (not its name)."""
    with path.open("rb") as handle:
        start = handle.read(4)
    if start == PARQUET_MAGIC:
        return "parquet"
    if start[:2] == GZIP_MAGIC:
        return "gzip"
    return "jsonl"


def read_records(path: Path, *, batch_size: int = 2000) -> Iterator[Record]:
    kind = sniff(path)
    if kind == "parquet":
        yield from _read_parquet(path, batch_size=batch_size)
        return
    opener = gzip.open if kind == "gzip" else open
    with opener(path, "rt", encoding="utf-8") as lines:
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            yield _classify(number, line)


def _classify(number: int, line: str) -> Record:
    try:
        obj = json.loads(line)
    except ValueError as exc:
        return number, INVALID, f"not valid JSON: {exc}"
    if not isinstance(obj, dict):
        return number, INVALID, "not a JSON object"
    if "message_id" in obj:
        return number, MESSAGE, obj
    if "message_tree_id" in obj:
        return number, TREE, obj
    return number, INVALID, "neither a message (message_id) nor a tree (message_tree_id)"


def _read_parquet(path: Path, *, batch_size: int) -> Iterator[Record]:
    number = 0
    for batch in pq.ParquetFile(path).iter_batches(batch_size=batch_size):
        for row in batch.to_pylist():
            number += 1
            yield number, MESSAGE, from_parquet_row(row)
