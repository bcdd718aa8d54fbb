"""Every export filter, on the garden tree plus a few others."""

from __future__ import annotations

from datetime import timedelta

import pytest

from oasst.exports.filters import InvalidFilters, parse_filters
from tests.exports.conftest import T0, Garden, add_message, make_tree
from tests.exports.test_format import P, export, lines


def ids(raw: bytes) -> list[str]:
    return [row["message_id"] for row in lines(raw)]


def tree_ids(raw: bytes) -> list[str]:
    return [row["message_tree_id"] for row in lines(raw)]


def all_ids(tree: dict) -> set[str]:
    found, stack = set(), [tree["prompt"]]
    while stack:
        node = stack.pop()
        found.add(node["message_id"])
        stack.extend(node.get("replies") or [])
    return found


def test_default_keeps_accepted_undeleted_messages_and_drops_orphans(garden: Garden) -> None:
    [tree] = lines(export())
    assert all_ids(tree) == {P, str(garden.a1.pk), str(garden.a2.pk), str(garden.a3.pk)}


def test_include_deleted_brings_back_deleted_messages_and_their_replies(garden: Garden) -> None:
    [tree] = lines(export({"deleted": "include"}))
    assert {str(garden.deleted.pk), str(garden.orphan.pk)} <= all_ids(tree)
    deleted = next(
        r for r in tree["prompt"]["replies"] if r["message_id"] == str(garden.deleted.pk)
    )
    assert deleted["deleted"] is True
    assert deleted["replies"][0]["message_id"] == str(garden.orphan.pk)


def test_deleted_only_is_a_flat_list_of_deleted_messages(garden: Garden) -> None:
    rows = lines(export({"deleted": "only"}))
    assert [row["message_id"] for row in rows] == [str(garden.deleted.pk)]
    assert rows[0]["message_tree_id"] == P and rows[0]["tree_state"] == "ready_for_export"
    assert "replies" not in rows[0]


def test_include_spam_keeps_rejected_and_pending_messages(garden: Garden) -> None:
    [tree] = lines(export({"spam": "include"}))
    assert {str(garden.spam.pk), str(garden.young_spam.pk), str(garden.pending.pk)} <= all_ids(tree)
    assert str(garden.deleted.pk) not in all_ids(tree)


def test_spam_only_lists_rejected_messages(garden: Garden) -> None:
    assert sorted(ids(export({"spam": "only"}))) == sorted(
        [str(garden.spam.pk), str(garden.young_spam.pk)]
    )


def test_trees_with_a_synthetic_message_are_dropped_whole_by_default(garden: Garden) -> None:
    tree, root = make_tree()
    add_message(tree, root, "assistant", synthetic=True, model_name="m")
    assert tree_ids(export()) == [P]
    assert sorted(tree_ids(export({"synthetic": "include"}))) == sorted([P, str(tree.pk)])
    rows = lines(export({"synthetic": "only"}))
    assert len(rows) == 1 and rows[0]["synthetic"] is True and rows[0]["model_name"] == "m"


def test_states_default_to_ready_for_export_and_take_any_list_or_all(garden: Garden) -> None:
    growing, _ = make_tree(state="growing")
    halted, _ = make_tree(state="halted_by_moderator")
    assert tree_ids(export()) == [P]
    assert tree_ids(export({"states": ["growing"]})) == [str(growing.pk)]
    assert sorted(tree_ids(export({"states": "growing,halted_by_moderator"}))) == sorted(
        [str(growing.pk), str(halted.pk)]
    )
    assert len(tree_ids(export({"states": ["all"]}))) == 3


def test_languages_select_trees_by_their_prompt(garden: Garden) -> None:
    german, root = make_tree(lang="de")
    add_message(german, root, "assistant", lang="en")
    assert tree_ids(export({"langs": ["de"]})) == [str(german.pk)]
    assert len(tree_ids(export({"langs": "de,en"}))) == 2


def test_date_range_selects_trees_by_creation(garden: Garden) -> None:
    later, _ = make_tree(created_at=T0 + timedelta(days=10))
    assert tree_ids(export({"since": (T0 + timedelta(days=5)).date().isoformat()})) == [
        str(later.pk)
    ]
    assert tree_ids(export({"until": T0.date().isoformat()})) == [P]  # until is inclusive
    assert tree_ids(export({"since": T0.isoformat(), "until": T0 + timedelta(days=1)})) == [P]


def test_prompts_only_writes_trees_without_replies(garden: Garden) -> None:
    [tree] = lines(export({"prompts_only": True}))
    assert "replies" not in tree["prompt"]
    assert ids(export({"prompts_only": True}, shape="message")) == [P]


def test_one_users_messages_are_flat(garden: Garden) -> None:
    rows = lines(export({"user_id": garden.users["bob"].pk}))
    assert [row["message_id"] for row in rows] == [str(garden.a1.pk)]
    assert rows[0]["message_tree_id"] == P


def test_chosen_trees_and_limit(garden: Garden) -> None:
    others = [make_tree()[0] for _ in range(3)]
    assert tree_ids(export({"tree_ids": [str(others[1].pk)]})) == [str(others[1].pk)]
    assert len(tree_ids(export({"limit": 2}))) == 2
    assert len(tree_ids(export({"limit": 2}, chunk_size=1))) == 2
    assert len(lines(export({"spam": "only", "limit": 1}))) == 1


def test_labels_and_events_are_left_out_unless_asked(garden: Garden) -> None:
    [tree] = lines(export())
    assert "labels" not in tree["prompt"] and "events" not in tree["prompt"]


@pytest.mark.parametrize(
    "bad",
    [
        {"states": ["nonsense"]},
        {"deleted": "maybe"},
        {"limit": 0},
        {"limit": "x"},
        {"since": "yesterday"},
        {"since": "2024-02-01", "until": "2024-01-01"},
        {"colour": "red"},
        {"user_id": "bob"},
    ],
)
def test_bad_filters_are_refused_with_a_reason(bad: dict) -> None:
    with pytest.raises(InvalidFilters):
        parse_filters(bad)


def test_filters_survive_a_round_trip_through_a_dict() -> None:
    filters = parse_filters(
        {"states": "all", "langs": "de", "since": "2024-01-01", "spam": "include", "limit": 5}
    )
    assert parse_filters(filters.as_dict()) == filters
