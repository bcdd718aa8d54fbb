"""Storing work (§2.3–§2.5, §3.5, §4.3): each error code changes nothing; repeats are idempotent."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from oasst.accounts.keys import create_api_client
from oasst.accounts.models import User
from oasst.trees import lifecycle, submissions, tasks
from oasst.trees.errors import ErrorCode, OasstError
from oasst.trees.models import (
    Emoji,
    EmojiReaction,
    Message,
    MessageTree,
    Ranking,
    Task,
    TaskType,
    TextLabel,
    TreeState,
)
from tests.trees.factories import (
    accept,
    assign,
    label_task_type,
    people,
    tree_of,
    write_prompt,
    write_reply,
)


class _Raises:
    """``with _Raises(code):`` asserts an OasstError with exactly this error."""

    def __init__(self, error: ErrorCode) -> None:
        self.error = error

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: type | None, exc: BaseException | None, tb: object) -> bool:
        assert isinstance(exc, OasstError), f"expected {self.error.name}, got {exc!r}"
        assert exc.error is self.error, f"expected {self.error.name}, got {exc.error.name}"
        return True


def snapshot() -> tuple[int, ...]:
    return (
        Message.objects.count(),
        MessageTree.objects.count(),
        TextLabel.objects.count(),
        Ranking.objects.count(),
        EmojiReaction.objects.count(),
        Task.objects.filter(done=True).count(),
    )


def growing(settings: object) -> tuple[Message, list[User]]:
    crowd = people(7)
    prompt = write_prompt(crowd[0])
    accept(prompt, crowd[1:3])
    lifecycle.run_lottery("en", max_activate=1)
    return prompt, crowd


# --- Replies --------------------------------------------------------------------------


def test_reply_is_stored_with_depth_role_and_parent_count(small_trees: object) -> None:
    prompt, crowd = growing(small_trees)
    reply = write_reply(crowd[1], prompt, "A careful answer.")
    assert reply.role == "assistant"
    assert reply.depth == 1
    assert reply.tree_id == prompt.tree_id
    assert Message.objects.get(pk=prompt.pk).children_count == 1


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("   \n ", ErrorCode.TASK_MESSAGE_TEXT_EMPTY),
        ("x" * 2001, ErrorCode.TASK_MESSAGE_TOO_LONG),
    ],
)
def test_bad_reply_text_is_refused(small_trees: object, text: str, error: ErrorCode) -> None:
    prompt, crowd = growing(small_trees)
    task = assign(crowd[1], TaskType.ASSISTANT_REPLY, prompt)
    before = snapshot()
    with _Raises(error):
        submissions.submit_reply(task, user=crowd[1], text=text)
    assert snapshot() == before
    assert Task.objects.get(pk=task.pk).done is False


def test_reply_of_exactly_the_size_limit_is_accepted(small_trees: object) -> None:
    prompt, crowd = growing(small_trees)
    assert len(write_reply(crowd[1], prompt, "y" * 2000).text) == 2000


def test_same_text_twice_within_two_hours_is_refused_then_allowed(small_trees: object) -> None:
    author = people(1)[0]
    first = write_prompt(author, "What makes bread rise?")
    task = assign(author, TaskType.INITIAL_PROMPT)
    with _Raises(ErrorCode.TASK_MESSAGE_DUPLICATED):
        submissions.submit_reply(task, user=author, text="What makes bread rise?")
    Message.objects.filter(pk=first.pk).update(created_at=timezone.now() - timedelta(minutes=121))
    submissions.submit_reply(task, user=author, text="What makes bread rise?")


def test_second_reply_to_the_same_parent_is_refused(small_trees: object) -> None:
    prompt, crowd = growing(small_trees)
    write_reply(crowd[1], prompt)
    task = assign(crowd[1], TaskType.ASSISTANT_REPLY, prompt)
    with _Raises(ErrorCode.TASK_MESSAGE_DUPLICATE_REPLY):
        submissions.submit_reply(task, user=crowd[1], text="Another go.")


def test_reply_to_a_halted_tree_is_refused(small_trees: object) -> None:
    prompt, crowd = growing(small_trees)
    task = assign(crowd[1], TaskType.ASSISTANT_REPLY, prompt)
    lifecycle.halt_tree(tree_of(prompt))
    before = snapshot()
    with _Raises(ErrorCode.TREE_IN_ABORTED_STATE):
        submissions.submit_reply(task, user=crowd[1], text="Too late.")
    assert snapshot() == before


def test_late_reply_to_an_exported_tree_is_kept(small_trees: object) -> None:
    prompt, crowd = growing(small_trees)
    task = assign(crowd[1], TaskType.ASSISTANT_REPLY, prompt)
    tree = tree_of(prompt)
    MessageTree.objects.filter(pk=tree.pk).update(state=TreeState.READY_FOR_EXPORT, active=False)
    assert submissions.submit_reply(task, user=crowd[1], text="Still useful.").pk


def test_unknown_language_is_refused(small_trees: object) -> None:
    author = people(1)[0]
    task = assign(author, TaskType.INITIAL_PROMPT)
    with _Raises(ErrorCode.INVALID_MESSAGE):
        submissions.submit_reply(task, user=author, text="Hola", lang="xx-nope")


def test_repeated_reply_with_the_same_frontend_id_is_idempotent(small_trees: object) -> None:
    prompt, crowd = growing(small_trees)
    task = assign(crowd[1], TaskType.ASSISTANT_REPLY, prompt)
    first = submissions.submit_reply(task, user=crowd[1], text="Once.", frontend_message_id="m1")
    before = snapshot()
    again = submissions.submit_reply(task, user=crowd[1], text="Once.", frontend_message_id="m1")
    assert again.pk == first.pk
    assert snapshot() == before
    with _Raises(ErrorCode.TASK_ALREADY_DONE):
        submissions.submit_reply(task, user=crowd[1], text="Twice.", frontend_message_id="m2")


# --- Task state (§2.4) ----------------------------------------------------------------


def test_unacknowledged_task_is_refused(small_trees: object) -> None:
    author = people(1)[0]
    task = assign(author, TaskType.INITIAL_PROMPT, ack=False)
    with _Raises(ErrorCode.TASK_NOT_ACK):
        submissions.submit_reply(task, user=author, text="Hi")


def test_expired_task_is_refused(small_trees: object) -> None:
    author = people(1)[0]
    task = assign(author, TaskType.INITIAL_PROMPT)
    Task.objects.filter(pk=task.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    task.refresh_from_db()
    with _Raises(ErrorCode.TASK_EXPIRED):
        submissions.submit_reply(task, user=author, text="Hi")


def test_someone_elses_task_is_refused(small_trees: object) -> None:
    author, other = people(2)
    task = assign(author, TaskType.INITIAL_PROMPT)
    with _Raises(ErrorCode.TASK_NOT_ASSIGNED_TO_USER):
        submissions.submit_reply(task, user=other, text="Hi")


def test_wrong_interaction_for_the_task_type_is_refused(small_trees: object) -> None:
    author = people(1)[0]
    task = assign(author, TaskType.INITIAL_PROMPT)
    with _Raises(ErrorCode.TASK_PAYLOAD_TYPE_MISMATCH):
        submissions.submit_ranking(task, user=author, ranking=[0])


def test_ack_binds_once_and_repeats_are_no_ops(small_trees: object) -> None:
    author = people(1)[0]
    task = assign(author, TaskType.INITIAL_PROMPT, ack=False)
    tasks.ack_task(task, frontend_message_id="fe-1")
    tasks.ack_task(task, frontend_message_id="fe-1")
    with _Raises(ErrorCode.TASK_ALREADY_UPDATED):
        tasks.ack_task(task, frontend_message_id="fe-2")


def test_ack_of_an_expired_task_is_refused(small_trees: object) -> None:
    author = people(1)[0]
    task = assign(author, TaskType.INITIAL_PROMPT, ack=False)
    Task.objects.filter(pk=task.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    with _Raises(ErrorCode.TASK_EXPIRED):
        tasks.ack_task(task, frontend_message_id="fe-1")


def test_ack_with_a_frontend_id_used_by_another_task_is_refused(small_trees: object) -> None:
    author = people(1)[0]
    tasks.ack_task(assign(author, TaskType.INITIAL_PROMPT, ack=False), frontend_message_id="same")
    with _Raises(ErrorCode.INVALID_FRONTEND_MESSAGE_ID):
        tasks.ack_task(
            assign(author, TaskType.INITIAL_PROMPT, ack=False), frontend_message_id="same"
        )


def test_find_task_of_another_client_is_not_found(small_trees: object) -> None:
    author, other = people(2)
    task = assign(author, TaskType.INITIAL_PROMPT)
    with _Raises(ErrorCode.TASK_NOT_FOUND):
        tasks.find_task(task.pk, api_client=None, user=other)


def test_find_task_compares_the_owning_client(small_trees: object) -> None:
    mine, _ = create_api_client("mine", trusted=True)
    theirs, _ = create_api_client("theirs", trusted=True)
    author = people(1)[0]
    task = tasks.request_task(author, api_client=mine)
    assert tasks.find_task(task.pk, api_client=mine, user=None) == task
    with _Raises(ErrorCode.TASK_NOT_FOUND):
        tasks.find_task(task.pk, api_client=theirs, user=None)
    with _Raises(ErrorCode.TASK_NOT_FOUND):  # a client's task is not its user's own task
        tasks.find_task(task.pk, api_client=None, user=author)
    own = assign(author, TaskType.INITIAL_PROMPT)
    with _Raises(ErrorCode.TASK_NOT_FOUND):  # nor is a person's task any client's
        tasks.find_task(own.pk, api_client=mine, user=None)
    with _Raises(ErrorCode.TASK_NOT_FOUND):
        tasks.find_task(uuid.uuid4(), api_client=mine, user=None)


def test_ack_is_stored_and_refused_for_a_done_task(small_trees: object) -> None:
    author = people(1)[0]
    task = assign(author, TaskType.INITIAL_PROMPT, ack=False)
    acked = tasks.ack_task(task, frontend_message_id="fe-stored")
    assert (acked.ack, acked.frontend_message_id) == (True, "fe-stored")
    stored = Task.objects.get(pk=task.pk)
    assert (stored.ack, stored.frontend_message_id) == (True, "fe-stored")
    done = assign(author, TaskType.INITIAL_PROMPT, ack=False)
    Task.objects.filter(pk=done.pk).update(done=True)
    with _Raises(ErrorCode.TASK_ALREADY_UPDATED):
        tasks.ack_task(done, frontend_message_id="fe-late")
    assert Task.objects.get(pk=done.pk).frontend_message_id == ""


def test_close_works_for_collective_tasks_only(small_trees: object) -> None:
    author = people(1)[0]
    task = tasks.request_task(author, collective=True)
    tasks.ack_task(task, frontend_message_id="bot-1")
    assert task.expires_at is None
    closed = tasks.close_task("bot-1", api_client=None, user=author)
    assert closed.done is True
    plain = assign(author, TaskType.INITIAL_PROMPT)
    with _Raises(ErrorCode.TASK_NOT_COLLECTIVE):
        tasks.close_task(plain.frontend_message_id, api_client=None, user=author)
    with _Raises(ErrorCode.TASK_NOT_FOUND):
        tasks.close_task("nope", api_client=None, user=author)


def test_expire_tasks_drops_unfinished_expired_tasks(small_trees: object) -> None:
    author = people(1)[0]
    stale = assign(author, TaskType.INITIAL_PROMPT, ack=False)
    fresh = assign(author, TaskType.INITIAL_PROMPT, ack=False)
    Task.objects.filter(pk=stale.pk).update(expires_at=timezone.now() - timedelta(minutes=1))
    assert tasks.expire_tasks() == 1
    assert not Task.objects.filter(pk=stale.pk).exists()
    assert Task.objects.filter(pk=fresh.pk).exists()


# --- Labels (§3.5) ----------------------------------------------------------------------


def label_task(crowd: list[User], message: Message, reviewer: User) -> Task:
    return assign(reviewer, label_task_type(message), message)


def test_label_for_another_message_than_the_tasks_is_refused(small_trees: object) -> None:
    """OA compared message_id with itself ([quirk]) and silently used the task's message."""
    prompt, crowd = growing(small_trees)
    reply = write_reply(crowd[1], prompt)
    other = write_reply(crowd[2], prompt)
    task = label_task(crowd, reply, crowd[3])
    before = snapshot()
    with _Raises(ErrorCode.TEXT_LABELS_WRONG_MESSAGE_ID):
        submissions.submit_labels(user=crowd[3], message_id=other.pk, labels={"spam": 0}, task=task)
    assert snapshot() == before


@pytest.mark.parametrize(
    ("labels", "error"),
    [
        ({"spam": 0, "moral_judgement": 1}, ErrorCode.TEXT_LABELS_INVALID_LABEL),  # not in task
        ({"spam": 0, "sparkle": 1}, ErrorCode.TEXT_LABELS_INVALID_LABEL),  # not a label at all
        ({"quality": 0.5}, ErrorCode.TEXT_LABELS_MANDATORY_LABEL_MISSING),
        ({"spam": 1.5}, ErrorCode.GENERIC_ERROR),
        ({"spam": -0.1}, ErrorCode.GENERIC_ERROR),
    ],
)
def test_bad_labels_are_refused(
    small_trees: object, labels: dict[str, float], error: ErrorCode
) -> None:
    prompt, crowd = growing(small_trees)
    reply = write_reply(crowd[1], prompt)
    task = label_task(crowd, reply, crowd[3])
    before = snapshot()
    with _Raises(error):
        submissions.submit_labels(user=crowd[3], message_id=reply.pk, labels=labels, task=task)
    assert snapshot() == before
    assert Message.objects.get(pk=reply.pk).review_count == 0


def test_labeling_ones_own_message_is_refused(small_trees: object) -> None:
    prompt, crowd = growing(small_trees)
    reply = write_reply(crowd[1], prompt)
    task = label_task(crowd, reply, crowd[1])
    with _Raises(ErrorCode.TEXT_LABELS_NO_SELF_LABELING):
        submissions.submit_labels(user=crowd[1], message_id=reply.pk, labels={"spam": 0}, task=task)


def test_second_task_label_on_the_same_message_is_refused_with_its_own_error(
    small_trees: object,
) -> None:
    prompt, crowd = growing(small_trees)
    reply = write_reply(crowd[1], prompt)
    submissions.submit_labels(
        user=crowd[3],
        message_id=reply.pk,
        labels={"spam": 0},
        task=label_task(crowd, reply, crowd[3]),
    )
    with _Raises(ErrorCode.TEXT_LABELS_DUPLICATE_TASK_REPLY):
        submissions.submit_labels(
            user=crowd[3],
            message_id=reply.pk,
            labels={"spam": 0},
            task=label_task(crowd, reply, crowd[3]),
        )
    # Same wire number as self-labeling (OA's duplicate), but a distinct error and message.
    assert ErrorCode.TEXT_LABELS_DUPLICATE_TASK_REPLY.code == 2053
    assert ErrorCode.TEXT_LABELS_DUPLICATE_TASK_REPLY is not ErrorCode.TEXT_LABELS_NO_SELF_LABELING
    assert Message.objects.get(pk=reply.pk).review_count == 1


def test_repeated_label_submission_is_idempotent(small_trees: object) -> None:
    prompt, crowd = growing(small_trees)
    reply = write_reply(crowd[1], prompt)
    task = label_task(crowd, reply, crowd[3])
    first = submissions.submit_labels(
        user=crowd[3], message_id=reply.pk, labels={"spam": 0}, task=task
    )
    again = submissions.submit_labels(
        user=crowd[3], message_id=reply.pk, labels={"spam": 0}, task=task
    )
    assert again.pk == first.pk == task.pk
    assert Message.objects.get(pk=reply.pk).review_count == 1


def test_free_label_overwrites_the_earlier_one_and_does_not_count_as_review(
    small_trees: object,
) -> None:
    prompt, crowd = growing(small_trees)
    reply = write_reply(crowd[1], prompt)
    submissions.submit_labels(user=crowd[3], message_id=reply.pk, labels={"humor": 0.25})
    submissions.submit_labels(user=crowd[3], message_id=reply.pk, labels={"humor": 1.0})
    assert TextLabel.objects.filter(message=reply).count() == 1
    assert TextLabel.objects.get(message=reply).labels == {"humor": 1.0}
    assert Message.objects.get(pk=reply.pk).review_count == 0


def test_report_adds_a_red_flag(small_trees: object) -> None:
    prompt, crowd = growing(small_trees)
    submissions.submit_labels(
        user=crowd[3], message_id=prompt.pk, labels={"spam": 1}, text="advert", is_report=True
    )
    assert Message.objects.get(pk=prompt.pk).emojis == {"red_flag": 1}
    assert TextLabel.objects.get(is_report=True).text == "advert"


def test_label_for_a_missing_message_is_refused(small_trees: object) -> None:
    author = people(1)[0]
    with _Raises(ErrorCode.MESSAGE_NOT_FOUND):
        submissions.submit_labels(
            user=author, message_id="00000000-0000-0000-0000-000000000000", labels={"spam": 0}
        )


# --- Rankings (§3.7) -------------------------------------------------------------------


def ranking_task(settings: object) -> tuple[Task, list[User], Message]:
    prompt, crowd = growing(settings)
    first, second = write_reply(crowd[1], prompt), write_reply(crowd[2], prompt)
    accept(first, crowd[3:5])
    accept(second, crowd[3:5])
    follow_up = write_reply(crowd[3], first)
    accept(follow_up, crowd[4:6])
    tasks_ = tasks.request_task(crowd[5], requested=TaskType.RANK_ASSISTANT_REPLIES)
    tasks.ack_task(tasks_, frontend_message_id="rank-1")
    return tasks_, crowd, prompt


@pytest.mark.parametrize("ranking", [[0], [0, 0], [1, 2], [0, 1, 2], [-1, 0]])
def test_ranking_must_be_a_permutation_of_the_offered_replies(
    small_trees: object, ranking: list[int]
) -> None:
    task, crowd, _prompt = ranking_task(small_trees)
    before = snapshot()
    with _Raises(ErrorCode.INVALID_RANKING_VALUE):
        submissions.submit_ranking(task, user=crowd[5], ranking=ranking)
    assert snapshot() == before


def test_ranking_is_stored_with_the_ordered_ids_and_not_rankable(small_trees: object) -> None:
    task, crowd, _prompt = ranking_task(small_trees)
    offered = [m["id"] for m in task.payload["reply_messages"]]
    stored = submissions.submit_ranking(task, user=crowd[5], ranking=[1, 0], not_rankable=True)
    assert stored.ranked_message_ids == [offered[1], offered[0]]
    assert stored.not_rankable is True
    again = submissions.submit_ranking(task, user=crowd[5], ranking=[1, 0], not_rankable=True)
    assert again.pk == stored.pk
    assert Message.objects.get(pk=offered[0]).ranking_count == 1


# --- Emojis (§4.3) -----------------------------------------------------------------------


def test_plus_and_minus_one_exclude_each_other_and_toggle(small_trees: object) -> None:
    author, reader = people(2)
    prompt = write_prompt(author)
    submissions.set_emoji(prompt, user=reader, emoji="+1")
    message = submissions.set_emoji(prompt, user=reader, emoji="-1")
    assert message.emojis == {"-1": 1}
    message = submissions.set_emoji(prompt, user=reader, emoji="-1")
    assert message.emojis == {}
    assert submissions.set_emoji(prompt, user=reader, emoji="heart_eyes", op="add").emojis == {
        "heart_eyes": 1
    }
    assert submissions.set_emoji(prompt, user=reader, emoji="heart_eyes", op="add").emojis == {
        "heart_eyes": 1
    }
    assert submissions.set_emoji(prompt, user=reader, emoji="heart_eyes", op="remove").emojis == {}


def test_votes_on_ones_own_message_are_ignored(small_trees: object) -> None:
    author = people(1)[0]
    prompt = write_prompt(author)
    assert submissions.set_emoji(prompt, user=author, emoji="+1").emojis == {}


def test_unknown_emoji_op_is_5000_and_hidden_emojis_cannot_be_set(small_trees: object) -> None:
    author, reader = people(2)
    prompt = write_prompt(author)
    with _Raises(ErrorCode.EMOJI_OP_UNSUPPORTED):
        submissions.set_emoji(prompt, user=reader, emoji="+1", op="explode")
    with _Raises(ErrorCode.GENERIC_ERROR):
        submissions.set_emoji(prompt, user=reader, emoji=Emoji.SKIP_REPLY)


# --- The conversation of a task ------------------------------------------------------


def test_a_conversation_path_is_read_in_one_query_and_a_prompt_needs_none(
    small_trees: object, django_assert_num_queries: Any
) -> None:
    prompt, crowd = growing(small_trees)
    answer = write_reply(crowd[1], prompt)
    accept(answer, crowd[2:5])
    follow_up = write_reply(crowd[2], answer)

    with django_assert_num_queries(0):
        assert tasks.conversation_to(prompt) == [prompt]
    with django_assert_num_queries(1):
        path = tasks.conversation_to(follow_up)
    assert [m.pk for m in path] == [prompt.pk, answer.pk, follow_up.pk]
    assert path[-1] is follow_up
