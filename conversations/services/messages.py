"""Messages in and out. Every message to a contact is stored first, then delivered by the worker."""

import functools
import re
from dataclasses import dataclass, replace

from asgiref.sync import sync_to_async
from django.db import close_old_connections, transaction
from django.utils import timezone

from channels_gateway.adapters.base import InboundMessage
from channels_gateway.models import ChannelConnection, Platform
from conversations import events
from conversations.services.inbound_store import (
    keep_display_name,
    store_user_message,
    store_user_message_from_event_loop,
)
from conversations.models import (
    AIReplyState,
    AuthorKind,
    Contact,
    Conversation,
    DeliveryStatus,
    Message,
)
from handoff_site.task_queue import enqueue_on_commit
from handoff_site.errors import ValidationError

MAX_INBOUND_TEXT = 20_000
MAX_IDENTIFIER = 255  # the columns' width


_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def storable_text(text: str) -> str:
    """Text PostgreSQL can hold. It refuses NUL, and a lone surrogate (JSON may escape one,
    "\\ud800"; Python decodes it) cannot be encoded as UTF-8 at all: both would make the insert
    fail, and a platform retry a refused message forever, which is worse than losing an
    invisible character or showing U+FFFD for half an emoji."""
    return _LONE_SURROGATE.sub("\ufffd", text.replace("\x00", ""))


@dataclass(frozen=True)
class InboundResult:
    message: Message
    created: bool


def _contact_for(connection: ChannelConnection, inbound: InboundMessage) -> Contact:
    contact, created = Contact.objects.get_or_create(
        connection=connection,
        external_id=inbound.contact_external_id,
        defaults={"organization_id": connection.organization_id, "display_name": inbound.contact_name},
    )
    if not created:
        keep_display_name(contact, inbound.contact_name)
    return contact


def _open_conversation(connection: ChannelConnection, inbound: InboundMessage) -> None:
    """A thread's first message: its contact and conversation (a concurrent first delivery of the
    same thread finds the rows the other made)."""
    with transaction.atomic():
        Conversation.objects.get_or_create(
            connection=connection,
            external_thread_id=inbound.thread_id,
            defaults={
                "organization_id": connection.organization_id,
                "agent_id": connection.agent_id,
                "contact": _contact_for(connection, inbound),
            },
        )


def receive_inbound_message(*, connection: ChannelConnection, inbound: InboundMessage) -> InboundResult:
    """Store a user's message once, however often the platform delivers it, then start the AI turn.

    Idempotent on (conversation, platform message id): a redelivery returns the stored
    message with created=False and triggers nothing. Raises ConnectionChanged (a NotFoundError)
    when the connection is no longer active.
    """
    inbound, text = _storable(inbound)
    stored = store_user_message(connection=connection, inbound=inbound, text=text)
    if stored is None:
        _open_conversation(connection, inbound)
        stored = store_user_message(connection=connection, inbound=inbound, text=text)
    if stored.created:
        # After the commit: the statement's own, or the caller's transaction's.
        _follow_up(stored.message, connection, inbound)
    return InboundResult(stored.message, created=stored.created)


async def receive_inbound_message_on_event_loop(*, connection: ChannelConnection, inbound: InboundMessage) -> bool:
    """`receive_inbound_message` from the event loop (channels_gateway/loop_webhooks.py), on
    PostgreSQL: the one statement there, and a thread only for what needs the ORM (a thread's
    first message, a new sender in a shared thread, the AI's turn). Returns whether the
    message is new. Raises what `receive_inbound_message` raises, and what
    `store_user_message_from_event_loop` raises before anything is stored."""
    inbound, text = _storable(inbound)
    conversation, message = await store_user_message_from_event_loop(connection=connection, inbound=inbound,
                                                                      text=text)
    if conversation is None:
        stored = await _in_a_thread(receive_inbound_message)(connection=connection, inbound=inbound)
        return stored.created
    if message is None:
        return False
    if _sender_is_new(message, inbound) or message.ai_reply_state == AIReplyState.PENDING:
        await _in_a_thread(_follow_up)(message, connection, inbound)
    else:
        await events.publish_stored_user_message(message)
    return True


def _in_a_thread(function):
    """`function` in a pool thread, its database connection checked before and after, as a
    request's is. Checked from inside the call: asgiref runs it in a context of its own, where
    a connection it opens is not the one channels' database_sync_to_async would check after."""

    @functools.wraps(function)
    def between_connection_checks(*args, **kwargs):
        close_old_connections()
        try:
            return function(*args, **kwargs)
        finally:
            close_old_connections()

    return sync_to_async(between_connection_checks, thread_sensitive=False)


def _storable(inbound: InboundMessage) -> tuple[InboundMessage, str]:
    """`inbound` as the database can hold it, and its text; raises ValidationError."""
    inbound = replace(
        inbound,
        text=storable_text(inbound.text),
        contact_name=storable_text(inbound.contact_name)[:255],
        contact_external_id=storable_text(inbound.contact_external_id),
        thread_id=storable_text(inbound.thread_id),
        platform_message_id=storable_text(inbound.platform_message_id) if inbound.platform_message_id else None,
    )
    text = inbound.text.strip()
    if not text:
        raise ValidationError("A message needs some text.", code="empty_message")
    identifiers = (inbound.contact_external_id, inbound.thread_id, inbound.platform_message_id or "")
    if not inbound.contact_external_id or not inbound.thread_id or max(map(len, identifiers)) > MAX_IDENTIFIER:
        raise ValidationError("A message needs a sender and a thread id of at most 255 characters.",
                              code="invalid_identifier")
    if len(text) > MAX_INBOUND_TEXT:
        raise ValidationError(f"Messages are limited to {MAX_INBOUND_TEXT} characters.", code="message_too_long")
    return inbound, text


def _sender_is_new(message: Message, inbound: InboundMessage) -> bool:
    return message.conversation.contact.external_id != inbound.contact_external_id


def _follow_up(message: Message, connection: ChannelConnection, inbound: InboundMessage) -> None:
    """What a new user's message sets off, once it is stored."""
    if _sender_is_new(message, inbound):
        _contact_for(connection, inbound)  # another sender in a shared thread is a contact too
    events.publish_message_event(message)
    if message.ai_reply_state == AIReplyState.PENDING:
        enqueue_on_commit("conversations.tasks.run_agent_turn", message.pk)


def post_message_to_contact(
    *, conversation: Conversation, author_kind: AuthorKind, text: str, author_user=None
) -> Message:
    """The one outbound path: store the message as pending, deliver it after commit."""
    message = Message.objects.create(
        organization_id=conversation.organization_id,
        conversation=conversation,
        author_kind=author_kind,
        author_user=author_user,
        text=text,
        delivery_status=DeliveryStatus.PENDING,
        next_attempt_at=timezone.now(),
    )
    Conversation.objects.filter(pk=conversation.pk).update(last_message_at=message.created_at)
    message.conversation = conversation
    # On-commit callbacks run in the order registered: the inbox hears of the message before
    # the worker can report its delivery, so a fast "sent" is never overwritten by "sending".
    events.publish_message_event(message)
    enqueue_on_commit("channels_gateway.tasks.deliver_message", message.pk)
    return message


def answer_what_was_asked_while_queued(*, conversation: Conversation, since) -> None:
    """Back with the AI after nobody accepted: the AI answers the user's latest message from
    the wait (the turn reads the whole burst), so no question is left hanging."""
    latest = (
        Message.objects.filter(conversation=conversation, author_kind=AuthorKind.USER, created_at__gte=since)
        .order_by("-created_at", "-pk").first()
    )
    if latest is None or conversation.connection.platform == Platform.API:
        return  # on the API channel the customer's own agent picks the conversation up again
    Message.objects.filter(pk=latest.pk).update(ai_reply_state=AIReplyState.PENDING)
    enqueue_on_commit("conversations.tasks.run_agent_turn", latest.pk)
