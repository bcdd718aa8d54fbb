"""Donating a chat to the dataset: the tree it becomes, the rules it obeys, the page action."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from oasst.accounts.models import User
from oasst.chat import conversation
from oasst.chat.conversation import ChatError, ChatNotFound
from oasst.chat.donation import donate_chat
from oasst.chat.models import BetterAnswer, Chat, ChatMessage, Role, State, Vote
from oasst.trees import lifecycle, selection
from oasst.trees.errors import OasstError
from oasst.trees.models import EmojiReaction, Message, MessageTree, TaskType, TreeState
from oasst.trees.models import Role as TreeRole
from tests.conftest import make_user

pytestmark = pytest.mark.django_db


def say(chat: Chat, text: str, parent: ChatMessage | None = None) -> ChatMessage:
    return ChatMessage.objects.create(chat=chat, parent=parent, role=Role.PROMPTER, text=text)


def answer(
    chat: Chat, parent: ChatMessage, text: str, *, state: str = State.COMPLETE
) -> ChatMessage:
    return ChatMessage.objects.create(
        chat=chat,
        parent=parent,
        role=Role.ASSISTANT,
        text=text,
        state=state,
        model_name="tiny-model",
    )


def donatable_chat(user: User) -> dict[str, ChatMessage]:
    """A first prompt with two model answers (one regenerated), a better answer, a follow-up."""
    chat = conversation.create_chat(user)
    chat.allow_data_use = True
    chat.save(update_fields=["allow_data_use"])
    first = say(chat, "How do plants drink?")
    shown = answer(chat, first, "Through their roots.")
    other = answer(chat, first, "They just do.")
    BetterAnswer.objects.create(
        message=other, user=user, text="Roots take up water; it rises through the xylem."
    )
    follow_up = say(chat, "And cacti?", shown)
    last = answer(chat, follow_up, "They store water in their stems.")
    chat.active_leaf = last
    chat.save(update_fields=["active_leaf"])
    return {"first": first, "shown": shown, "other": other, "follow_up": follow_up, "last": last}


def tree_message(source: ChatMessage) -> Message:
    return Message.objects.get(frontend_message_id=f"chat-message-{source.pk}")


def test_a_donated_chat_becomes_a_tree_waiting_for_prompt_review(volunteer: User) -> None:
    chat_messages = donatable_chat(volunteer)
    chat = chat_messages["first"].chat

    donation = donate_chat(chat, user=volunteer)

    tree = MessageTree.objects.get()
    assert donation.created and donation.tree == tree
    assert tree.state == TreeState.INITIAL_PROMPT_REVIEW and tree.active
    assert tree.lang == "en" and tree.origin == f"chat-donation:{chat.pk}"
    root = Message.objects.get(pk=tree.pk)
    assert root.parent is None and root.role == TreeRole.PROMPTER
    assert root.user == volunteer and root.text == "How do plants drink?"
    assert not root.synthetic
    follow_up = tree_message(chat_messages["follow_up"])
    assert follow_up.role == TreeRole.PROMPTER and follow_up.user == volunteer
    assert follow_up.parent == tree_message(chat_messages["shown"]) and follow_up.depth == 2
    assert tree_message(chat_messages["last"]).parent == follow_up
    assert set(Message.objects.values_list("review_result", flat=True)) == {None}
    assert Message.objects.count() == donation.messages == 6
    chat.refresh_from_db()
    assert chat.donated_tree == tree and chat.donated_at is not None


def test_model_answers_are_synthetic_and_better_answers_are_human_siblings(
    volunteer: User,
) -> None:
    chat_messages = donatable_chat(volunteer)

    donation = donate_chat(chat_messages["first"].chat, user=volunteer)

    root = Message.objects.get(pk=donation.tree.pk)
    replies = list(Message.objects.filter(parent=root).order_by("created_at"))
    model_answers = [m for m in replies if m.synthetic]
    human = [m for m in replies if not m.synthetic]
    assert [m.text for m in model_answers] == ["Through their roots.", "They just do."]
    assert all(m.role == TreeRole.ASSISTANT for m in replies)
    assert {m.model_name for m in model_answers} == {"tiny-model"}
    # Each model answer has its own stand-in author, who can never sign in.
    assert len({m.user_id for m in model_answers}) == 2
    assert all(not m.user.has_usable_password() for m in model_answers)
    assert volunteer.pk not in {m.user_id for m in model_answers}
    assert [(m.text, m.user, m.model_name) for m in human] == [
        ("Roots take up water; it rises through the xylem.", volunteer, "")
    ]
    assert root.children_count == 3
    assert tree_message(chat_messages["last"]).synthetic
    assert (donation.synthetic, donation.human_answers) == (3, 1)


def test_the_authors_votes_become_reactions_on_the_model_answers(volunteer: User) -> None:
    chat_messages = donatable_chat(volunteer)
    Vote.objects.create(message=chat_messages["shown"], user=volunteer, score=1)
    Vote.objects.create(message=chat_messages["other"], user=volunteer, score=-1)

    donation = donate_chat(chat_messages["first"].chat, user=volunteer)

    assert tree_message(chat_messages["shown"]).emojis == {"+1": 1}
    assert tree_message(chat_messages["other"]).emojis == {"-1": 1}
    assert set(EmojiReaction.objects.values_list("user", "emoji")) == {
        (volunteer.pk, "+1"),
        (volunteer.pk, "-1"),
    }
    assert donation.votes == 2


def test_a_better_answer_to_a_failed_answer_is_kept(volunteer: User) -> None:
    chat = conversation.create_chat(volunteer)
    first = say(chat, "Name a red fruit.")
    failed = answer(chat, first, "", state=State.ABORTED)
    BetterAnswer.objects.create(message=failed, user=volunteer, text="A strawberry.")

    donation = donate_chat(chat, user=volunteer, consent=True)

    reply = Message.objects.get(parent_id=donation.tree.pk)
    assert (reply.text, reply.user, reply.synthetic) == ("A strawberry.", volunteer, False)
    assert donation.left_out == {"empty answers": 1}


def test_donating_twice_makes_one_tree(volunteer: User) -> None:
    chat = donatable_chat(volunteer)["first"].chat
    first = donate_chat(chat, user=volunteer)

    again = donate_chat(Chat.objects.get(pk=chat.pk), user=volunteer)

    assert not again.created and again.tree == first.tree
    assert MessageTree.objects.count() == 1 and Message.objects.count() == 6


def test_only_the_author_can_donate(volunteer: User) -> None:
    chat = donatable_chat(volunteer)["first"].chat
    stranger = make_user()
    with pytest.raises(ChatNotFound):
        donate_chat(chat, user=stranger)
    client = Client()
    client.force_login(stranger)
    response = client.post(reverse("chat:donate", args=[chat.id]), {"consent": "on"})
    assert response.status_code == 404
    assert not MessageTree.objects.exists()
    assert Chat.objects.get(pk=chat.pk).donated_tree is None


def test_donating_needs_consent_to_data_use(volunteer: User) -> None:
    chat = donatable_chat(volunteer)["first"].chat
    Chat.objects.filter(pk=chat.pk).update(allow_data_use=False)
    chat.refresh_from_db()

    with pytest.raises(ChatError, match="training data"):
        donate_chat(chat, user=volunteer)
    assert not MessageTree.objects.exists()

    donate_chat(chat, user=volunteer, consent=True)
    chat.refresh_from_db()
    assert chat.allow_data_use and chat.donated_tree is not None


def test_an_empty_chat_is_refused_and_nothing_changes(volunteer: User) -> None:
    chat = conversation.create_chat(volunteer)
    with pytest.raises(ChatError, match="nothing to donate"):
        donate_chat(chat, user=volunteer, consent=True)
    chat.refresh_from_db()
    assert not MessageTree.objects.exists() and chat.donated_tree is None
    assert chat.allow_data_use == Chat._meta.get_field("allow_data_use").get_default()


def test_a_chat_still_writing_an_answer_is_refused(
    volunteer: User, volunteer_client: Client
) -> None:
    chat_messages = donatable_chat(volunteer)
    chat = chat_messages["first"].chat
    answer(chat, chat_messages["last"].parent, "", state=State.IN_PROGRESS)

    response = volunteer_client.post(
        reverse("chat:donate", args=[chat.id]), headers={"HX-Request": "true"}
    )

    assert response.status_code == 422
    assert "Wait until the answer is finished" in response.content.decode()
    assert not MessageTree.objects.exists() and not Message.objects.exists()
    assert Chat.objects.get(pk=chat.pk).donated_tree is None


def test_the_tree_limits_cut_the_chat_and_say_so(volunteer: User, settings: object) -> None:
    settings.OASST_MAX_TREE_DEPTH = 2
    settings.OASST_MAX_CHILDREN_COUNT = 2
    chat_messages = donatable_chat(volunteer)
    chat = chat_messages["first"].chat
    answer(chat, chat_messages["first"], "A third answer.")
    edited = say(chat, "How do plants eat?")  # an edited first prompt, not on the shown branch
    answer(chat, edited, "With light.")

    donation = donate_chat(chat, user=volunteer)

    root = Message.objects.get(pk=donation.tree.pk)
    assert root.text == "How do plants drink?"
    # The shown answer first, then the human one; the other model answers do not fit.
    kept = Message.objects.filter(parent=root)
    assert sorted(m.text for m in kept) == [
        "Roots take up water; it rises through the xylem.",
        "Through their roots.",
    ]
    # A prompt at the deepest level could never be answered, so it goes too.
    assert Message.objects.filter(depth__gt=1).count() == 0
    assert donation.left_out == {
        "other versions of the first prompt": 2,
        "answers beyond the tree's children limit": 2,
        "messages deeper than the tree's depth limit": 2,
    }


def test_only_one_version_of_a_follow_up_prompt_is_kept(volunteer: User) -> None:
    chat_messages = donatable_chat(volunteer)
    chat = chat_messages["first"].chat
    say(chat, "And palm trees?", chat_messages["shown"])  # an edit, newer but not shown

    donation = donate_chat(chat, user=volunteer)

    follow_ups = Message.objects.filter(parent=tree_message(chat_messages["shown"]))
    assert [m.text for m in follow_ups] == ["And cacti?"]
    assert donation.left_out == {"other versions of a follow-up prompt": 1}


def test_the_donated_tree_gets_review_tasks_like_any_tree(volunteer: User) -> None:
    chat_messages = donatable_chat(volunteer)
    donation = donate_chat(chat_messages["first"].chat, user=volunteer)
    reviewer = make_user()

    choice = selection.choose_task(reviewer, "en", TaskType.LABEL_INITIAL_PROMPT)
    assert choice.message is not None and choice.message.pk == donation.tree.pk
    with pytest.raises(OasstError, match="currently available"):
        selection.choose_task(volunteer, "en", TaskType.LABEL_INITIAL_PROMPT)

    # Once the prompt is accepted and wins the lottery, the replies are reviewed.
    tree = donation.tree
    Message.objects.filter(pk=tree.pk).update(review_result=True)
    lifecycle.check_prompt_review(tree)
    assert tree.state == TreeState.PROMPT_LOTTERY_WAITING
    lifecycle.run_lottery("en", max_activate=1)
    tree.refresh_from_db()
    assert tree.state == TreeState.GROWING
    waiting = set(selection.messages_needing_review(reviewer, "en", roots=False).ids())
    assert waiting == set(
        Message.objects.filter(tree=tree, parent__isnull=False).values_list("pk", flat=True)
    )
    choice = selection.choose_task(reviewer, "en", TaskType.LABEL_ASSISTANT_REPLY)
    assert choice.message is not None and choice.message.tree_id == tree.pk


def test_the_chat_page_offers_donation_and_links_to_the_tree(
    volunteer: User, volunteer_client: Client
) -> None:
    chat = donatable_chat(volunteer)["first"].chat
    page = volunteer_client.get(reverse("chat:detail", args=[chat.id])).content.decode()
    assert 'id="donate-button"' in page and "hx-confirm" in page
    assert reverse("chat:donate", args=[chat.id]) in page

    response = volunteer_client.post(
        reverse("chat:donate", args=[chat.id]), headers={"HX-Request": "true"}
    )

    tree = MessageTree.objects.get()
    assert response.status_code == 200
    assert reverse("trees:message", args=[tree.pk]) in response.content.decode()
    page = volunteer_client.get(reverse("chat:detail", args=[chat.id])).content.decode()
    assert 'id="donated-tree-link"' in page and 'id="donate-button"' not in page


def test_without_htmx_the_form_asks_for_consent_and_redirects(
    volunteer: User, volunteer_client: Client
) -> None:
    chat = donatable_chat(volunteer)["first"].chat
    Chat.objects.filter(pk=chat.pk).update(allow_data_use=False)
    page = volunteer_client.get(reverse("chat:detail", args=[chat.id])).content.decode()
    assert 'name="consent"' in page

    refused = volunteer_client.post(reverse("chat:donate", args=[chat.id]))
    assert refused.status_code == 302 and not MessageTree.objects.exists()

    response = volunteer_client.post(reverse("chat:donate", args=[chat.id]), {"consent": "on"})
    assert response.status_code == 302
    assert Chat.objects.get(pk=chat.pk).donated_tree == MessageTree.objects.get()
