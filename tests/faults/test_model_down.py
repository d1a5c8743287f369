"""The model API is overloaded (529), failing (500), silent past the time-out, or not even
listening: a Telegram user still gets an answer (the offline fallback), and "human please"
still reaches the inbox as a queued handoff with a summary (the extractive one)."""

import json
import socket
import time

import pytest

from channels_gateway.models import Platform
from channels_gateway.tests.factories import ChannelConnectionFactory
from conversations.events import inbox_group
from conversations.models import AuthorKind, HandoffSession, Message
from conversations.ai.responder import fallback_reply
from tests.fakes.anthropic_api import FakeAnthropic, error_reply
from tests.fakes.http_server import Reply
from tests.fakes.telegram_api import FakeTelegram
from tests.realtime import GroupListener

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.faults]

TOKEN = "7000000001:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw_"
SECRET = "s3cret-token"
CHAT = 6060606
MODEL_TIMEOUT = 1.0  # settings.ANTHROPIC_TIMEOUT_SECONDS here; the guard's and summary's are shorter
HANG = 6.0

FAULTS = {
    "529": "529 overloaded on every call",
    "500": "500 on every call",
    "hang": f"no answer for {HANG:.0f} s (time-out {MODEL_TIMEOUT:.0f} s)",
    "closed": "nothing listening on its port",
}


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def update(message_id: int, text: str) -> dict:
    user = {"id": CHAT, "is_bot": False, "first_name": "Tess"}
    return {"update_id": 90_000 + message_id, "message": {
        "message_id": message_id, "date": int(time.time()), "text": text, "from": user,
        "chat": {**user, "type": "private"}}}


@pytest.mark.parametrize("outage", ["529", "500", "hang", "closed"])
def test_with_the_model_down_the_user_is_answered_and_can_reach_a_human(outage, agent, client, settings,
                                                                          fault_report):
    model = FakeAnthropic()
    for _ in range(20):  # every call of the test fails the same way
        if outage == "hang":
            model.then(Reply(body={}, delay=HANG))
        elif outage != "closed":
            model.then(error_reply(int(outage)))
    with FakeTelegram(TOKEN) as telegram, model:
        settings.TELEGRAM_API_BASE_URL = telegram.url
        settings.ANTHROPIC_API_KEY = "sk-ant-test-" + "x" * 16
        settings.ANTHROPIC_BASE_URL = f"http://127.0.0.1:{closed_port()}" if outage == "closed" else model.url
        settings.ANTHROPIC_MAX_RETRIES = 1
        settings.ANTHROPIC_TIMEOUT_SECONDS = MODEL_TIMEOUT
        settings.ANTHROPIC_GUARD_TIMEOUT_SECONDS = MODEL_TIMEOUT / 2
        connection = ChannelConnectionFactory(agent=agent, platform=Platform.TELEGRAM, config={},
                                              secrets={"bot_token": TOKEN, "secret_token": SECRET})
        inbox = GroupListener(inbox_group(agent.organization_id))

        def user_writes(message_id: int, text: str) -> float:
            # Tasks run inline here: the webhook returns after the AI turn and the delivery.
            started = time.monotonic()
            response = client.post(f"/webhooks/telegram/{connection.key}/", data=json.dumps(update(message_id, text)),
                                   content_type="application/json",
                                   headers={"X-Telegram-Bot-Api-Secret-Token": SECRET})
            assert response.status_code == 200
            return time.monotonic() - started

        answered_in = user_writes(1, "Where is my parcel? Order 4471902.")
        escalated_in = user_writes(2, "human please")
        events = inbox.events(1.0)
        inbox.close()
        seen_by_user = telegram.delivered(CHAT)
        calls = len(model.requests)

    session = HandoffSession.objects.get()
    queued = [event for event in events if event.get("type") == "handoff.queued"]
    user_messages = Message.objects.filter(author_kind=AuthorKind.USER).count()
    delivered = int(fallback_reply(agent=agent) in seen_by_user) + int(agent.queued_message in seen_by_user)
    fault_report(
        scenario=f"model API down ({outage})",
        load="1 Telegram user: a question, then 'human please'",
        faults=f"{FAULTS[outage]}; answered in {answered_in:.1f} s, escalated in {escalated_in:.1f} s",
        sent=2, stored=user_messages, delivered=delivered, duplicated=len(seen_by_user) - len(set(seen_by_user)),
        lost=2 - delivered,
    )
    assert seen_by_user == [fallback_reply(agent=agent), agent.queued_message]
    assert session.status == "queued"
    assert "human please" in session.summary and "4471902" in session.summary  # the extractive summary
    assert queued and queued[0]["session"]["summary"] == session.summary
    if outage != "closed":
        assert calls > 0  # the model was really asked, and failed
