"""What happens becomes webhook events: one delivery row per active endpoint subscribed to
the event type, written in the caller's transaction (before anything is sent), and sent by
the worker once that transaction commits.

Which events:
- `handoff.queued/accepted/resolved/expired/cancelled`: every handoff session, every channel.
- `message.created`:
  - on the API channel, every message addressed to the user (AI, system, teammate). Here the
    event *is* the delivery: `ApiAdapter.send` stores it and the message counts as sent.
    The user's own messages are not echoed (the customer's agent posted them).
  - on every other channel, teammate and system messages, when they are stored, so an
    external agent sees what the humans told its user.

Event ids are derived from what happened (uuid5), so the same event is the same id for
every endpoint, every retry and every replay: receivers dedupe on `Handoff-Event-Id`.
"""

import uuid

from django.utils import timezone

from channels_gateway.models import Platform
from channels_gateway.webhooks import WebhookDelivery, WebhookEndpoint, WebhookEvent
from conversations.models import AuthorKind, HandoffSession, Message
from conversations.payloads import message_payload, public_author_name, session_payload
from handoff_site.task_queue import enqueue_on_commit

EVENT_NAMESPACE = uuid.UUID("6f0c6a52-3b0e-4b8e-9a55-1d3c0b7f2e10")
HANDOFF_EVENTS = frozenset({
    WebhookEvent.HANDOFF_QUEUED, WebhookEvent.HANDOFF_ACCEPTED, WebhookEvent.HANDOFF_RESOLVED,
    WebhookEvent.HANDOFF_EXPIRED, WebhookEvent.HANDOFF_CANCELLED,
})


def event_id_for(event_type: str, object_id: int) -> uuid.UUID:
    return uuid.uuid5(EVENT_NAMESPACE, f"{event_type}:{object_id}")


def _conversation_ref(conversation) -> dict:
    connection = conversation.connection
    return {
        "id": conversation.pk,
        "channel": connection.platform,
        "connection_key": connection.key,
        "thread_id": conversation.external_thread_id,
        "contact_external_id": conversation.contact.external_id,
    }


def emit(*, organization_id: int, event_type: str, event_id: uuid.UUID, data: dict) -> list[WebhookDelivery]:
    """Store the event for each subscribed endpoint (once per endpoint) and send it on commit."""
    # Filtered here, not with a JSON `contains` lookup: the embedded default (SQLite) has none,
    # and an org has a handful of endpoints.
    endpoints = [
        endpoint for endpoint in WebhookEndpoint.objects.filter(organization_id=organization_id, is_active=True)
        if event_type in endpoint.events
    ]
    envelope = {
        "id": str(event_id),
        "type": event_type,
        "created_at": timezone.now().isoformat(),
        "organization_id": organization_id,
        "data": data,
    }
    deliveries = []
    for endpoint in endpoints:
        delivery, created = WebhookDelivery.objects.get_or_create(
            endpoint=endpoint, event_id=event_id,
            defaults={"organization_id": organization_id, "event_type": event_type, "payload": envelope,
                      "next_attempt_at": timezone.now()},
        )
        if created:
            enqueue_on_commit("channels_gateway.tasks.deliver_webhook", delivery.pk)
        deliveries.append(delivery)
    return deliveries


def emit_handoff_event(session: HandoffSession, event_type: str) -> None:
    if event_type not in HANDOFF_EVENTS:  # e.g. handoff.transferred stays internal
        return
    emit(
        organization_id=session.organization_id, event_type=event_type,
        event_id=event_id_for(event_type, session.pk),
        data={"session": session_payload(session), "conversation": _conversation_ref(session.conversation)},
    )


def message_data(message: Message) -> dict:
    return {
        "message": {**message_payload(message), "public_author_name": public_author_name(message)},
        "conversation": _conversation_ref(message.conversation),
    }


def emit_message_created(message: Message) -> list[WebhookDelivery]:
    return emit(
        organization_id=message.organization_id, event_type=WebhookEvent.MESSAGE_CREATED,
        event_id=event_id_for(WebhookEvent.MESSAGE_CREATED, message.pk), data=message_data(message),
    )


def emit_stored_message(message: Message) -> None:
    """A message was just stored. On the API channel its delivery emits the event instead."""
    if message.author_kind not in (AuthorKind.TEAMMATE, AuthorKind.SYSTEM):
        return
    if message.conversation.connection.platform == Platform.API:
        return
    emit_message_created(message)
