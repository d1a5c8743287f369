"""Outbound webhooks against a real HTTP receiver on 127.0.0.1, and the API channel end to end."""

import hashlib
import hmac
import socket
import time
from datetime import timedelta

import pytest
from django.utils import timezone

from channels_gateway.adapters.base import InboundMessage
from channels_gateway.models import ChannelConnection, Platform
from channels_gateway.tasks import deliver_webhook, sweep_webhook_deliveries
from channels_gateway.webhook_services import retry_delay, webhook_replay
from channels_gateway.webhooks import WebhookDelivery, WebhookEndpoint
from conversations.models import AuthorKind, DeliveryStatus, HandoffTrigger, Message
from conversations.services.handoff import handoff_accept, handoff_escalate, handoff_reply, handoff_resolve
from conversations.services.messages import receive_inbound_message
from conversations.tests.factories import ConversationFactory
from tests.fakes.http_server import FakeServer, Reply


def verify(secret: str, body: bytes, header: str) -> bool:
    """The recipe in docs/webhooks.md, written out independently of the sender's code."""
    parts = dict(item.split("=", 1) for item in header.split(","))
    timestamp = int(parts["t"])
    if abs(time.time() - timestamp) > 300:
        return False
    expected = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, parts["v1"])


class Receiver(FakeServer):
    def __init__(self, statuses=()):
        super().__init__()
        self.statuses = list(statuses)

    def respond(self, request):
        return Reply(status=self.statuses.pop(0) if self.statuses else 200, body={"ok": True})

    def events(self, secret):
        """(type, payload) of every request, each verified with the documented recipe."""
        seen = []
        for request in self.requests:
            assert verify(secret, request.body, request.headers["handoff-signature"]), request.headers
            payload = request.json()
            assert request.headers["handoff-event-id"] == payload["id"]
            assert request.headers["handoff-event-type"] == payload["type"]
            seen.append((payload["type"], payload))
        return seen


@pytest.fixture
def receiver():
    with Receiver() as server:
        yield server


def endpoint_for(organization, url, events=None):
    return WebhookEndpoint.objects.create(organization=organization, url=url + "/hooks",
                                          **({"events": events} if events is not None else {}))


@pytest.fixture
def conversation(agent):
    return ConversationFactory(contact__connection__agent=agent)


def refused_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]  # closed again: nobody listens there


def test_a_handoff_event_reaches_the_receiver_signed_and_verifiable(
    conversation, receiver, django_capture_on_commit_callbacks
):
    endpoint = endpoint_for(conversation.organization, receiver.url)
    with django_capture_on_commit_callbacks(execute=True):
        session = handoff_escalate(conversation_id=conversation.pk, trigger=HandoffTrigger.API).session
    delivery = WebhookDelivery.objects.get(endpoint=endpoint, event_type="handoff.queued")
    assert delivery.status == "sent" and delivery.attempts == 1 and delivery.last_status_code == 200
    assert delivery.attempt_log.count() == 1
    [(kind, payload)] = [event for event in receiver.events(endpoint.secret) if event[0] == "handoff.queued"]
    assert payload["data"]["session"]["id"] == session.pk
    assert payload["data"]["conversation"]["thread_id"] == conversation.external_thread_id
    # A wrong secret, a changed body or an old timestamp does not verify.
    request = receiver.requests[0]
    assert not verify("whsec_other", request.body, request.headers["handoff-signature"])
    assert not verify(endpoint.secret, request.body + b" ", request.headers["handoff-signature"])
    old = int(time.time()) - 301
    stale = f"t={old},v1=" + hmac.new(endpoint.secret.encode(), f"{old}.".encode() + request.body,
                                      hashlib.sha256).hexdigest()
    assert not verify(endpoint.secret, request.body, stale)


def test_only_subscribed_events_and_active_endpoints_get_deliveries(
    conversation, receiver, django_capture_on_commit_callbacks
):
    resolved_only = endpoint_for(conversation.organization, receiver.url, events=["handoff.resolved"])
    endpoint_for(conversation.organization, receiver.url).__class__.objects.filter(
        events__contains=["handoff.queued"]).update(is_active=False)
    with django_capture_on_commit_callbacks(execute=True):
        handoff_escalate(conversation_id=conversation.pk, trigger=HandoffTrigger.API)
    assert not WebhookDelivery.objects.exists()
    assert receiver.requests == []
    assert resolved_only.deliveries.count() == 0


def test_a_500_is_retried_with_backoff_and_each_attempt_recorded(conversation, django_capture_on_commit_callbacks):
    with Receiver(statuses=[500, 503]) as receiver:
        endpoint = endpoint_for(conversation.organization, receiver.url, events=["handoff.queued"])
        with django_capture_on_commit_callbacks(execute=True):
            handoff_escalate(conversation_id=conversation.pk, trigger=HandoffTrigger.API)
        delivery = WebhookDelivery.objects.get(endpoint=endpoint, event_type="handoff.queued")
        assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("pending", 1, 500)
        assert timedelta(seconds=9) < delivery.next_attempt_at - timezone.now() <= timedelta(seconds=10)
        assert deliver_webhook(delivery.pk) == "skipped"  # not due yet

        WebhookDelivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now())
        assert deliver_webhook(delivery.pk) == "pending"
        delivery.refresh_from_db()
        assert timedelta(seconds=19) < delivery.next_attempt_at - timezone.now() <= timedelta(seconds=20)

        WebhookDelivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now())
        assert sweep_webhook_deliveries() == 1  # the minute sweep sends what is due
        delivery.refresh_from_db()
        assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("sent", 3, 200)
        assert [a.status_code for a in delivery.attempt_log.all()] == [500, 503, 200]
        ids = {request.headers["handoff-event-id"] for request in receiver.requests}
        assert ids == {str(delivery.event_id)}  # one event, one id, however often sent
    assert [retry_delay(n).total_seconds() for n in (1, 2, 3, 9, 30)] == [10, 20, 40, 2560, 3600]


def test_an_unreachable_endpoint_is_retried_then_failed_after_a_day(
    conversation, django_capture_on_commit_callbacks
):
    endpoint = endpoint_for(conversation.organization, f"http://127.0.0.1:{refused_port()}",
                            events=["handoff.queued"])
    with django_capture_on_commit_callbacks(execute=True):
        handoff_escalate(conversation_id=conversation.pk, trigger=HandoffTrigger.API)
    delivery = WebhookDelivery.objects.get(endpoint=endpoint, event_type="handoff.queued")
    assert delivery.status == "pending"
    assert delivery.last_error == "The endpoint could not be reached."
    assert delivery.last_status_code is None

    # A day later the next failure is the last.
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        created_at=timezone.now() - timedelta(hours=24, seconds=1), next_attempt_at=timezone.now())
    assert deliver_webhook(delivery.pk) == "failed"
    delivery.refresh_from_db()
    assert delivery.next_attempt_at is None and delivery.attempts == 2
    assert "Gave up after 2 attempts" in delivery.last_error
    assert delivery.attempt_log.count() == 2


def test_replay_sends_the_same_event_id_again(conversation, receiver, django_capture_on_commit_callbacks):
    endpoint = endpoint_for(conversation.organization, receiver.url, events=["handoff.queued"])
    with django_capture_on_commit_callbacks(execute=True):
        handoff_escalate(conversation_id=conversation.pk, trigger=HandoffTrigger.API)
    delivery = WebhookDelivery.objects.get(endpoint=endpoint, event_type="handoff.queued")
    with django_capture_on_commit_callbacks(execute=True):
        webhook_replay(delivery=delivery)
    delivery.refresh_from_db()
    assert delivery.status == "sent" and delivery.replayed_at is not None
    assert delivery.attempt_log.count() == 2
    events = receiver.events(endpoint.secret)
    assert len(events) == 2 and events[0][1] == events[1][1]
    assert len({request.headers["handoff-event-id"] for request in receiver.requests}) == 1


def test_teammate_messages_on_another_channel_are_message_created_events(
    conversation, ana, receiver, django_capture_on_commit_callbacks
):
    endpoint = endpoint_for(conversation.organization, receiver.url, events=["message.created"])
    with django_capture_on_commit_callbacks(execute=True):
        session = handoff_escalate(conversation_id=conversation.pk, trigger=HandoffTrigger.API).session
        handoff_accept(session_id=session.pk, user=ana)
        handoff_reply(session_id=session.pk, user=ana, text="Hello from Ana")
    texts = [payload["data"]["message"]["text"] for _, payload in receiver.events(endpoint.secret)]
    agent = conversation.agent
    assert texts == [agent.queued_message, agent.accepted_message.replace("{teammate}", "Ana"), "Hello from Ana"]


def test_the_api_channel_without_a_subscribed_endpoint_fails_the_message(agent, ana, django_capture_on_commit_callbacks):
    connection = ChannelConnection.objects.create(organization=agent.organization, agent=agent,
                                                  platform=Platform.API, name="Our bot")
    with django_capture_on_commit_callbacks(execute=True):
        stored = receive_inbound_message(connection=connection, inbound=InboundMessage("u1", "u1", "Hi", "m1"))
        handoff_escalate(conversation_id=stored.message.conversation_id, trigger=HandoffTrigger.API)
    notice = Message.objects.get(author_kind=AuthorKind.SYSTEM)
    assert notice.delivery_status == DeliveryStatus.FAILED
    assert "No active webhook endpoint" in notice.delivery_error


def test_round_trip_through_the_api_channel_with_no_platform(agent, ana, receiver, django_capture_on_commit_callbacks):
    organization = agent.organization
    connection = ChannelConnection.objects.create(organization=organization, agent=agent,
                                                  platform=Platform.API, name="Our own bot")
    endpoint = endpoint_for(organization, receiver.url)
    # The customer's agent posts its user's message (as the REST API does), then escalates.
    with django_capture_on_commit_callbacks(execute=True):
        stored = receive_inbound_message(
            connection=connection,
            inbound=InboundMessage(contact_external_id="user-42", thread_id="thread-42", text="My order is late",
                                   platform_message_id="m-1", contact_name="Kim"),
        )
    receiver.requests.clear()
    with django_capture_on_commit_callbacks(execute=True):
        session = handoff_escalate(conversation_id=stored.message.conversation_id, trigger=HandoffTrigger.API,
                                   reason="Customer asked for a human").session
    with django_capture_on_commit_callbacks(execute=True):
        handoff_accept(session_id=session.pk, user=ana)
    with django_capture_on_commit_callbacks(execute=True):
        reply = handoff_reply(session_id=session.pk, user=ana, text="Hi Kim, I'm checking your order now.")
    with django_capture_on_commit_callbacks(execute=True):
        handoff_resolve(session_id=session.pk, user=ana)

    events = receiver.events(endpoint.secret)
    types = [kind for kind, _ in events]
    assert types[0] == "handoff.queued" and types[-1] in ("handoff.resolved", "message.created")
    assert {"handoff.queued", "handoff.accepted", "handoff.resolved"} <= set(types)
    assert "message.created" in types
    assert types.index("handoff.queued") < types.index("handoff.accepted") < types.index("handoff.resolved")
    messages = [payload["data"] for kind, payload in events if kind == "message.created"]
    teammate = [data for data in messages if data["message"]["author_kind"] == "teammate"]
    assert [data["message"]["text"] for data in teammate] == ["Hi Kim, I'm checking your order now."]
    assert teammate[0]["message"]["public_author_name"] == "Ana"
    assert teammate[0]["conversation"] == {
        "id": session.conversation_id, "channel": "api", "connection_key": connection.key,
        "thread_id": "thread-42", "contact_external_id": "user-42",
    }
    resolved = next(payload for kind, payload in events if kind == "handoff.resolved")
    assert resolved["data"]["session"]["status"] == "resolved"
    # Every message to the user counts as sent once its event is stored; the user's own is not echoed.
    reply.refresh_from_db()
    assert reply.delivery_status == DeliveryStatus.SENT
    assert not [data for data in messages if data["message"]["author_kind"] == "user"]
    outbound = Message.objects.filter(conversation=session.conversation).exclude(author_kind="user")
    assert {message.delivery_status for message in outbound} == {"sent"}
    assert not WebhookDelivery.objects.exclude(status="sent").exists()


@pytest.mark.parametrize("url", ["http://127.0.0.1:6379/", "http://localhost/", "http://10.1.2.3/x",
                                 "http://169.254.169.254/latest/meta-data/", "http://[::1]/"])
def test_webhooks_never_reach_private_addresses_in_production(url, settings):
    from channels_gateway.webhook_services import private_address_reason

    settings.WEBHOOKS_ALLOW_PRIVATE_ADDRESSES = False
    assert "private address" in private_address_reason(url)


def test_a_private_endpoint_fails_its_delivery_with_the_reason(conversation, settings,
                                                                django_capture_on_commit_callbacks):
    settings.WEBHOOKS_ALLOW_PRIVATE_ADDRESSES = False
    endpoint = endpoint_for(conversation.organization, "http://127.0.0.1:9")
    with django_capture_on_commit_callbacks(execute=True):
        handoff_escalate(conversation_id=conversation.pk, trigger=HandoffTrigger.GUARD, reason="human")
    delivery = WebhookDelivery.objects.get(endpoint=endpoint, event_type="handoff.queued")
    assert "private address" in delivery.last_error and delivery.last_status_code is None
