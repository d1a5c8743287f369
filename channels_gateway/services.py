"""The outbound sender: delivers a stored message through its channel's adapter, once."""

import logging
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from channels_gateway.adapters.base import DeliveryError, InboundMessage, OutboundMessage, RetryableDeliveryError
from channels_gateway.adapters.registry import adapter_for
from channels_gateway.encryption import CredentialsUnreadable
from channels_gateway.selectors import last_user_message_at, webhook_url
from channels_gateway.models import ChannelConnection
from conversations import events
from conversations.services.messages import receive_inbound_message, receive_inbound_message_on_event_loop
from handoff_site.errors import ConflictError, NotFoundError, ValidationError
from handoff_site.task_queue import enqueue_on_commit, schedule_once
from orgs.models import AuditAction
from orgs.permissions import authorize
from orgs.roles import OrgPermission
from orgs.services import audit_record
from conversations.handoff_states import OPEN_STATUSES
from conversations.models import Conversation, ConversationMode, DeliveryStatus, HandoffSession, Message
from conversations.payloads import public_author_name

logger = logging.getLogger(__name__)

MAX_DELIVERY_ATTEMPTS = 8


def delivery_lease() -> timedelta:
    """A delivery claimed this long ago without an outcome had its worker die; it is due again
    (settings.DELIVERY_LEASE_SECONDS). The minute sweep, on whichever worker is alive, re-sends it."""
    return timedelta(seconds=settings.DELIVERY_LEASE_SECONDS)


def retry_delay(attempt: int, retry_after: float | None) -> timedelta:
    """Exponential backoff from 2 s, capped at 10 min; a platform's Retry-After wins if longer."""
    backoff = min(2 ** attempt, 600)
    return timedelta(seconds=max(backoff, retry_after or 0))


def _claim(message_id: int) -> Message | None:
    """Take the message for one delivery attempt; None if it is not due or someone else has it."""
    now = timezone.now()
    with transaction.atomic():
        message = (
            Message.objects.select_for_update(skip_locked=True, no_key=True)
            .filter(pk=message_id, delivery_status=DeliveryStatus.PENDING, next_attempt_at__lte=now)
            .first()
        )
        if message is None:
            return None
        message.delivery_attempts += 1
        message.next_attempt_at = now + delivery_lease()
        message.save(update_fields=["delivery_attempts", "next_attempt_at"])
    return Message.objects.select_related(
        "conversation__connection", "conversation__agent", "conversation__contact", "author_user"
    ).get(pk=message_id)


def _outbound(message: Message) -> OutboundMessage:
    conversation = message.conversation
    return OutboundMessage(
        message_id=message.pk,
        conversation_id=message.conversation_id,
        thread_id=message.conversation.external_thread_id,
        text=message.text,
        author_kind=message.author_kind,
        author_name=public_author_name(message),
        created_at=message.created_at.isoformat(),
        contact_external_id=conversation.contact.external_id,
        parts_sent=message.delivered_parts,
        last_user_message_at=last_user_message_at(conversation=conversation),
    )


def _finish(message: Message, **fields) -> None:
    with transaction.atomic():
        for name, value in fields.items():
            setattr(message, name, value)
        message.save(update_fields=list(fields))
        events.publish_message_event(message, "message.updated")


def connection_update_settings(
    *, connection: ChannelConnection, secrets: dict[str, str], config: dict[str, str], actor=None
) -> None:
    """Merge newly typed credentials (blank keeps the stored one) and platform settings.
    Typed credentials are audited by field name only, never by value."""
    typed = {name: value for name, value in secrets.items() if value}
    # Credentials no configured key decrypts are replaced by what was typed (the form asks for all).
    stored = connection.secrets if connection.secrets_readable else {}
    connection.secrets = {**stored, **typed}
    connection.config = {**connection.config, **config}
    if typed:
        # Real credentials now: it is no demo, and seed_demo must never print them.
        connection.config.pop("demo", None)
    with transaction.atomic():
        connection.save(update_fields=["secrets", "config"])
        if typed:
            audit_record(
                organization=connection.organization, actor=actor, action=AuditAction.CREDENTIALS_CHANGED,
                target=f"{connection.get_platform_display()} connection '{connection.name}'",
                details={"connection_id": connection.pk, "fields": sorted(typed)},
            )


def connection_register_webhook(*, connection: ChannelConnection) -> str:
    """Where the platform allows it (Telegram), point it at this connection's webhook URL."""
    url = webhook_url(connection)
    if url is None:
        raise LookupError("This channel has no webhook.")
    return adapter_for(connection.platform).register_webhook(connection, url)


def schedule_delivery_retry(*, message_id: int, at) -> None:
    # The minute sweep would find it too; the schedule makes a short Retry-After count.
    schedule_once(f"deliver:{message_id}:{at.timestamp():.0f}", "channels_gateway.tasks.deliver_message",
                  message_id, at=at)


def receive_webhook_messages(*, connection: ChannelConnection, messages: list[InboundMessage]) -> int:
    """Store what a verified webhook carried; returns how many were new. A message the
    product cannot take (empty, too long) is logged and skipped, never retried forever."""
    created = 0
    for inbound in messages:
        try:
            created += receive_inbound_message(connection=connection, inbound=inbound).created
        except ValidationError as exc:
            _skipped(connection, exc)
    return created


async def receive_webhook_messages_on_event_loop(*, connection: ChannelConnection,
                                                 messages: list[InboundMessage]) -> int:
    """`receive_webhook_messages` from the event loop (loop_webhooks.py)."""
    created = 0
    for inbound in messages:
        try:
            created += await receive_inbound_message_on_event_loop(connection=connection, inbound=inbound)
        except ValidationError as exc:
            _skipped(connection, exc)
    return created


def _skipped(connection: ChannelConnection, refused: ValidationError) -> None:
    logger.info("Skipped an inbound %s message: %s", connection.platform, refused)


def deliver_message(*, message_id: int) -> str:
    """One delivery attempt. Returns the message's delivery status afterwards."""
    message = _claim(message_id)
    if message is None:
        return "skipped"
    connection = message.conversation.connection
    if message.delivery_attempts > MAX_DELIVERY_ATTEMPTS:  # its workers kept dying mid-attempt
        _finish(message, delivery_status=DeliveryStatus.FAILED, next_attempt_at=None,
                delivery_error=f"Gave up after {MAX_DELIVERY_ATTEMPTS} attempts.")
        return DeliveryStatus.FAILED
    try:
        try:
            result = adapter_for(connection.platform).send(connection, _outbound(message))
        except DeliveryError:
            raise
        except CredentialsUnreadable:
            logger.error("Message %s: connection %s has credentials no FIELD_ENCRYPTION_KEYS key decrypts",
                         message_id, connection.pk)
            raise RetryableDeliveryError(
                "This channel's credentials cannot be decrypted with the configured keys "
                "(FIELD_ENCRYPTION_KEYS); an admin must restore the key or type them again.") from None
        except Exception as unexpected:
            # An adapter bug must not leave the message claimed and unexplained. Only the
            # type is kept: an exception's text can carry a URL or a header, and so a token.
            logger.error("Sending message %s raised %s", message_id, type(unexpected).__name__)
            raise RetryableDeliveryError(
                f"Unexpected error while sending ({type(unexpected).__name__})") from None
    except DeliveryError as exc:
        progress = {"delivered_parts": max(message.delivered_parts, exc.parts_sent)}
        if exc.retryable and message.delivery_attempts < MAX_DELIVERY_ATTEMPTS:
            delay = retry_delay(message.delivery_attempts, exc.retry_after)
            _finish(message, next_attempt_at=timezone.now() + delay, delivery_error=exc.reason[:1000], **progress)
            schedule_delivery_retry(message_id=message.pk, at=timezone.now() + delay)
            logger.info("Delivery of message %s will be retried in %s: %s", message_id, delay, exc.reason)
            return DeliveryStatus.PENDING
        _finish(message, delivery_status=DeliveryStatus.FAILED, delivery_error=exc.reason[:1000],
                next_attempt_at=None, **progress)
        logger.warning("Delivery of message %s failed: %s", message_id, exc.reason)
        return DeliveryStatus.FAILED
    _finish(
        message,
        delivery_status=DeliveryStatus.SENT,
        delivery_error="",
        next_attempt_at=None,
        platform_message_id=",".join(result.platform_message_ids)[:255] or None,
    )
    return DeliveryStatus.SENT


def delivery_retry(*, message_id: int, user) -> Message:
    """A teammate asks to send a failed message again: back to pending, delivered by the worker."""
    message = Message.objects.select_related("organization", "conversation").filter(pk=message_id).first()
    if message is None:
        raise NotFoundError("No such message.")
    authorize(user, message.organization, OrgPermission.HANDLE_CONVERSATIONS)
    with transaction.atomic():
        retried = Message.objects.filter(pk=message_id, delivery_status=DeliveryStatus.FAILED).update(
            delivery_status=DeliveryStatus.PENDING, delivery_attempts=0, delivery_error="",
            next_attempt_at=timezone.now(),
        )
        if not retried:
            raise ConflictError("Only a failed message can be sent again.", code="not_failed")
        message.refresh_from_db()
        events.publish_message_event(message, "message.updated")
        enqueue_on_commit("channels_gateway.tasks.deliver_message", message.pk)
    return message


def visitor_typing(*, conversation: Conversation) -> None:
    """The user types: the teammate holding the conversation sees it. Nothing is stored."""
    if conversation.mode != ConversationMode.HUMAN:
        return
    session = HandoffSession.objects.filter(conversation=conversation, status__in=OPEN_STATUSES).first()
    if session is None:
        return
    events.send_inbox_event(conversation.organization_id, {
        "type": "typing", "session_id": session.pk, "conversation_id": conversation.pk,
        "author_kind": "user", "name": str(conversation.contact),
    })
