"""The exported format, field by field, against objects written by hand from reference/oasst-format.md."""

from __future__ import annotations

import gzip
import io
import json
from typing import Any

import pyarrow.parquet as pq
import pytest

from oasst.exports.anonymizer import Anonymizer
from oasst.exports.filters import parse_filters
from oasst.exports.parquet import SCHEMA
from oasst.exports.writer import write_dataset
from tests.exports.conftest import Garden

P = "00000000-0000-4000-8000-000000000001"
A1 = "00000000-0000-4000-8000-000000000002"
A2 = "00000000-0000-4000-8000-000000000003"
A3 = "00000000-0000-4000-8000-000000000004"


def export(filters: dict[str, Any] | None = None, **options: Any) -> bytes:
    out = io.BytesIO()
    data = {"anonymize": False, **(filters or {})}
    write_dataset(out, parse_filters(data), **options)
    return out.getvalue()


def lines(raw: bytes) -> list[dict[str, Any]]:
    return [json.loads(line) for line in raw.decode().splitlines()]


def expected_prompt(g: Garden) -> dict[str, Any]:
    """OA's ExportMessageNode in declaration order, nulls left out; replies best rank first."""
    return {
        "message_id": P,
        "user_id": g.uid("ann"),
        "created_date": "2023-02-05T14:23:50.983374+00:00",
        "text": "How do I grow tomatoes?",
        "role": "prompter",
        "lang": "en",
        "review_count": 3,
        "review_result": True,
        "deleted": False,
        "synthetic": False,
        "emojis": {"+1": 2, "_skip_reply": 1},
        "replies": [
            {
                "message_id": A2,
                "parent_id": P,
                "user_id": g.uid("cy"),
                "created_date": "2023-02-05T14:25:50.983374+00:00",
                "text": "Plant them deep.",
                "role": "assistant",
                "lang": "en",
                "review_count": 2,
                "review_result": True,
                "deleted": False,
                "rank": 0,
                "synthetic": False,
                "replies": [],
            },
            {
                "message_id": A1,
                "parent_id": P,
                "user_id": g.uid("bob"),
                "created_date": "2023-02-05T14:24:50.983374+00:00",
                "text": "Sun, water, patience.",
                "role": "assistant",
                "lang": "en",
                "review_count": 3,
                "review_result": True,
                "deleted": False,
                "rank": 1,
                "synthetic": False,
                "replies": [],
            },
            {
                "message_id": A3,
                "parent_id": P,
                "user_id": g.uid("dee"),
                "created_date": "2023-02-05T14:26:50.983374+00:00",
                "text": "Ask a gardener.",
                "role": "assistant",
                "lang": "en",
                "review_count": 3,
                "review_result": True,
                "deleted": False,
                "synthetic": False,
                "replies": [],
            },
        ],
    }


def same_with_order(actual: Any, expected: Any) -> bool:
    """Equal, including the order of keys (OA writes fields in declaration order)."""
    return json.dumps(actual) == json.dumps(expected)


def test_tree_line_matches_the_format_by_hand(garden: Garden) -> None:
    [tree] = lines(export())
    expected = {
        "message_tree_id": P,
        "tree_state": "ready_for_export",
        "prompt": expected_prompt(garden),
    }
    assert tree == expected
    assert same_with_order(tree, expected)


def test_output_is_one_compact_json_object_per_line_in_utf8(garden: Garden) -> None:
    garden.a1.text = "Sonne, Wasser – Geduld. 🍅"
    garden.a1.save()
    raw = export()
    assert raw.endswith(b"\n") and raw.count(b"\n") == 1
    assert "Geduld. 🍅".encode() in raw


def test_message_lines_are_depth_first_with_tree_id_and_state(garden: Garden) -> None:
    rows = lines(export(shape="message"))
    prompt = expected_prompt(garden)
    replies = prompt.pop("replies")
    flat = [prompt]
    for reply in replies:
        reply.pop("replies")
        flat.append(reply)
    for row in flat:
        row["message_tree_id"] = P
        row["tree_state"] = "ready_for_export"
    assert rows == flat
    assert all(same_with_order(a, b) for a, b in zip(rows, flat, strict=True))
    assert all("replies" not in row for row in rows)


def test_nested_replies_come_after_their_parent_in_message_lines(garden: Garden) -> None:
    garden.pending.review_result = True
    garden.pending.save()
    ids = [row["message_id"] for row in lines(export(shape="message"))]
    assert ids == [P, A2, str(garden.pending.pk), A1, A3]


def test_labels_are_mean_and_count_per_label_in_declared_position(garden: Garden) -> None:
    [tree] = lines(export({"labels": True}))
    prompt = tree["prompt"]
    assert prompt["labels"] == {
        "humor": {"value": 0.25, "count": 1},
        "quality": {"value": 0.75, "count": 2},
        "spam": {"value": 0.0, "count": 2},
    }
    keys = list(prompt)
    assert keys.index("replies") < keys.index("labels")
    assert "labels" not in prompt["replies"][0]


def test_events_carry_emojis_and_raw_rankings_on_the_parent(garden: Garden) -> None:
    [tree] = lines(export({"events": True}))
    events = tree["prompt"]["events"]
    assert events == {
        "emoji": [
            {"type": "emoji", "user_id": garden.uid("bob"), "emoji": "+1"},
            {"type": "emoji", "user_id": garden.uid("cy"), "emoji": "+1"},
            {"type": "emoji", "user_id": garden.uid("bob"), "emoji": "_skip_reply"},
        ],
        "ranking": [
            {
                "type": "ranking",
                "user_id": garden.uid("dee"),
                "ranking": [1, 0],
                "ranked_message_ids": [A2, A1],
                "ranking_parent_id": P,
                "message_tree_id": P,
            }
        ],
    }
    assert "events" not in tree["prompt"]["replies"][0]


def test_not_rankable_is_written_only_when_true(garden: Garden) -> None:
    garden.ranking.not_rankable = True
    garden.ranking.save()
    [tree] = lines(export({"events": True}))
    assert tree["prompt"]["events"]["ranking"][0]["not_rankable"] is True


def test_review_result_is_written_only_when_true_or_after_three_reviews(garden: Garden) -> None:
    [tree] = lines(export({"spam": "include"}))
    by_id = {reply["message_id"]: reply for reply in tree["prompt"]["replies"]}
    assert by_id[str(garden.spam.pk)]["review_result"] is False  # rejected after 3 reviews
    assert "review_result" not in by_id[str(garden.young_spam.pk)]  # rejected after 1: null
    pending = by_id[A2]["replies"][0]
    assert pending["message_id"] == str(garden.pending.pk)
    assert "review_result" not in pending and pending["review_count"] == 0


def test_synthetic_message_writes_model_name(garden: Garden) -> None:
    garden.a3.synthetic = True
    garden.a3.model_name = "pythia-12b"
    garden.a3.save()
    [tree] = lines(export({"synthetic": "include"}))
    a3 = tree["prompt"]["replies"][2]
    assert a3["synthetic"] is True and a3["model_name"] == "pythia-12b"
    assert list(a3).index("model_name") == list(a3).index("synthetic") + 1


def test_origin_is_written_when_the_tree_has_one(garden: Garden) -> None:
    garden.tree.origin = "seed.jsonl"
    garden.tree.save()
    [tree] = lines(export())
    assert list(tree) == ["message_tree_id", "tree_state", "prompt", "origin"]
    assert tree["origin"] == "seed.jsonl"


def test_gzip_output_is_the_same_lines_compressed(garden: Garden) -> None:
    plain = export({"labels": True})
    packed = export({"labels": True}, compress=True)
    assert packed[:2] == b"\x1f\x8b"
    assert gzip.decompress(packed) == plain


def test_parquet_has_the_oasst1_columns_and_reads_back(garden: Garden) -> None:
    raw = export({"labels": True}, format="parquet")
    table = pq.read_table(io.BytesIO(raw))
    assert table.schema.names == [
        "message_id", "parent_id", "user_id", "created_date", "text", "role", "lang",
        "review_count", "review_result", "deleted", "rank", "synthetic", "model_name",
        "detoxify", "message_tree_id", "tree_state", "emojis", "labels",
    ]  # fmt: skip
    assert table.schema.equals(SCHEMA)
    types = {field.name: str(field.type) for field in table.schema}
    assert types["review_count"] == "int32" and types["rank"] == "int32"
    emojis = table.schema.field("emojis").type
    assert [emojis.field(i).name for i in range(2)] == ["name", "count"]
    assert str(emojis.field("count").type.value_type) == "int32"
    labels = table.schema.field("labels").type
    assert [labels.field(i).name for i in range(3)] == ["name", "value", "count"]
    assert str(labels.field("value").type.value_type) == "double"
    detoxify = table.schema.field("detoxify").type
    assert {detoxify.field(i).name for i in range(7)} == {
        "toxicity", "severe_toxicity", "obscene", "identity_attack", "insult", "threat",
        "sexual_explicit",
    }  # fmt: skip
    rows = table.to_pylist()
    assert [row["message_id"] for row in rows] == [P, A2, A1, A3]
    prompt = rows[0]
    assert prompt["parent_id"] is None and prompt["rank"] is None
    assert prompt["created_date"] == "2023-02-05T14:23:50.983374+00:00"
    assert prompt["emojis"] == {"name": ["+1", "_skip_reply"], "count": [2, 1]}
    assert prompt["labels"] == {
        "name": ["humor", "quality", "spam"],
        "value": [0.25, 0.75, 0.0],
        "count": [1, 2, 2],
    }
    assert prompt["detoxify"] is None and prompt["model_name"] is None
    assert rows[1]["rank"] == 0 and rows[1]["labels"] is None and rows[1]["emojis"] is None
    assert all(
        row["message_tree_id"] == P and row["tree_state"] == "ready_for_export" for row in rows
    )


def test_parquet_refuses_events(garden: Garden) -> None:
    with pytest.raises(ValueError, match="events"):
        export({"events": True}, format="parquet")


def test_anonymised_ids_are_salted_hashes_that_stay_consistent(garden: Garden) -> None:
    anonymizer = Anonymizer("salt-one")
    out = io.BytesIO()
    write_dataset(out, parse_filters({"events": True}), anonymizer=anonymizer)
    raw = out.getvalue()
    [tree] = lines(raw)
    prompt = tree["prompt"]
    for original in (P, A1, A2, A3):
        assert original not in raw.decode()
    assert len(prompt["message_id"]) == 64
    # OA's quirk fixed: the tree id is the prompt's id, in the tree line and in ranking events.
    assert tree["message_tree_id"] == prompt["message_id"]
    ranking = prompt["events"]["ranking"][0]
    assert ranking["message_tree_id"] == prompt["message_id"]
    assert ranking["ranking_parent_id"] == prompt["message_id"]
    reply_ids = [reply["message_id"] for reply in prompt["replies"]]
    assert ranking["ranked_message_ids"] == reply_ids[:2]
    assert all(reply["parent_id"] == prompt["message_id"] for reply in prompt["replies"])
    assert prompt["user_id"] == anonymizer.user(garden.users["ann"].pk)
    assert prompt["events"]["emoji"][0]["user_id"] == prompt["replies"][1]["user_id"]  # bob
    # The same salt gives the same ids; another salt gives others.
    again = io.BytesIO()
    write_dataset(again, parse_filters({"events": True}), anonymizer=Anonymizer("salt-one"))
    assert again.getvalue() == raw
    other = io.BytesIO()
    write_dataset(other, parse_filters({}), anonymizer=Anonymizer("salt-two"))
    assert lines(other.getvalue())[0]["message_tree_id"] != tree["message_tree_id"]


def test_anonymised_message_lines_share_the_tree_id_of_the_prompt(garden: Garden) -> None:
    out = io.BytesIO()
    write_dataset(out, parse_filters({}), shape="message", anonymizer=Anonymizer("s"))
    rows = lines(out.getvalue())
    assert {row["message_tree_id"] for row in rows} == {rows[0]["message_id"]}
    assert all(row["parent_id"] == rows[0]["message_id"] for row in rows[1:])
