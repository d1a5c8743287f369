"""The platform's API answers one conversation with 429 and retry_after, with 500, or not at all,
while a real worker cluster sends everyone's replies: the other conversations' replies go out
meanwhile; the troubled reply is retried with growing waits (at least the platform's
retry_after) and ends `failed` with the reason the teammate reads in the inbox."""

import threading
import time
from datetime import timedelta

import pytest
from django.utils import timezone

from channels_gateway.models import Platform
from channels_gateway.services import MAX_DELIVERY_ATTEMPTS, retry_delay
from channels_gateway.tests.factories import ChannelConnectionFactory
from conversations.events import inbox_group
from conversations.models import AuthorKind, DeliveryStatus, Message
from conversations.services.deadlines import sweep
from conversations.services.messages import post_message_to_contact
from conversations.tests.factories import ContactFactory, ConversationFactory
from tests.fakes.telegram_api import FakeTelegram, error
from tests.faults.worker_cluster import WorkerCluster
from tests.realtime import GroupListener

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.cluster, pytest.mark.faults]

TOKEN = "7000000001:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw_"
TROUBLED_CHAT = "4040404"
OTHERS = 8
READ_TIMEOUT = 2  # seconds the sender waits for an answer (settings.PLATFORM_READ_TIMEOUT_SECONDS)
HANG = 10  # longer than READ_TIMEOUT: the sender gives up first
RETRY_AFTER = 3

REASONS = {
    "429": "Telegram rate limit (429)",
    "500": "Telegram server error (500)",
    "hang": "Telegram did not answer in time",
}


class TroubledTelegram(FakeTelegram):
    """Telegram, except for one chat, which it answers with the trouble of the test."""

    def __init__(self, trouble: str) -> None:
        super().__init__(TOKEN)
        self.trouble = trouble
        self.troubled_calls = 0
        self.hanging = 0
        # For each other chat's delivery: was the troubled chat's call hanging at that moment?
        self.delivered_during_hang: list[bool] = []
        self._hang_count = threading.Lock()

    def respond(self, request):
        params = request.json() if request.body else {}
        if str(params.get("chat_id")) != TROUBLED_CHAT:
            reply = super().respond(request)
            self.delivered_during_hang.append(self.hanging > 0)
            return reply
        self.troubled_calls += 1
        if self.trouble == "429":
            return error(429, retry_after=RETRY_AFTER)
        if self.trouble == "500":
            return error(500)
        with self._hang_count:
            self.hanging += 1
        time.sleep(HANG)
        with self._hang_count:
            self.hanging -= 1
        return super().respond(request)


def wait_for(condition, timeout: float, step: float = 0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if result := condition():
            return result
        time.sleep(step)
    raise AssertionError("timed out waiting")


def outcome_shown(inbox: GroupListener, reply: Message, updates: list[dict], index: int) -> dict | None:
    """What the inbox was told of the reply after its attempt number `index + 1` here."""
    while not inbox.received.empty():
        event = inbox.received.get_nowait()
        if event.get("type") == "message.updated" and event["message"]["id"] == reply.pk:
            updates.append(event["message"])
    return updates[index] if len(updates) > index else None


@pytest.mark.parametrize("trouble", ["429", "500", "hang"])
def test_a_troubled_conversation_retries_then_fails_clearly_while_others_flow(
        trouble, agent, ana, real_task_queue, fault_report):
    telegram = TroubledTelegram(trouble)
    connection = ChannelConnectionFactory(agent=agent, platform=Platform.TELEGRAM, config={},
                                          secrets={"bot_token": TOKEN, "secret_token": "s3cret"})

    def conversation(chat_id: str):
        return ConversationFactory(contact=ContactFactory(connection=connection, external_id=chat_id),
                                   external_thread_id=chat_id)

    troubled = conversation(TROUBLED_CHAT)
    others = [conversation(str(5_000_000 + n)) for n in range(OTHERS)]
    inbox = GroupListener(inbox_group(agent.organization_id))
    env = {"PLATFORM_READ_TIMEOUT_SECONDS": str(READ_TIMEOUT)}
    with telegram, WorkerCluster(TELEGRAM_API_BASE_URL=telegram.url, **env):
        reply = post_message_to_contact(conversation=troubled, author_kind=AuthorKind.TEAMMATE,
                                        text="Your refund is approved.", author_user=ana)
        wait_for(lambda: telegram.troubled_calls >= 1, timeout=20)
        for n, other in enumerate(others):
            post_message_to_contact(conversation=other, author_kind=AuthorKind.AI, text=f"Answer {n}")
        wait_for(lambda: Message.objects.filter(conversation__in=others, delivery_status=DeliveryStatus.SENT)
                 .count() == OTHERS, timeout=20)

        # Each attempt's outcome, as the inbox is told: pending with a wait that grows (never
        # shorter than the platform's retry_after), until the last one fails. Time passes: the
        # wait is skipped. Against a silent platform each attempt takes the whole time-out, so
        # after two of them the test goes on at the last (the others go the same way).
        attempts = [1, 2, MAX_DELIVERY_ATTEMPTS] if trouble == "hang" else list(range(1, MAX_DELIVERY_ATTEMPTS + 1))
        updates: list[dict] = []
        for index, attempt in enumerate(attempts):
            shown = wait_for(lambda: outcome_shown(inbox, reply, updates, index), timeout=HANG + 10)
            if attempt == MAX_DELIVERY_ATTEMPTS:
                break
            reply.refresh_from_db()
            assert (shown["delivery_status"], shown["delivery_error"]) == ("pending", REASONS[trouble])
            wait = reply.next_attempt_at - timezone.now()
            assert wait >= retry_delay(attempt, None) - timedelta(seconds=1)
            if trouble == "429":
                assert wait >= timedelta(seconds=RETRY_AFTER - 1)
            Message.objects.filter(pk=reply.pk).update(next_attempt_at=timezone.now(),
                                                       delivery_attempts=attempts[index + 1] - 1)
            sweep()  # the minute sweep hands the due reply to the worker
    reply.refresh_from_db()
    inbox.close()
    delivered = sum(1 for other in others for text in telegram.delivered(other.external_thread_id))
    fault_report(
        scenario={"429": "platform rate-limits one chat (429)", "500": "platform fails one chat (500)",
                  "hang": "platform never answers one chat"}[trouble],
        load=f"1 troubled + {OTHERS} other conversations, 2 workers",
        faults={"429": f"429 retry_after={RETRY_AFTER} on every try", "500": "500 on every try",
                "hang": f"no answer for {HANG} s (time-out {READ_TIMEOUT} s)"}[trouble],
        sent=OTHERS + 1, stored=Message.objects.count(), delivered=delivered,
        duplicated=max(0, delivered - OTHERS),
        # The troubled reply is not lost: it is failed, shown with its reason, and can be retried.
        lost=OTHERS - delivered + (0 if reply.delivery_status == DeliveryStatus.FAILED else 1),
    )
    assert delivered == OTHERS
    if trouble == "hang":
        assert all(telegram.delivered_during_hang), "the other replies waited behind the silent one"
    assert reply.delivery_status == DeliveryStatus.FAILED
    assert reply.delivery_error == REASONS[trouble]
    assert (shown["delivery_status"], shown["delivery_error"]) == ("failed", REASONS[trouble])
