"""The worker is killed (SIGKILL, the whole cluster) while it sends replies: after a restart
every reply is delivered. A send that reached the platform just before the kill is sent again
(at-least-once); Discord recognises the retry by its nonce and shows it once, Telegram cannot."""

import threading
import time
from collections import Counter

import pytest

from channels_gateway.adapters.discord import DiscordAdapter
from channels_gateway.models import Platform
from channels_gateway.tests.factories import ChannelConnectionFactory
from conversations.models import AuthorKind, DeliveryStatus, Message
from conversations.services.deadlines import sweep
from conversations.services.messages import post_message_to_contact
from conversations.tests.factories import ContactFactory, ConversationFactory
from tests.fakes.discord_api import FakeDiscordAPI
from tests.fakes.telegram_api import FakeTelegram
from tests.faults.worker_cluster import WorkerCluster

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.cluster, pytest.mark.faults]

REPLIES = 30
CONVERSATIONS = 10
TELEGRAM_TOKEN = "7000000001:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw_"
DISCORD_TOKEN = "MTAwMDAwMDAwMDAwMDAwMDAwMQ.fake.bot-token-for-tests"
# The platform takes its time to answer after it has taken the message: a kill lands in between.
ANSWER_DELAY = 0.3
LEASE_SECONDS = 3


class SlowAnswers:
    """Mixed into a fake platform: the message is taken, then the answer comes late."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.in_flight = 0
        self.answered = 0
        self._count = threading.Lock()

    def respond(self, request):
        reply = super().respond(request)
        with self._count:
            self.in_flight += 1
        time.sleep(ANSWER_DELAY)
        with self._count:
            self.in_flight -= 1
            self.answered += 1
        return reply


class SlowTelegram(SlowAnswers, FakeTelegram):
    def shown(self) -> list[str]:
        return [message["text"] for chat in list(self.sent.values()) for message in chat]


class SlowDiscord(SlowAnswers, FakeDiscordAPI):
    pass


def telegram_setup(agent):
    fake = SlowTelegram(TELEGRAM_TOKEN)
    connection = ChannelConnectionFactory(agent=agent, platform=Platform.TELEGRAM, config={},
                                          secrets={"bot_token": TELEGRAM_TOKEN, "secret_token": "s3cret"})
    return fake, connection, lambda: {"TELEGRAM_API_BASE_URL": fake.url}, lambda n: str(5_000_000 + n)


def discord_setup(agent):
    fake = SlowDiscord(bot_token=DISCORD_TOKEN)
    secrets, config = DiscordAdapter().demo_credentials()
    connection = ChannelConnectionFactory(agent=agent, platform=Platform.DISCORD,
                                          secrets={**secrets, "bot_token": DISCORD_TOKEN}, config=config)
    return fake, connection, lambda: {"DISCORD_API_BASE_URL": fake.base_url}, lambda n: str(290926798999357000 + n)


PLATFORMS = {"telegram": telegram_setup, "discord": discord_setup}


def wait_for(condition, timeout: float, step: float = 0.02) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(step)
    return condition()


@pytest.mark.parametrize("platform", ["telegram", "discord"])
def test_replies_survive_a_worker_killed_mid_send(platform, agent, real_task_queue, fault_report):
    fake, connection, platform_env, thread_id = PLATFORMS[platform](agent)
    with fake:
        conversations = [
            ConversationFactory(contact=ContactFactory(connection=connection, external_id=thread_id(n)),
                                external_thread_id=thread_id(n))
            for n in range(CONVERSATIONS)
        ]
        texts = [f"Reply {n} for conversation {n % CONVERSATIONS}" for n in range(REPLIES)]
        for n, text in enumerate(texts):  # queued: stored as pending, their tasks in Redis
            post_message_to_contact(conversation=conversations[n % CONVERSATIONS], author_kind=AuthorKind.AI,
                                    text=text)
        env = {**platform_env(), "DELIVERY_LEASE_SECONDS": str(LEASE_SECONDS)}

        cluster = WorkerCluster(**env).start()
        try:
            landed_mid_send = wait_for(lambda: fake.answered >= 6 and fake.in_flight > 0, timeout=30, step=0.005)
            cluster.kill()
        except BaseException:
            cluster.stop()
            raise
        assert landed_mid_send, "the kill should land while a send is waiting for the platform's answer"
        pending_after_kill = Message.objects.filter(delivery_status=DeliveryStatus.PENDING).count()
        assert pending_after_kill > 0

        # The worker comes back; its minute sweep (run here each second: time passes) hands it
        # whatever is due, including the claims of the dead worker once their lease is over.
        with WorkerCluster(**env):
            def all_sent() -> bool:
                sweep()
                return not Message.objects.exclude(delivery_status=DeliveryStatus.SENT).exists()
            wait_for(all_sent, timeout=45, step=1)

        shown = Counter(fake.shown())
        received = len(fake.calls("sendMessage") if platform == "telegram" else fake.message_calls())
    statuses = Counter(Message.objects.values_list("delivery_status", flat=True))
    delivered = sum(1 for text in texts if shown[text] >= 1)
    duplicated = sum(shown[text] - 1 for text in texts if shown[text] > 1)
    lost = REPLIES - delivered
    fault_report(
        scenario=f"worker SIGKILLed mid-send ({platform.capitalize()})",
        load=f"{REPLIES} replies, {CONVERSATIONS} conversations, 2 workers",
        faults=f"kill -9 of the whole cluster, {pending_after_kill} replies unsent; restart "
               f"({received - REPLIES} sends repeated)",
        sent=REPLIES, stored=Message.objects.count(), delivered=delivered, duplicated=duplicated, lost=lost,
    )
    assert lost == 0
    assert received > REPLIES  # the send the kill interrupted was sent again
    assert statuses == {DeliveryStatus.SENT: REPLIES}
    if platform == "discord":
        assert duplicated == 0  # the retried part carried the same nonce: Discord showed it once
    assert set(shown) == set(texts)
