from __future__ import annotations

from oasst.accounts.models import User
from oasst.trees.crowd import run_crowd
from oasst.trees.models import Message, MessageTree, TreeState


def test_crowd_grows_trees_to_ready_for_export_through_domain_functions(
    small_trees: object, crowd: list[User]
) -> None:
    report = run_crowd(crowd, target_trees=2, max_steps=800, seed=1)

    assert report.exported >= 2, report
    exported = MessageTree.objects.filter(state=TreeState.READY_FOR_EXPORT)
    for tree in exported:
        ranked = Message.objects.filter(tree=tree, rank__isnull=False)
        assert ranked.exists()
        assert set(ranked.values_list("rank", flat=True)) >= {0, 1}
