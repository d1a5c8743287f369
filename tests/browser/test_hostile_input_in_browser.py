"""Hostile input in real browsers: markup stored through the real entry points shows as text and
never runs, and every page (inbox, admin, API docs, demo) works under the Content-Security-Policy.

Run: .venv/bin/pytest tests/browser/test_hostile_input_in_browser.py -q
"""

import json
import re
import urllib.request

import pytest
from django.contrib.auth import get_user_model
from playwright.sync_api import expect

from channels_gateway.models import ChannelConnection
from conversations.models import AIAgent
from inbox.models import CannedReply
from orgs.models import Organization
from tests.browser.live import open_inbox_as, seeded_demo

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]


def hostile(tag: str) -> str:
    """Markup that would set window.__xss (or open a dialog) if a page ever parsed it as HTML."""
    return {
        "img": f'<img src=x onerror="window.__xss=\'{tag}\'">',
        "script": f'<script>window.__xss="{tag}"</script>',
        "svg": f'<svg onload=alert("{tag}")>',
    }


ORG_NAME = "Acme " + hostile("org")["script"]
AGENT_NAME = "Bot " + hostile("agent")["img"]
TEAMMATE_FIRST_NAME = "Ana " + hostile("teammate")["svg"]
CONTACT_NAME = "Tess " + hostile("contact")["svg"]
TELEGRAM_TEXT = "can I talk to a human please? " + hostile("telegram message")["img"]
WIDGET_TEXT = hostile("widget message")["script"] + " javascript:alert(1) can I talk to a human?"
API_SUMMARY = "Parcel lost " + hostile("summary")["img"]
NOTE_TEXT = "Note " + hostile("note")["img"]
CANNED_TITLE = "Sorry " + hostile("canned title")["svg"]
CANNED_TEXT = "Canned " + hostile("canned text")["script"]
REPLY_TEXT = "Reply " + hostile("reply")["img"] + ' <a href="javascript:window.__xss=1">click</a>'


@pytest.fixture
def hostile_demo():
    """The demo installation, with markup in every name an admin or a teammate can type."""
    demo = seeded_demo()
    org_id = demo["organization"]["id"]
    Organization.objects.filter(pk=org_id).update(name=ORG_NAME)
    AIAgent.objects.filter(organization_id=org_id).update(name=AGENT_NAME)
    get_user_model().objects.filter(username="ana").update(first_name=TEAMMATE_FIRST_NAME)
    CannedReply.objects.create(organization_id=org_id, title=CANNED_TITLE, text=CANNED_TEXT)
    # Read here: once Playwright runs, the test's thread has an event loop and no ORM.
    telegram = ChannelConnection.objects.get(organization_id=org_id, platform="telegram")
    demo["telegram"] = {"key": telegram.key, "secret_token": telegram.secrets["secret_token"]}
    demo["widget_connection_id"] = ChannelConnection.objects.get(key=demo["widget"]["key"]).pk
    return demo


def post_json(url: str, body: dict, headers: dict) -> dict:
    request = urllib.request.Request(url, data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json", **headers})
    with urllib.request.urlopen(request, timeout=20) as response:
        assert response.status in (200, 201)
        return json.loads(response.read() or b"{}")


def store_through_the_webhook_and_the_api(demo: dict, base_url: str) -> None:
    telegram = demo["telegram"]
    update = {"update_id": 1, "message": {
        "message_id": 1, "date": 1764000000, "text": TELEGRAM_TEXT,
        "from": {"id": 77, "is_bot": False, "first_name": CONTACT_NAME},
        "chat": {"id": 77, "type": "private", "first_name": CONTACT_NAME}}}
    post_json(f"{base_url}/webhooks/telegram/{telegram['key']}/", update,
              {"X-Telegram-Bot-Api-Secret-Token": telegram["secret_token"]})

    api, auth = f"{base_url}/api/v1", {"Authorization": f"Bearer {demo['api']['key']}"}
    created = post_json(f"{api}/messages/", {"connection": demo["api"]["connection"], "contact_id": "api-user",
                                             "text": "My parcel never arrived", "message_id": "m-1"}, auth)
    post_json(f"{api}/conversations/{created['conversation_id']}/handoff/",
              {"reason": "asked for a person", "summary": API_SUMMARY}, auth)


def watch_for_script(page) -> list[str]:
    """Dialogs a payload opened; window.__xss is checked separately."""
    dialogs = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    return dialogs


def assert_nothing_ran(page, dialogs: list[str]) -> None:
    assert page.evaluate("window.__xss") is None
    assert dialogs == []
    # Nothing was parsed into elements (Playwright's CSS locators pierce the widget's shadow root).
    expect(page.locator('img[src="x"], svg[onload], a[href^="javascript:"]')).to_have_count(0)


def test_stored_markup_shows_as_text_in_the_inbox_and_the_widget(hostile_demo, running_web, browser_page):
    demo, url = hostile_demo, running_web.url
    store_through_the_webhook_and_the_api(demo, url)
    # No CSP in these two pages: they must be safe by how they render, not only because the CSP
    # would block a script (the other browser tests run with the CSP and report any violation).
    customer = browser_page(bypass_csp=True)
    customer_dialogs = watch_for_script(customer)
    customer.goto(f"{url}/demo/")
    expect(customer.get_by_test_id("widget-panel")).to_be_visible()
    widget_input = customer.get_by_test_id("widget-input")
    widget_input.fill(WIDGET_TEXT)
    widget_input.press("Enter")
    customer.get_by_test_id("widget-message").filter(has_text="with you shortly").wait_for()

    ana = open_inbox_as(browser_page(bypass_csp=True), url, demo, "ana")
    ana_dialogs = watch_for_script(ana)
    waiting = ana.get_by_test_id("queue-waiting").get_by_test_id("session-item")
    expect(waiting).to_have_count(3)
    expect(ana.locator(".topbar .org-name")).to_have_text(ORG_NAME)
    expect(ana.locator(".topbar .who-name")).to_contain_text(TEAMMATE_FIRST_NAME)
    expect(waiting.filter(has_text=CONTACT_NAME)).to_have_count(1)
    expect(ana.get_by_test_id("agent-filter")).to_contain_text(AGENT_NAME)

    # The Telegram user's name and words, and the summary the API gave.
    waiting.filter(has_text=CONTACT_NAME).click()
    transcript = ana.get_by_test_id("transcript")
    expect(transcript.get_by_test_id("message").filter(has_text=TELEGRAM_TEXT)).to_have_count(1)
    waiting.filter(has_text=API_SUMMARY).click()
    expect(ana.locator(".panel")).to_contain_text(API_SUMMARY)

    # The widget visitor: accept, a note, a canned reply and a reply, all with markup in them.
    waiting.filter(has_text="javascript:alert(1)").click()
    expect(transcript.get_by_test_id("message").filter(has_text=WIDGET_TEXT)).to_have_count(1)
    ana.get_by_test_id("accept").click()
    expect(ana.get_by_test_id("resolve")).to_be_visible()
    reply_input = ana.get_by_test_id("reply-input")
    ana.get_by_test_id("note-toggle").click()
    reply_input.fill(NOTE_TEXT)
    reply_input.press("Enter")
    expect(transcript.locator('[data-author-kind="note"]')).to_contain_text(NOTE_TEXT)
    ana.get_by_test_id("note-toggle").click()
    reply_input.fill("/Sorry")
    canned = ana.get_by_test_id("canned-menu").get_by_test_id("canned-item")
    expect(canned).to_have_count(1)
    expect(canned).to_contain_text(CANNED_TITLE)
    canned.click()
    expect(reply_input).to_have_value(CANNED_TEXT)
    reply_input.press("Enter")
    reply_input.fill(REPLY_TEXT)
    reply_input.press("Enter")

    # The visitor sees the teammate's name, the agent's name and the replies as text.
    messages = customer.get_by_test_id("widget-message")
    messages.filter(has_text=CANNED_TEXT).wait_for()
    messages.filter(has_text=REPLY_TEXT).wait_for()
    expect(messages.filter(has_text=TEAMMATE_FIRST_NAME).first).to_be_visible()
    expect(customer.locator("handoff-widget .title")).to_have_text(AGENT_NAME)
    assert NOTE_TEXT not in customer.get_by_test_id("widget-messages").inner_text()
    expect(transcript.get_by_test_id("message").filter(has_text=REPLY_TEXT)).to_have_count(1)

    # The history search shows found words as text too.
    ana.get_by_role("tab", name="Queued").click()
    ana.get_by_test_id("search").fill("onerror")

    for page, dialogs in [(ana, ana_dialogs), (customer, customer_dialogs)]:
        page.wait_for_timeout(200)  # a payload's handler would have run by now
        assert_nothing_ran(page, dialogs)


ADMIN_PAGES = [
    "/admin/",
    "/admin/orgs/organization/",
    "/admin/orgs/membership/",
    "/admin/orgs/apikey/add/",
    "/admin/channels_gateway/channelconnection/",
    "/admin/channels_gateway/channelconnection/add/",
    "/admin/conversations/conversation/",
    "/admin/inbox/cannedreply/add/",
]


def test_the_admin_api_docs_demo_and_login_work_under_the_csp(hostile_demo, running_web, browser_page):
    """No bypass here: the fixture fails the test on any CSP violation in the console."""
    url = running_web.url
    password = next(user["password"] for user in hostile_demo["users"] if user["username"] == "admin")

    page = browser_page()
    dialogs = watch_for_script(page)
    page.goto(f"{url}/admin/")
    page.get_by_label("Username").fill("admin")
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name=re.compile("log in", re.I)).click()
    expect(page.locator("#site-name")).to_be_visible()
    for path in ADMIN_PAGES:
        page.goto(url + path)
        expect(page.locator("#content")).to_be_visible()
    # The channel connection form: its collapsed fieldsets open (admin JavaScript runs).
    page.goto(f"{url}/admin/channels_gateway/channelconnection/{hostile_demo['widget_connection_id']}/change/")
    page.locator("details summary").filter(has_text="Advanced").click()
    expect(page.locator('textarea[name="config"]')).to_be_visible()
    expect(page.locator("#content")).to_contain_text(AGENT_NAME)
    # An admin action: select all, choose, confirm page.
    page.goto(f"{url}/admin/inbox/cannedreply/")
    page.locator("#action-toggle").check()
    page.locator('select[name="action"]').select_option("delete_selected")
    page.locator('button[name="index"]').click()
    expect(page.locator("#content")).to_contain_text(CANNED_TITLE)
    assert_nothing_ran(page, dialogs)

    docs = browser_page()
    docs.goto(f"{url}/api/v1/docs/")
    expect(docs.locator(".swagger-ui .info .title")).to_contain_text("Handoff API")
    expect(docs.locator(".opblock").first).to_be_visible()

    demo = browser_page()
    demo.goto(f"{url}/demo/")
    expect(demo.get_by_test_id("widget-panel")).to_be_visible()
    expect(demo.locator("handoff-widget .title")).to_have_text(AGENT_NAME)


def test_a_locked_out_login_shows_the_message_on_the_login_page(hostile_demo, running_web, browser_page, settings):
    page = browser_page()
    page.goto(f"{running_web.url}/accounts/login/")
    for _ in range(settings.AXES_FAILURE_LIMIT):
        page.get_by_label("Username").fill("ana")
        page.get_by_label("Password").fill("not the password")
        page.get_by_role("button", name=re.compile("log in", re.I)).click()
        page.wait_for_load_state()
    expect(page.get_by_test_id("lockout")).to_contain_text("Too many failed log-ins")
    expect(page.get_by_label("Username")).to_have_value("ana")
