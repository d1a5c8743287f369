"""Redis is stopped and started during traffic, with two teammates' inboxes open in Chromium.

The web process (daphne, on the test database) uses a private redis-server that restarts
empty. While it is down, Telegram keeps delivering: every webhook is answered 200 and
stored (the events that could not be published are only a log line). When it is back, the
open inboxes reconnect by themselves and reload the queue and the open conversation from
the database: no page reload, and nothing stored is missing.
"""

import json
import time
import urllib.error
import urllib.request


import pytest

from channels_gateway.models import ChannelConnection
from conversations.models import AuthorKind, Message
from tests.browser.live import WebProcess, open_inbox_as, seeded_demo
from tests.browser.off_thread import off_the_browser_thread

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]

INBOXES = ("ana", "ben")
WATCHED_CHAT = 5101
NEWCOMERS = (5102, 5103)
DOWN_MESSAGES = 6
AFTER_MESSAGES = 2
OUTAGE_SECONDS = 4


@pytest.fixture
def demo(transactional_db):
    return seeded_demo()


@pytest.fixture
def web_on_private_redis(transactional_db, telegram, private_redis):
    web = WebProcess()
    web.env.update(REDIS_URL=private_redis.url, TELEGRAM_API_BASE_URL=telegram.url)
    web.start()
    try:
        yield web
    finally:
        web.stop()


class TelegramChats:
    def __init__(self, web_url: str, connection: ChannelConnection) -> None:
        self.url = f"{web_url}/webhooks/telegram/{connection.key}/"
        self.secret = connection.secrets["secret_token"]
        self.next_id = 0
        self.answers: list[int] = []
        self.sent: list[tuple[int, str]] = []

    def write(self, chat_id: int, text: str) -> int:
        self.next_id += 1
        user = {"id": chat_id, "is_bot": False, "first_name": "Chat", "last_name": str(chat_id)}
        update = {"update_id": self.next_id, "message": {
            "message_id": self.next_id, "date": int(time.time()), "text": text,
            "from": user, "chat": {**user, "type": "private"}}}
        request = urllib.request.Request(self.url, data=json.dumps(update).encode(), headers={
            "Content-Type": "application/json", "X-Telegram-Bot-Api-Secret-Token": self.secret})
        try:
            with urllib.request.urlopen(request, timeout=15) as response:
                status = response.status
        except urllib.error.HTTPError as refused:
            status = refused.code
        self.answers.append(status)
        self.sent.append((chat_id, text))
        return status


def what_the_inbox_shows(page) -> dict:
    return page.evaluate("""() => ({
        transcript: [...document.querySelectorAll('[data-testid="transcript"] [data-testid="message"] .msg-bubble')]
            .map((node) => node.textContent),
        waiting: [...document.querySelectorAll('[data-testid="queue-waiting"] [data-testid="session-item"]')]
            .map((node) => node.textContent),
        banner: document.querySelector('[data-testid="connection-status"]').hidden ? "" :
            document.querySelector('[data-testid="connection-status"]').textContent,
        sameDocument: window.handoffTestDocument === true,
    })""")


@pytest.mark.faults
def test_inboxes_reconnect_and_resynchronise_after_redis_restarts_and_nothing_stored_is_missing(
        demo, telegram, private_redis, web_on_private_redis, browser_page, fault_report):
    chats = TelegramChats(web_on_private_redis.url, telegram.connection)
    assert chats.write(WATCHED_CHAT, "can I talk to a human?") == 200

    pages = {}
    for username in INBOXES:
        page = open_inbox_as(browser_page(), web_on_private_redis.url, demo, username)
        page.get_by_test_id("queue-waiting").get_by_test_id("session-item").filter(
            has_text=f"Chat {WATCHED_CHAT}").click()
        page.locator('[data-testid="transcript"] [data-testid="message"]').first.wait_for()
        page.evaluate("window.handoffTestDocument = true")  # gone if the page ever reloads
        pages[username] = page

    private_redis.stop()
    down_started = time.monotonic()
    for n in range(DOWN_MESSAGES):
        chats.write(WATCHED_CHAT, f"written while Redis is down {n}")
    for chat_id in NEWCOMERS:
        chats.write(chat_id, "can I talk to a human?")
    for page in pages.values():
        page.get_by_test_id("connection-status").filter(has_text="Reconnecting").wait_for()
    time.sleep(max(0.0, OUTAGE_SECONDS - (time.monotonic() - down_started)))  # the inboxes keep trying
    private_redis.start()
    outage = time.monotonic() - down_started
    for n in range(AFTER_MESSAGES):
        chats.write(WATCHED_CHAT, f"written after Redis is back {n}")

    watched_texts = [text for chat_id, text in chats.sent if chat_id == WATCHED_CHAT]
    newcomer_names = [f"Chat {chat_id}" for chat_id in NEWCOMERS]
    shown = {}
    for username, page in pages.items():
        page.wait_for_function(
            """([texts, names]) => {
                const transcript = new Set([...document.querySelectorAll(
                    '[data-testid="transcript"] [data-testid="message"] .msg-bubble')].map((node) => node.textContent));
                const queue = [...document.querySelectorAll('[data-testid="queue-waiting"] [data-testid="session-item"]')]
                    .map((node) => node.textContent);
                return texts.every((text) => transcript.has(text))
                    && names.every((name) => queue.some((item) => item.includes(name)));
            }""",
            arg=[watched_texts, newcomer_names], timeout=30_000,
        )
        shown[username] = what_the_inbox_shows(page)

    stored = off_the_browser_thread(lambda: Message.objects.filter(
        conversation__connection=telegram.connection, author_kind=AuthorKind.USER).count())

    def delivered_to(view: dict) -> int:
        in_transcript = sum(1 for text in watched_texts if text in view["transcript"])
        in_queue = sum(1 for name in newcomer_names if any(name in item for item in view["waiting"]))
        return in_transcript + in_queue

    delivered = min(delivered_to(view) for view in shown.values())
    duplicated = max(sum(view["transcript"].count(text) - 1 for text in watched_texts) for view in shown.values())
    fault_report(
        scenario="Redis is stopped and started during traffic",
        load=f"{len(INBOXES)} open inboxes, {len(chats.sent)} Telegram webhooks from 3 chats",
        faults=f"redis-server stopped {outage:.0f} s, restarted empty",
        sent=len(chats.sent), stored=stored, delivered=delivered, duplicated=duplicated,
        lost=len(chats.sent) - delivered,
    )
    assert set(chats.answers) == {200}  # taken while Redis was down too: the platform never retries
    assert stored == delivered == len(chats.sent) and duplicated == 0
    for view in shown.values():
        assert view["sameDocument"] and view["banner"] == ""
