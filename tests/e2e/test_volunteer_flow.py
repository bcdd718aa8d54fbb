"""The volunteer flow in a real browser: sign-up, every task type, drafts, skip, report."""

from __future__ import annotations

from typing import Any

import pytest

from oasst.accounts.models import User
from oasst.trees.models import Message, Ranking, Task, TaskType, TextLabel
from tests.conftest import make_user
from tests.e2e.conftest import shot, sign_in
from tests.web import seed

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

PROMPT = "How do I keep a sourdough starter alive while I am away on holiday for two weeks?"


def test_sign_up_and_accept_the_terms(page: Any, live_server: Any) -> None:
    page.goto(f"{live_server.url}/accounts/signup/")
    page.fill("input[name=username]", "sam")
    page.fill("input[name=email]", "sam@example.org")
    page.fill("input[name=password1]", "a long enough passphrase")
    page.fill("input[name=password2]", "a long enough passphrase")
    page.click("form button[type=submit]")
    page.goto(f"{live_server.url}/dashboard/")
    assert "/me/terms/" in page.url
    page.check("input[name=accept]")
    page.click("text=Accept and continue")
    page.goto(f"{live_server.url}/dashboard/")
    page.wait_for_selector("text=Start a random task")
    assert User.objects.get(username="sam").has_accepted_tos


def test_write_a_prompt_with_review_and_keyboard(
    page: Any, live_server: Any, e2e_settings: Any
) -> None:
    user = make_user("writer")
    sign_in(page, live_server, user)
    page.goto(f"{live_server.url}/dashboard/")
    page.click("article[data-task-type=initial_prompt] a.button")
    page.wait_for_selector("#reply-text")
    # Submit stays hidden until the review step.
    assert not page.is_visible("#task-form [data-submit]")
    page.fill("#reply-text", PROMPT + " I feed it **twice** a week.")
    page.keyboard.press("Control+Enter")
    page.wait_for_selector("#preview-pane strong")
    assert page.is_visible("#task-form [data-submit]")
    assert "words" in page.inner_text("#preview-pane")
    page.keyboard.press("Control+Enter")
    page.wait_for_selector("text=Thank you! Your work is saved.")
    message = Message.objects.get(user=user)
    assert message.text.startswith("How do I keep a sourdough starter")
    # The next task slid in without a page load and has its own address.
    page.wait_for_function("() => location.pathname.startsWith('/tasks/')")
    assert page.input_value("#reply-text") == ""


def test_a_draft_survives_a_reload_and_a_lost_browser_copy(
    page: Any, live_server: Any, e2e_settings: Any
) -> None:
    user = make_user("drafter")
    sign_in(page, live_server, user)
    page.goto(f"{live_server.url}/tasks/new/initial_prompt/")
    page.type("#reply-text", "Half-written question about tides")
    page.wait_for_selector("text=Draft saved at")
    page.reload()
    assert page.input_value("#reply-text") == "Half-written question about tides"
    # Without the browser's copy (another device, cleared storage) the server's is used.
    page.evaluate("() => localStorage.clear()")
    page.reload()
    assert page.input_value("#reply-text") == "Half-written question about tides"
    # The task expires: the draft is offered in a fresh task of the same kind.
    Task.objects.filter(user=user).update(skipped=True)
    page.reload()
    page.wait_for_selector("[data-earlier-draft]")
    page.click("[data-use-draft]")
    assert page.input_value("#reply-text") == "Half-written question about tides"


def test_label_a_prompt(page: Any, live_server: Any, e2e_settings: Any) -> None:
    prompt = seed.write_prompt(make_user("author"), PROMPT)
    user = make_user("labeller")
    sign_in(page, live_server, user)
    page.goto(f"{live_server.url}/tasks/new/label_initial_prompt/")
    page.wait_for_selector("text=How do I keep a sourdough starter")
    # The guideline for a label is one click away.
    page.click("fieldset.label-field.yes_no >> text=What does this mean?")
    assert page.is_visible("text=not a genuine contribution")
    page.click("fieldset.mandatory label.choice:has-text('No')")
    page.check("input[name=quality][value='0.75']")
    shot(page, "label_task_filled")
    page.click("#task-form [data-submit]")
    page.wait_for_selector("text=Thank you! Your work is saved.")
    label = TextLabel.objects.get(message=prompt, user=user)
    assert label.labels["spam"] == 0.0 and label.labels["quality"] == 0.75


def test_rank_by_keyboard(page: Any, live_server: Any, e2e_settings: Any) -> None:
    helpers = [make_user(f"helper{i}") for i in range(4)]
    seed.ranking_tree(helpers[3], helpers[:3])
    user = make_user("ranker")
    sign_in(page, live_server, user)
    page.goto(f"{live_server.url}/tasks/new/rank_assistant_replies/")
    first = page.locator("[data-rank-item] .rank-text").nth(0).inner_text()
    page.locator("[data-rank-item]").nth(0).focus()
    page.keyboard.press("ArrowDown")
    assert page.locator("[data-rank-item] .rank-text").nth(1).inner_text() == first
    assert "Moved to position 2 of 2" in page.inner_text("[data-rank-announce]")
    page.keyboard.press("Control+Enter")
    page.wait_for_selector("text=Thank you! Your work is saved.")
    assert Ranking.objects.get(user=user).ranking == [1, 0]


def test_rank_by_drag(page: Any, live_server: Any, e2e_settings: Any) -> None:
    helpers = [make_user(f"helper{i}") for i in range(4)]
    seed.ranking_tree(helpers[3], helpers[:3])
    user = make_user("dragger")
    sign_in(page, live_server, user)
    page.goto(f"{live_server.url}/tasks/new/rank_assistant_replies/")
    first = page.locator("[data-rank-item] .rank-text").nth(0).inner_text()
    page.drag_and_drop(
        "[data-rank-item] >> nth=0", "[data-rank-item] >> nth=1", target_position={"x": 20, "y": 60}
    )
    assert page.locator("[data-rank-item] .rank-text").nth(1).inner_text() == first
    page.check("input[name=not_rankable]")
    page.click("#task-form [data-submit]")
    page.wait_for_selector("text=Thank you! Your work is saved.")
    ranking = Ranking.objects.get(user=user)
    assert ranking.ranking == [1, 0] and ranking.not_rankable


def test_reply_as_assistant_and_as_prompter(page: Any, live_server: Any, e2e_settings: Any) -> None:
    author, reviewer = make_user("author"), make_user("reviewer")
    prompt = seed.growing_tree(author, reviewer)
    user = make_user("replier")
    sign_in(page, live_server, user)
    page.goto(f"{live_server.url}/tasks/new/assistant_reply/")
    page.wait_for_selector("text=How do tides work")
    page.fill(
        "#reply-text",
        "The moon's gravity pulls the oceans into two bulges, and the earth turns through both of them every day.",
    )
    page.click("[data-review]")
    page.click("#task-form [data-submit]")
    page.wait_for_selector("text=Thank you! Your work is saved.")
    reply = Message.objects.get(user=user)
    assert reply.parent_id == prompt.pk and reply.role == "assistant"
    seed.review(reviewer, TaskType.LABEL_ASSISTANT_REPLY)
    asker = make_user("asker")
    page.context.clear_cookies()
    sign_in(page, live_server, asker)
    page.goto(f"{live_server.url}/tasks/new/prompter_reply/")
    page.wait_for_selector("text=two bulges")
    page.emulate_media(color_scheme="dark")
    shot(page, "prompter_reply_dark")
    page.fill(
        "#reply-text",
        "Thanks! Then why is one of the two daily high tides often higher than the other one?",
    )
    page.click("[data-review]")
    page.click("#task-form [data-submit]")
    page.wait_for_selector("text=Thank you! Your work is saved.")
    assert Message.objects.get(user=asker).parent_id == reply.pk


def test_skip_asks_only_when_something_was_typed(
    page: Any, live_server: Any, e2e_settings: Any
) -> None:
    for i in range(2):
        seed.write_prompt(make_user(f"author{i}"), f"{PROMPT} Variant {i}.")
    user = make_user("skipper")
    sign_in(page, live_server, user)
    page.goto(f"{live_server.url}/tasks/new/initial_prompt/")
    page.fill("#reply-text", "Something I typed")
    dialogs: list[str] = []

    def dismiss(dialog: Any) -> None:
        dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", dismiss)
    page.click("[data-skip]")
    page.wait_for_timeout(300)
    assert dialogs and "thrown away" in dialogs[0]
    assert not Task.objects.filter(user=user, skipped=True).exists()
    page.remove_listener("dialog", dismiss)
    page.goto(f"{live_server.url}/tasks/new/label_initial_prompt/")
    page.fill("#skip-reason", "not my topic")
    page.click("[data-skip]")
    page.wait_for_selector("text=Skipped. Here is another task.")
    skipped = Task.objects.get(user=user, skipped=True)
    assert skipped.skip_reason == "not my topic"
    assert len(dialogs) == 1


def test_report_and_react_on_a_message(page: Any, live_server: Any, e2e_settings: Any) -> None:
    prompt = seed.write_prompt(make_user("author"), PROMPT)
    user = make_user("reporter")
    sign_in(page, live_server, user)
    page.goto(f"{live_server.url}/messages/{prompt.pk}/")
    page.click(f"#message-{prompt.pk} >> nth=0 >> button[data-emoji='+1']")
    page.wait_for_selector(f"#reactions-{prompt.pk} button[data-emoji='+1'][aria-pressed=true]")
    page.locator(f"#message-{prompt.pk} >> text=Report").first.click()
    page.fill(f"#report-reason-{prompt.pk}", "It contains a private phone number.")
    page.click("text=Send report")
    page.wait_for_selector("text=The moderators will look at your report")
    shot(page, "message_page_reported")
    assert (
        TextLabel.objects.get(user=user, is_report=True).text
        == "It contains a private phone number."
    )


def test_a_volunteer_cannot_open_staff_pages(page: Any, live_server: Any) -> None:
    user = make_user("plain")
    sign_in(page, live_server, user)
    page.goto(f"{live_server.url}/admin/")
    assert "/admin/login/" in page.url
    page.goto(f"{live_server.url}/admin/trees/message/")
    assert "/admin/login/" in page.url
    page.goto(f"{live_server.url}/dashboard/")
    assert page.locator("nav >> text=Admin").count() == 0


@pytest.mark.parametrize("page", [{"width": 360, "height": 740}], indirect=True)
def test_a_task_at_phone_width(page: Any, live_server: Any, e2e_settings: Any) -> None:
    helpers = [make_user(f"helper{i}") for i in range(4)]
    seed.ranking_tree(helpers[3], helpers[:3])
    user = make_user("phone")
    sign_in(page, live_server, user)
    page.goto(f"{live_server.url}/dashboard/")
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 360
    page.goto(f"{live_server.url}/tasks/new/rank_assistant_replies/")
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 360
    page.click("[data-rank-item] >> nth=0 >> [data-move=down]")
    shot(page, "phone_rank_task")
    page.click("#task-form [data-submit]")
    page.wait_for_selector("text=Thank you! Your work is saved.")
    assert Ranking.objects.get(user=user).ranking == [1, 0]
