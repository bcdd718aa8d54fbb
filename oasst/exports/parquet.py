"""The Parquet flavour: the columns and types of the public oasst1/oasst2 datasets on Hugging Face.

Rows are flat messages in depth-first order with ``message_tree_id`` and
``tree_state``; ``emojis`` and ``labels`` are structs of parallel lists (the
``datasets`` "sequence of dicts" layout), which ``oasst_data``'s
``convert_hf_message`` turns back into dicts (reference/oasst-format.md §9).
"""

from __future__ import annotations

from typing import Any, BinaryIO

import pyarrow as pa
import pyarrow.parquet as pq

DETOXIFY_FIELDS = (
    "toxicity",
    "severe_toxicity",
    "obscene",
    "identity_attack",
    "insult",
    "threat",
    "sexual_explicit",
)

SCHEMA = pa.schema(
    [
        ("message_id", pa.string()),
        ("parent_id", pa.string()),
        ("user_id", pa.string()),
        ("created_date", pa.string()),
        ("text", pa.string()),
        ("role", pa.string()),
        ("lang", pa.string()),
        ("review_count", pa.int32()),
        ("review_result", pa.bool_()),
        ("deleted", pa.bool_()),
        ("rank", pa.int32()),
        ("synthetic", pa.bool_()),
        ("model_name", pa.string()),
        ("detoxify", pa.struct([(name, pa.float64()) for name in DETOXIFY_FIELDS])),
        ("message_tree_id", pa.string()),
        ("tree_state", pa.string()),
        ("emojis", pa.struct([("name", pa.list_(pa.string())), ("count", pa.list_(pa.int32()))])),
        (
            "labels",
            pa.struct(
                [
                    ("name", pa.list_(pa.string())),
                    ("value", pa.list_(pa.float64())),
                    ("count", pa.list_(pa.int32())),
                ]
            ),
        ),
    ]
)
COLUMNS = tuple(SCHEMA.names)


def to_parquet_row(message: dict[str, Any]) -> dict[str, Any]:
    """An export message dict (JSON flavour) as a row of the oasst1 columns."""
    row = {name: message.get(name) for name in COLUMNS}
    emojis = message.get("emojis")
    row["emojis"] = (
        {"name": list(emojis), "count": list(emojis.values())} if emojis is not None else None
    )
    labels = message.get("labels")
    row["labels"] = (
        {
            "name": list(labels),
            "value": [label["value"] for label in labels.values()],
            "count": [label["count"] for label in labels.values()],
        }
        if labels is not None
        else None
    )
    return row


def from_parquet_row(row: dict[str, Any]) -> dict[str, Any]:
    """A row of the oasst1 columns back into the JSON flavour (as ``oasst_data`` reads HF rows)."""
    message = {key: value for key, value in row.items() if value is not None}
    emojis = row.get("emojis")
    if emojis:
        message["emojis"] = dict(zip(emojis["name"], emojis["count"], strict=True))
    labels = row.get("labels")
    if labels:
        message["labels"] = {
            name: {"value": value, "count": count}
            for name, value, count in zip(
                labels["name"], labels["value"], labels["count"], strict=True
            )
        }
    return message


class ParquetSink:
    """Collects rows and writes them as row groups, so memory holds one group at most."""

    def __init__(self, target: BinaryIO, *, rows_per_group: int = 20_000) -> None:
        self.writer = pq.ParquetWriter(target, SCHEMA, compression="snappy")
        self.rows_per_group = rows_per_group
        self.rows: list[dict[str, Any]] = []

    def add(self, message: dict[str, Any]) -> None:
        self.rows.append(to_parquet_row(message))
        if len(self.rows) >= self.rows_per_group:
            self.flush()

    def flush(self) -> None:
        if self.rows:
            self.writer.write_table(pa.Table.from_pylist(self.rows, schema=SCHEMA))
            self.rows = []

    def close(self) -> None:
        self.flush()
        self.writer.close()
