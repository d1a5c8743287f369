"""The newcomer's walk through the demo, in a real browser: the customer in the widget on
/demo/, a teammate in the inbox, both live over websockets served by daphne."""

import pytest

from tests.browser.live import open_inbox_as, seeded_demo

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]


@pytest.fixture
def demo():
    return seeded_demo()


def test_customer_and_teammate_complete_the_round_trip(demo, running_web, browser_page):
    customer = browser_page()
    customer.goto(f"{running_web.url}/demo/")
    customer.get_by_test_id("widget-panel").wait_for()  # the demo page opens the widget
    widget_input = customer.get_by_test_id("widget-input")
    widget_messages = customer.get_by_test_id("widget-message")

    widget_input.fill("hi")
    widget_input.press("Enter")
    ai_reply = widget_messages.nth(1)
    ai_reply.wait_for()

    teammate = open_inbox_as(browser_page(), running_web.url, demo, "ana")
    assert teammate.get_by_test_id("session-item").count() == 0

    # The customer asks for a person: the inbox shows it without a reload.
    widget_input.fill("can I talk to a human?")
    widget_input.press("Enter")
    queued_notice = customer.get_by_test_id("widget-message").filter(
        has_text="with you shortly")
    queued_notice.wait_for()
    session_item = teammate.get_by_test_id("session-item").first
    session_item.wait_for()
    queued_card = session_item.inner_text()
    assert "Web widget" in queued_card and "Demo Assistant" in queued_card
    assert "can I talk to a human?" in queued_card  # the summary

    session_item.click()
    teammate.get_by_test_id("accept").click()
    teammate.get_by_test_id("resolve").wait_for()
    transcript = teammate.get_by_test_id("transcript")
    assert "can I talk to a human?" in transcript.inner_text()

    accepted_notice = customer.get_by_test_id("widget-message").filter(has_text="Ana")
    accepted_notice.first.wait_for()

    reply_input = teammate.get_by_test_id("reply-input")
    reply_input.fill("Hi, I'm Ana. How can I help?")
    reply_input.press("Enter")
    customer.get_by_test_id("widget-message").filter(has_text="How can I help?").wait_for()

    widget_input.fill("My parcel never arrived")
    widget_input.press("Enter")
    transcript.get_by_test_id("message").filter(has_text="My parcel never arrived").wait_for()

    teammate.get_by_test_id("resolve").click()
    customer.get_by_test_id("widget-message").filter(has_text="handed the conversation back").wait_for()

    # Back with the AI: the next message gets an AI answer in the widget.
    before = customer.get_by_test_id("widget-message").count()
    widget_input.fill("thanks, one more question")
    widget_input.press("Enter")
    customer.get_by_test_id("widget-message").nth(before + 1).wait_for()

    # The customer keeps the conversation across a reload.
    customer.reload()
    customer.get_by_test_id("widget-message").filter(has_text="How can I help?").wait_for()


def test_widget_and_inbox_reconnect_by_themselves_after_a_server_restart(demo, running_web, browser_page):
    customer = browser_page()
    customer.goto(f"{running_web.url}/demo/")
    widget_input = customer.get_by_test_id("widget-input")
    widget_input.fill("can I talk to a human?")
    widget_input.press("Enter")
    customer.get_by_test_id("widget-message").filter(has_text="with you shortly").wait_for()

    teammate = open_inbox_as(browser_page(), running_web.url, demo, "ana")
    teammate.get_by_test_id("session-item").first.click()
    teammate.get_by_test_id("accept").click()
    teammate.get_by_test_id("resolve").wait_for()

    running_web.restart()

    # Neither side reloads: both sockets come back by themselves and the chat goes on.
    widget_input.fill("are you still there?")
    widget_input.press("Enter")
    teammate.get_by_test_id("transcript").get_by_test_id("message").filter(
        has_text="are you still there?").wait_for(timeout=30_000)
    reply_input = teammate.get_by_test_id("reply-input")
    reply_input.fill("Yes, still here.")
    reply_input.press("Enter")
    customer.get_by_test_id("widget-message").filter(has_text="Yes, still here.").wait_for()
