"""The team inbox in real browsers: two teammates (ana, ben) and customers, each in their own
browser context, against a real daphne on the test database.

Run: .venv/bin/pytest tests/browser -q
Screenshots for the docs: HANDOFF_SCREENSHOTS=1 .venv/bin/pytest tests/browser -q -k screenshots
"""

import json
import os
import re
import urllib.request
from pathlib import Path

import pytest
from django.conf import settings
from playwright.sync_api import expect

from channels_gateway.models import ChannelConnection
from inbox.models import CannedReply
from tests.browser.live import WebProcess, open_inbox_as, seeded_demo

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]

CANNED = [
    ("Greeting", "Hi, I'm here to help. Could you share your order number?"),
    ("Refund policy", "Refunds reach your card within 5 business days of the return arriving."),
]


@pytest.fixture
def demo():
    report = seeded_demo()
    for title, text in CANNED:
        CannedReply.objects.get_or_create(organization_id=report["organization"]["id"], title=title,
                                          defaults={"text": text})
    return report


@pytest.fixture
def web_with_telegram(transactional_db, telegram):
    """running_web, with the web process pointed at the fake Telegram (live.py unchanged)."""
    web = WebProcess()
    web.env["TELEGRAM_API_BASE_URL"] = telegram.url
    web.start()
    try:
        yield web
    finally:
        web.stop()


def widget_customer(browser_page, base_url: str):
    customer = browser_page()
    customer.goto(f"{base_url}/demo/")
    customer.get_by_test_id("widget-panel").wait_for()
    return customer


def say(customer, text: str):
    widget_input = customer.get_by_test_id("widget-input")
    widget_input.fill(text)
    widget_input.press("Enter")


def ask_for_a_human(customer):
    say(customer, "can I talk to a human?")
    customer.get_by_test_id("widget-message").filter(has_text="with you shortly").wait_for()


def teammate_row(page, name: str):
    return page.get_by_test_id("teammate").filter(has_text=name)


def test_two_teammates_race_for_a_session_then_chat_live_with_notes_and_canned_replies(
        demo, running_web, browser_page):
    ana = open_inbox_as(browser_page(), running_web.url, demo, "ana")
    ben = open_inbox_as(browser_page(), running_web.url, demo, "ben")
    customer = widget_customer(browser_page, running_web.url)
    assert ana.title() == "Inbox · Handoff"

    # The customer asks for a person: both queues show it live, with the count in the title.
    ask_for_a_human(customer)
    for page in (ana, ben):
        item = page.get_by_test_id("queue-waiting").get_by_test_id("session-item")
        expect(item).to_have_count(1)
        expect(item).to_contain_text("Web widget")
        expect(item).to_contain_text("Demo Assistant")
        expect(item).to_contain_text("can I talk to a human?")
        expect(item.locator('.channel-icon[data-channel="widget"]').first).to_be_attached()
        expect(page.get_by_test_id("waiting-time")).to_have_text(re.compile(r"^\d+s$"))
        expect(page).to_have_title("(1) Inbox · Handoff")
        expect(page.get_by_test_id("bell-count")).to_have_text("1")
        item.click()

    # Both accept at once: exactly one wins, the other is told who took it.
    ana.get_by_test_id("accept").dispatch_event("click")
    ben.get_by_test_id("accept").dispatch_event("click")
    decided = re.compile("took this conversation first|is handling this conversation")
    for page in (ana, ben):
        expect(page.locator('[data-testid="resolve"]:not([hidden])').or_(
            page.get_by_test_id("conversation-status").filter(has_text=decided))).to_be_visible()
    ana_won = ana.get_by_test_id("resolve").is_visible()
    winner, loser = (ana, ben) if ana_won else (ben, ana)
    winner_name, first = ("Ana Silva", "Ana") if ana_won else ("Ben Okafor", "Ben")
    expect(loser.get_by_test_id("resolve")).to_be_hidden()
    expect(loser.get_by_test_id("conversation-status")).to_contain_text(winner_name)
    expect(loser.get_by_test_id("queue-live").get_by_test_id("holder")).to_contain_text(winner_name)
    expect(winner.get_by_test_id("queue-live").get_by_test_id("holder")).to_have_text("With you")
    expect(winner).to_have_title("Inbox · Handoff")
    customer.get_by_test_id("widget-message").filter(has_text=first).first.wait_for()

    # Messages flow both ways, with typing shown on both sides.
    reply_input = winner.get_by_test_id("reply-input")
    reply_input.press_sequentially("Hi, how can I help?")
    expect(customer.get_by_test_id("widget-typing")).to_have_text(f"{first} is typing…")
    reply_input.press("Enter")
    customer.get_by_test_id("widget-message").filter(has_text="how can I help?").wait_for()
    expect(winner.get_by_test_id("transcript").get_by_test_id("message").filter(has_text="how can I help?")
           .get_by_test_id("delivery")).to_have_text("sent")

    customer.get_by_test_id("widget-input").press_sequentially("My parcel")
    expect(winner.get_by_test_id("typing-indicator")).to_contain_text("is typing…")
    say(customer, "My parcel never arrived")
    winner.get_by_test_id("transcript").get_by_test_id("message").filter(has_text="never arrived").wait_for()
    loser.get_by_test_id("transcript").get_by_test_id("message").filter(has_text="never arrived").wait_for()

    # An internal note: yellow, labelled, seen by the team, never by the customer.
    winner.get_by_test_id("note-toggle").click()
    expect(winner.get_by_test_id("composer-mode")).to_have_text("Internal note — the customer does not see this")
    reply_input.fill("Carrier says it is stuck in the depot")
    reply_input.press("Enter")
    for page in (winner, loser):
        note = page.get_by_test_id("transcript").locator('[data-author-kind="note"]')
        expect(note).to_contain_text("stuck in the depot")
        expect(note.get_by_test_id("note-label")).to_have_text("Internal note — the customer does not see this")
    winner.get_by_test_id("note-toggle").click()

    # A canned reply: "/" at the start opens the filtered list; choosing inserts the text.
    reply_input.fill("/ref")
    menu = winner.get_by_test_id("canned-menu")
    expect(menu.get_by_test_id("canned-item")).to_have_count(1)
    menu.get_by_test_id("canned-item").click()
    expect(reply_input).to_have_value(CANNED[1][1])
    reply_input.press("Enter")
    customer.get_by_test_id("widget-message").filter(has_text="5 business days").wait_for()
    customer.wait_for_timeout(300)
    assert "stuck in the depot" not in customer.get_by_test_id("widget-messages").inner_text()

    # Resolve hands the customer back to the AI, who answers the next message.
    winner.get_by_test_id("resolve").click()
    customer.get_by_test_id("widget-message").filter(has_text="handed the conversation back").wait_for()
    before = customer.get_by_test_id("widget-message").count()
    say(customer, "thanks, one more question")
    customer.get_by_test_id("widget-message").nth(before + 1).wait_for()
    expect(loser.get_by_test_id("session-item")).to_have_count(0)

    # History: the resolved session is found by what was said, and opens read-only.
    loser.get_by_role("tab", name="Resolved").click()
    history = loser.get_by_test_id("queue-history").get_by_test_id("session-item")
    expect(history).to_have_count(1)
    loser.get_by_test_id("search").fill("no such words anywhere")
    expect(history).to_have_count(0)
    loser.get_by_test_id("search").fill("never arrived")
    expect(history).to_have_count(1)
    history.click()
    expect(loser.get_by_test_id("conversation-status")).to_have_text(f"Resolved by {winner_name}")


def test_a_failed_telegram_delivery_shows_its_reason_and_can_be_retried(
        demo, telegram, web_with_telegram, browser_page):
    web = web_with_telegram
    chat_id = 424242
    update = {
        "update_id": 1,
        "message": {
            "message_id": 7, "date": 1764000000, "text": "can I talk to a human?",
            "from": {"id": chat_id, "is_bot": False, "first_name": "Maria", "last_name": "Lopez"},
            "chat": {"id": chat_id, "type": "private", "first_name": "Maria", "last_name": "Lopez"},
        },
    }
    request = urllib.request.Request(
        f"{web.url}/webhooks/telegram/{telegram.connection.key}/", data=json.dumps(update).encode(),
        headers={"Content-Type": "application/json",
                 "X-Telegram-Bot-Api-Secret-Token": telegram.connection.secrets["secret_token"]},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 200

    ana = open_inbox_as(browser_page(), web.url, demo, "ana")
    item = ana.get_by_test_id("queue-waiting").get_by_test_id("session-item")
    expect(item).to_contain_text("Maria Lopez")
    expect(item.get_by_test_id("channel")).to_contain_text("Telegram")

    # Keyboard: n opens the next waiting session, a accepts it.
    ana.locator("body").press("n")
    expect(ana.get_by_test_id("accept")).to_be_visible()
    ana.locator("body").press("a")
    expect(ana.get_by_test_id("resolve")).to_be_visible()

    # The user blocks the bot: Telegram refuses the reply, and the inbox says why.
    telegram.blocked_chats.add(str(chat_id))
    ana.get_by_test_id("reply-input").fill("Let me check that for you.")
    ana.get_by_test_id("reply-input").press("Enter")
    message = ana.get_by_test_id("transcript").get_by_test_id("message").filter(has_text="Let me check")
    expect(message.get_by_test_id("delivery")).to_contain_text("Forbidden: bot was blocked by the user")
    expect(message).to_have_attribute("data-delivery-status", "failed")

    # Unblocked: Retry sends it again.
    telegram.blocked_chats.clear()
    message.get_by_test_id("retry").click()
    expect(message.get_by_test_id("delivery")).to_have_text("sent")
    assert "Let me check that for you." in telegram.delivered(chat_id)

    # r asks before resolving.
    ana.locator("body").press("r")
    ana.get_by_test_id("confirm-resolve").get_by_test_id("confirm-ok").click()
    expect(ana.get_by_test_id("session-status")).to_have_text("Resolved")


def test_presence_transfer_and_a_closed_tab_going_offline(demo, running_web, browser_page):
    ana = browser_page()
    ana.clock.install()  # to skip ahead to "idle" without waiting five minutes
    open_inbox_as(ana, running_web.url, demo, "ana")
    ben = open_inbox_as(browser_page(), running_web.url, demo, "ben")

    expect(teammate_row(ben, "Ana Silva")).to_have_attribute("data-presence", "online")
    expect(teammate_row(ana, "Ben Okafor")).to_have_attribute("data-presence", "online")
    expect(teammate_row(ben, "Alex Admin")).to_have_attribute("data-presence", "offline")

    # Five minutes without input: away; the next input: online again.
    ana.clock.fast_forward("05:15")
    expect(teammate_row(ben, "Ana Silva")).to_have_attribute("data-presence", "away")
    ana.mouse.move(200, 300)
    ana.mouse.move(220, 320)
    expect(teammate_row(ben, "Ana Silva")).to_have_attribute("data-presence", "online")

    # Ana takes a conversation and hands it to Ben, the only other teammate online.
    customer = widget_customer(browser_page, running_web.url)
    ask_for_a_human(customer)
    ana.get_by_test_id("session-item").first.click()
    ana.get_by_test_id("accept").click()
    expect(teammate_row(ben, "Ana Silva").get_by_test_id("teammate-sessions")).to_have_text("1")
    ana.get_by_test_id("transfer").click()
    options = ana.get_by_test_id("transfer-option")
    expect(options).to_have_count(1)
    expect(options).to_contain_text("Ben Okafor")
    options.click()
    expect(ben.get_by_test_id("queue-live").get_by_test_id("holder")).to_have_text("With you")
    expect(ana.get_by_test_id("queue-live").get_by_test_id("holder")).to_have_text("With Ben Okafor")
    expect(teammate_row(ana, "Ben Okafor").get_by_test_id("teammate-sessions")).to_have_text("1")
    customer.get_by_test_id("widget-message").filter(has_text="Ben").first.wait_for()

    # Ana closes her tab: Ben sees her go offline.
    ana.context.close()
    expect(teammate_row(ben, "Ana Silva")).to_have_attribute("data-presence", "offline")


@pytest.fixture
def three_waiting(demo, settings):
    """Three customers waiting on other channels (made before the browser starts: the ORM is
    synchronous). Their "we'll be with you" notices go nowhere: the platform APIs point at a
    closed port."""
    from conversations.models import Conversation, HandoffTrigger
    from conversations.services.handoff import handoff_escalate
    from conversations.tests.factories import ContactFactory

    for name in ("TELEGRAM_API_BASE_URL", "SLACK_API_BASE_URL", "META_GRAPH_BASE_URL", "DISCORD_API_BASE_URL",
                 "GOOGLE_CHAT_API_BASE_URL"):
        setattr(settings, name, "http://127.0.0.1:9")
    organization_id = demo["organization"]["id"]
    waiting = [
        ("telegram", "Maria Lopez", "Wants to change the delivery address of order #4411 before it ships.",
         "can someone change my address?"),
        ("whatsapp", "Kenji Watanabe", "Charged twice for the same order; asks for a refund of the duplicate.",
         "I was charged twice"),
        ("instagram", "Chloé Martin", "Asks whether the linen shirt comes in XL and when it is back in stock.",
         "talk to a person please"),
    ]
    for platform, name, summary, reason in waiting:
        connection = ChannelConnection.objects.get(organization_id=organization_id, platform=platform)
        contact = ContactFactory(connection=connection, display_name=name)
        conversation = Conversation.objects.create(
            connection=connection, organization_id=organization_id, agent=connection.agent, contact=contact,
            external_thread_id=contact.external_id)
        handoff_escalate(conversation_id=conversation.pk, trigger=HandoffTrigger.GUARD, reason=reason,
                         summary=summary)


@pytest.mark.skipif(not os.environ.get("HANDOFF_SCREENSHOTS"), reason="set HANDOFF_SCREENSHOTS=1 to refresh docs/screenshots")
def test_screenshots(demo, three_waiting, running_web, browser_page):
    """docs/screenshots/inbox-queue.png and inbox-live-chat.png, 1280×800, from a realistic state."""
    out = Path(settings.BASE_DIR) / "docs" / "screenshots"
    out.mkdir(parents=True, exist_ok=True)

    ana = browser_page()
    ana.set_viewport_size({"width": 1280, "height": 800})
    open_inbox_as(ana, running_web.url, demo, "ana")
    open_inbox_as(browser_page(), running_web.url, demo, "ben")
    customer = widget_customer(browser_page, running_web.url)
    say(customer, "Hi! My order #4398 says delivered but nothing is here.")
    customer.get_by_test_id("widget-message").nth(1).wait_for()
    ask_for_a_human(customer)
    expect(ana.get_by_test_id("queue-waiting").get_by_test_id("session-item")).to_have_count(4)
    ana.wait_for_timeout(3000)  # let the "new" flash settle and the clocks tick
    ana.screenshot(path=str(out / "inbox-queue.png"))

    ana.get_by_test_id("queue-waiting").get_by_test_id("session-item").last.click()
    ana.get_by_test_id("accept").click()
    reply_input = ana.get_by_test_id("reply-input")
    reply_input.fill("/gre")
    ana.get_by_test_id("canned-item").first.click()
    reply_input.press("Enter")
    say(customer, "It's 4398. The tracking page says it was left at the front door.")
    ana.get_by_test_id("transcript").get_by_test_id("message").filter(has_text="front door").wait_for()
    ana.get_by_test_id("note-toggle").click()
    reply_input.fill("Neighbour reported a parcel at no. 12 last week. Check with the carrier before refunding.")
    reply_input.press("Enter")
    ana.get_by_test_id("note-toggle").click()
    for toast in ana.get_by_test_id("toast").all():
        toast.locator(".toast-close").click()
    customer.wait_for_timeout(2100)  # the server takes one typing signal per 2 s
    customer.get_by_test_id("widget-input").press_sequentially("Can you send a new one?")
    expect(ana.get_by_test_id("typing-indicator")).to_be_visible()
    reply_input.fill("Let me check with the carrier")
    ana.wait_for_timeout(400)
    ana.screenshot(path=str(out / "inbox-live-chat.png"))
    if os.environ.get("HANDOFF_SCREENSHOTS_EXTRA"):  # dark mode and a tablet, for a look
        extra = Path(os.environ["HANDOFF_SCREENSHOTS_EXTRA"])
        ana.emulate_media(color_scheme="dark")
        ana.screenshot(path=str(extra / "inbox-dark.png"))
        ana.set_viewport_size({"width": 768, "height": 1024})
        ana.screenshot(path=str(extra / "inbox-tablet-dark.png"))
        ana.emulate_media(color_scheme="light")
        ana.get_by_test_id("team-toggle").click()
        ana.wait_for_timeout(300)
        ana.screenshot(path=str(extra / "inbox-tablet-team.png"))
