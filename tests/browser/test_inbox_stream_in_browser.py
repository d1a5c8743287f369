"""Open inboxes never silently miss an event, even when the channel layer drops some.

Three teammates' inboxes (real Chromium, the real inbox.js) watch one waiting conversation
while a burst of customer messages and new handoffs is published with a channel capacity
of 1 on channels-redis's core layer: it drops every group message that finds a listener's
channel full. The frames each browser received show the holes; the inboxes still end up
showing everything, because inbox.js sees the gap in the stream's `seq` and reloads.
"""

import json
from concurrent.futures import ThreadPoolExecutor

import pytest

from channels_gateway.adapters.base import InboundMessage
from channels_gateway.models import ChannelConnection, Platform
from conversations.models import AuthorKind, HandoffSession, HandoffTrigger, Message
from conversations.services.handoff import handoff_escalate
from conversations.services.messages import receive_inbound_message
from tests.browser.live import WebProcess, open_inbox_as, seeded_demo
from tests.browser.off_thread import closing_connection, off_the_browser_thread

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]

TINY_CAPACITY = 1
CORE_LAYER = "channels_redis.core.RedisChannelLayer"
MESSAGES = 60
HANDOFFS = 6
PUBLISHERS = 12
INBOXES = ("admin", "ana", "ben")


@pytest.fixture
def tiny_channels(settings):
    """Both publishers, this process and the web process, drop what finds a channel full (the
    core layer's channels have a capacity; the pub/sub layer's have none)."""
    layer = settings.CHANNEL_LAYERS["default"]
    settings.CHANNEL_LAYERS = {"default": {**layer, "BACKEND": CORE_LAYER,
                                           "CONFIG": {**layer["CONFIG"], "capacity": TINY_CAPACITY}}}


@pytest.fixture
def overloaded_web(transactional_db, tiny_channels):
    web = WebProcess()
    web.env.update(CHANNEL_LAYER_BACKEND=CORE_LAYER, CHANNEL_LAYER_CAPACITY=str(TINY_CAPACITY))
    web.start()
    try:
        yield web
    finally:
        web.stop()


@pytest.fixture
def demo(transactional_db):
    return seeded_demo()


@pytest.fixture
def api(demo):
    return ChannelConnection.objects.get(organization_id=demo["organization"]["id"], platform=Platform.API)


def customer_writes(connection, contact: str, text: str, message_id: str):
    return receive_inbound_message(connection=connection, inbound=InboundMessage(
        contact_external_id=contact, thread_id=contact, text=text, platform_message_id=message_id,
        contact_name=contact.title()))


def waiting_conversation(connection, contact: str) -> HandoffSession:
    first = customer_writes(connection, contact, f"{contact} needs a person", f"{contact}-0")
    return handoff_escalate(conversation_id=first.message.conversation_id, trigger=HandoffTrigger.API,
                            reason="asked for a person").session


def record_frames(page) -> list[dict]:
    """Every frame the page's inbox socket received, as the browser saw it."""
    frames: list[dict] = []

    def on_socket(socket):
        if "/ws/inbox/" in socket.url:
            socket.on("framereceived", lambda payload: frames.append(json.loads(payload)))

    page.on("websocket", on_socket)
    return frames


def shown(page) -> dict:
    return page.evaluate("""() => ({
        messages: [...document.querySelectorAll('[data-testid="transcript"] [data-testid="message"] .msg-bubble')]
            .map((node) => node.textContent),
        waiting: [...document.querySelectorAll('[data-testid="queue-waiting"] [data-testid="session-item"]')]
            .map((node) => Number(node.dataset.sessionId)),
        resyncs: Number(document.getElementById("inbox-app").dataset.resyncs || 0),
    })""")


def missed_seqs(frames: list[dict]) -> set[int]:
    """Positions the layer never delivered to this socket (after its first snapshot)."""
    start = next(frame["seq"] for frame in frames if frame["type"] == "snapshot")
    arrived = {frame["seq"] for frame in frames if "seq" in frame and frame["type"] not in ("snapshot", "pong")}
    last = max(frame["seq"] for frame in frames if isinstance(frame.get("seq"), int))
    return set(range(start + 1, last + 1)) - arrived


@pytest.mark.faults
def test_every_open_inbox_ends_with_every_message_when_the_layer_drops_events(
        demo, api, overloaded_web, browser_page, fault_report):
    watched = off_the_browser_thread(waiting_conversation, api, "watched")

    pages, frames = {}, {}
    for username in INBOXES:
        page = browser_page()
        page.clock.install()  # real time, but the test can jump to the next ping
        frames[username] = record_frames(page)
        open_inbox_as(page, overloaded_web.url, demo, username)
        page.evaluate(f"location.hash = '#session-{watched.pk}'")
        page.locator('[data-testid="transcript"] [data-testid="message"]').first.wait_for()
        pages[username] = page

    sent = [f"message {n:02d}" for n in range(MESSAGES)]
    newcomers = [f"newcomer-{n}" for n in range(HANDOFFS)]

    def land(job):
        kind, name = job
        if kind == "message":
            return customer_writes(api, "watched", name, name)
        return waiting_conversation(api, name).pk

    # Many webhooks landing at once: each stored in its own transaction, published after it.
    jobs = [("message", text) for text in sent]
    for n, contact in enumerate(newcomers):
        jobs.insert((n + 1) * MESSAGES // (HANDOFFS + 1), ("handoff", contact))
    with ThreadPoolExecutor(PUBLISHERS) as publishers:
        results = list(publishers.map(closing_connection(land), jobs))
    new_sessions = [result for (kind, _), result in zip(jobs, results) if kind == "handoff"]
    stored = off_the_browser_thread(lambda: Message.objects.filter(
        conversation_id=watched.conversation_id, author_kind=AuthorKind.USER, text__in=sent).count())
    # Whatever was lost at the very end leaves no gap behind it: the next ping's pong shows it.
    for page in pages.values():
        page.clock.fast_forward(30_000)

    expected_waiting = {watched.pk, *new_sessions}
    final = {}
    for username, page in pages.items():
        page.wait_for_function(
            """([texts, waiting]) => {
                const shown = new Set([...document.querySelectorAll(
                    '[data-testid="transcript"] [data-testid="message"] .msg-bubble')].map((node) => node.textContent));
                const queue = new Set([...document.querySelectorAll(
                    '[data-testid="queue-waiting"] [data-testid="session-item"]')].map((node) => Number(node.dataset.sessionId)));
                return texts.every((text) => shown.has(text)) && waiting.every((id) => queue.has(id));
            }""",
            arg=[sent, sorted(expected_waiting)], timeout=20_000,
        )
        final[username] = shown(page)

    missed = {username: missed_seqs(frames[username]) for username in INBOXES}
    delivered = min(len(set(final[username]["messages"]) & set(sent)) for username in INBOXES)
    duplicated = max(sum(final[username]["messages"].count(text) - 1 for text in sent) for username in INBOXES)
    fault_report(
        scenario="inbox under an overloaded channel layer",
        load=f"{len(INBOXES)} open inboxes, {len(sent)} messages + {len(new_sessions)} handoffs, {PUBLISHERS} at once",
        faults=f"channel capacity {TINY_CAPACITY}: {sum(map(len, missed.values()))} events dropped",
        sent=len(sent), stored=stored, delivered=delivered, duplicated=duplicated, lost=len(sent) - delivered,
    )
    # The layer did drop events on their way to the browsers, and the inboxes noticed.
    assert any(missed.values())
    assert all(final[username]["resyncs"] >= 1 for username, gaps in missed.items() if gaps)
    assert stored == delivered == len(sent) and duplicated == 0
    for username in INBOXES:
        assert set(final[username]["waiting"]) == expected_waiting
