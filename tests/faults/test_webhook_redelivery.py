"""Telegram redelivers one update 1,000 times, 20 at a time (its retries, a proxy replaying,
a webhook registered twice): the user's message is stored once and the AI answers once.

Through the real webhook view (Django's test client) in 20 threads, each on its own
PostgreSQL connection, the first 20 deliveries released together by a barrier. The AI turn
runs inline at commit (the test settings' task queue): the delivery that stored the message
is the only one that enqueues a turn, so a worker process would run that one turn as well.
"""

import json
import threading
from pathlib import Path

import pytest
from django.db import connections
from django.test import Client

from channels_gateway.models import Platform
from channels_gateway.tests.factories import ChannelConnectionFactory
from conversations.models import AuthorKind, Message
from tests.fakes.telegram_api import FakeTelegram

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.faults]

TOKEN = "7000000001:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw_"
SECRET = "redelivery-secret"
DELIVERIES = 1_000
AT_ONCE = 20
MAX_ATTEMPTS = 5  # a 503 asks the platform to try again; it does, as Telegram would
FIXTURE = Path(__file__).resolve().parents[2] / "channels_gateway" / "tests" / "fixtures" / "telegram" / "text_message.json"


@pytest.fixture
def telegram(settings):
    with FakeTelegram(TOKEN) as fake:
        settings.TELEGRAM_API_BASE_URL = fake.url
        yield fake


def deliver_all(url: str, body: bytes) -> list[list[int]]:
    """Each delivery's answers, in order (more than one when it was told to try again)."""
    answers: list[list[int]] = [[] for _ in range(DELIVERIES)]
    next_delivery = iter(range(DELIVERIES))
    take = threading.Lock()
    start = threading.Barrier(AT_ONCE)

    def platform_sender():
        client = Client()
        try:
            start.wait()
            while True:
                with take:
                    index = next(next_delivery, None)
                if index is None:
                    return
                for _ in range(MAX_ATTEMPTS):
                    response = client.post(url, data=body, content_type="application/json",
                                           headers={"X-Telegram-Bot-Api-Secret-Token": SECRET})
                    answers[index].append(response.status_code)
                    if response.status_code != 503:
                        break
        finally:
            connections.close_all()

    threads = [threading.Thread(target=platform_sender) for _ in range(AT_ONCE)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    return answers


def test_one_update_delivered_1000_times_is_one_message_and_one_ai_reply(agent, telegram, fault_report):
    connection = ChannelConnectionFactory(agent=agent, platform=Platform.TELEGRAM, config={},
                                          secrets={"bot_token": TOKEN, "secret_token": SECRET})
    update = json.loads(FIXTURE.read_text())
    update["message"]["text"] = "Where is my order 1234?"
    chat_id = update["message"]["chat"]["id"]

    answers = deliver_all(f"/webhooks/telegram/{connection.key}/", json.dumps(update).encode())

    finals = [attempts[-1] if attempts else None for attempts in answers]
    retried = sum(len(attempts) - 1 for attempts in answers)
    stored = Message.objects.filter(author_kind=AuthorKind.USER, conversation__connection=connection).count()
    ai_replies = Message.objects.filter(author_kind=AuthorKind.AI, conversation__connection=connection).count()
    delivered = len(telegram.delivered(chat_id))
    fault_report(
        scenario="webhook redelivered 1,000 times", load=f"{DELIVERIES:,} deliveries, {AT_ONCE} at once",
        faults=f"duplicate deliveries ({retried} retried after 503)", sent=1, stored=stored,
        delivered=delivered, duplicated=max(stored - 1, 0) + max(ai_replies - 1, 0) + max(delivered - 1, 0),
        lost=int(stored == 0 or delivered == 0),
    )
    assert finals.count(200) == DELIVERIES, {code: finals.count(code) for code in set(finals)}
    assert stored == 1
    assert ai_replies == 1 and delivered == 1
    assert Message.objects.get(author_kind=AuthorKind.USER).text == "Where is my order 1234?"
