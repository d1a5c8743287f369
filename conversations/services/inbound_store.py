"""A user's message into its thread's existing conversation: on PostgreSQL, one statement.

Nearly every inbound message belongs to an ongoing conversation, and storing it is the
webhook's hot path (bench/perf, figure 1). As a transaction of ORM queries it took six round
trips (BEGIN, the locked conversation, the duplicate check, the insert, `last_message_at`,
COMMIT) and most of the web process's time per webhook in SQL compilation: p50 from webhook
to inbox 7.0 ms at 50 messages/s, 4.8 ms as this statement. It runs on its own (autocommit,
or inside the caller's transaction) and does in one round trip what the transaction did:

- locks the conversation row (`FOR NO KEY UPDATE`, the lock escalate/resolve/expire take), so
  its mode, which decides whether the AI answers, is read as of the newest committed
  transition, and a message arriving mid-transition is never left for nobody;
- inserts the message unless the platform delivered it before: `ON CONFLICT` on the partial
  unique index `inbound_message_stored_once` waits for a concurrent delivery of the same
  message and then skips it, so a redelivery, however concurrent, is one row;
- moves the conversation's `last_message_at`, and keeps the sender's display name current;
- checks that the connection is still active and, for a connection a web process
  remembered (`channels_gateway.selectors.webhook_connection`), still the row it read:
  PostgreSQL's `xmin` changes with every write to the row.

Other databases (the embedded SQLite default) run the same steps as an ORM transaction,
`_store_in_transaction`; the test suite runs both on PostgreSQL.
"""

from dataclasses import dataclass
from datetime import datetime

import psycopg
from django.db import connection as database
from django.db import transaction
from django.utils import timezone

from channels_gateway.adapters.base import InboundMessage
from channels_gateway.models import ChannelConnection, Platform
from conversations.models import AIReplyState, AuthorKind, Contact, Conversation, ConversationMode, DeliveryStatus, Message
from handoff_site import loop_database
from handoff_site.errors import NotFoundError


class ConnectionChanged(NotFoundError):
    """The connection was deactivated, or written to since the caller read it (its credentials
    may have changed): nothing was stored. A webhook reads the connection again and retries."""

    def __init__(self) -> None:
        super().__init__("This channel is not active.", code="channel_inactive")


@dataclass(frozen=True)
class StoredMessage:
    message: Message  # its conversation (with the contact) attached
    created: bool  # False: the platform had delivered it before, this is the stored one


# Where the one statement runs; elsewhere the ORM transaction does the same.
ONE_STATEMENT_VENDORS = frozenset({"postgresql"})


def checks_row_version() -> bool:
    """Whether storing checks a remembered connection's row version: only the statement does,
    so only here may a web process remember connections."""
    return database.vendor in ONE_STATEMENT_VENDORS


def store_user_message(*, connection: ChannelConnection, inbound: InboundMessage, text: str) -> StoredMessage | None:
    """Store `text` from `inbound` in the conversation of its thread. None when the thread has
    no conversation yet (the caller opens one and calls again). Raises ConnectionChanged.

    The sender may differ from the conversation's contact (another member of a shared thread);
    the message is still the conversation's, and only the contact's own name is kept current."""
    if checks_row_version():
        return _store_in_one_statement(connection, inbound, text)
    return _store_in_transaction(connection, inbound, text)


def keep_display_name(contact: Contact, name: str) -> None:
    """The contact's name as the platform last gave it (none given changes nothing)."""
    if name and contact.display_name != name:
        contact.display_name = name
        contact.save(update_fields=["display_name"])


def _ai_may_answer(connection: ChannelConnection) -> bool:
    # On the API channel the customer's own agent is the AI: Handoff only does the human part.
    return connection.platform != Platform.API


def _statement() -> str:
    conversation, contact = Conversation._meta.db_table, Contact._meta.db_table
    # The choices' values are written into the text (constants of the code, never input), as the
    # ON CONFLICT predicate must be for PostgreSQL to recognise the partial index.
    return f"""
WITH live_connection AS (
    SELECT id FROM {ChannelConnection._meta.db_table}
    WHERE id = %(connection_id)s AND is_active
      AND (%(row_version)s::text IS NULL OR xmin::text = %(row_version)s::text)
), locked AS (
    SELECT c.id, c.organization_id, c.agent_id, c.contact_id, c.mode, c.created_at,
           contact.external_id AS contact_external_id, contact.display_name AS contact_display_name,
           contact.created_at AS contact_created_at
    FROM {conversation} c JOIN {contact} contact ON contact.id = c.contact_id
    -- The parameter itself, not live_connection's id: the planner then finds the row through the
    -- unique index of (connection, thread), however many conversations the connection has.
    WHERE c.connection_id = %(connection_id)s AND c.external_thread_id = %(thread_id)s
      AND EXISTS (SELECT 1 FROM live_connection)
    FOR NO KEY UPDATE OF c
), inserted AS (
    INSERT INTO {Message._meta.db_table} (
        organization_id, conversation_id, author_kind, text, platform_message_id, delivery_status,
        delivery_error, delivery_attempts, delivered_parts, ai_reply_state, created_at)
    SELECT organization_id, id, '{AuthorKind.USER.value}', %(text)s, %(platform_message_id)s,
           '{DeliveryStatus.RECEIVED.value}', '', 0, 0,
           CASE WHEN mode = '{ConversationMode.AI.value}' AND %(ai_may_answer)s
                THEN '{AIReplyState.PENDING.value}' ELSE '{AIReplyState.NONE.value}' END,
           %(now)s
    FROM locked
    ON CONFLICT (conversation_id, platform_message_id)
        WHERE author_kind = '{AuthorKind.USER.value}' AND platform_message_id IS NOT NULL DO NOTHING
    RETURNING id, conversation_id, ai_reply_state
), touched AS (
    UPDATE {conversation} SET last_message_at = %(now)s WHERE id = (SELECT conversation_id FROM inserted)
), renamed AS (
    UPDATE {contact} SET display_name = %(contact_name)s
    WHERE id = (SELECT contact_id FROM locked WHERE contact_external_id = %(sender)s)
      AND %(contact_name)s <> '' AND display_name <> %(contact_name)s
)
SELECT EXISTS (SELECT 1 FROM live_connection), locked.id, locked.organization_id, locked.agent_id,
       locked.contact_id, locked.mode, locked.created_at, locked.contact_external_id,
       locked.contact_display_name, locked.contact_created_at, inserted.id, inserted.ai_reply_state
FROM (VALUES (1)) AS one LEFT JOIN locked ON TRUE LEFT JOIN inserted ON TRUE
"""


STATEMENT = _statement()


def _store_in_one_statement(connection: ChannelConnection, inbound: InboundMessage, text: str) -> StoredMessage | None:
    now = timezone.now()
    with _server_binding_cursor() as cursor:
        cursor.execute(STATEMENT, _parameters(connection, inbound, text, now))
        conversation, message = _stored_from_row(cursor.fetchone(), connection, inbound, text, now)
    if conversation is None:
        return None
    if message is None:
        return StoredMessage(_delivered_before(conversation, inbound), created=False)
    return StoredMessage(message, created=True)


async def store_user_message_from_event_loop(
    *, connection: ChannelConnection, inbound: InboundMessage, text: str,
) -> tuple[Conversation | None, Message | None]:
    """`store_user_message`'s statement, run on the event loop (handoff_site/loop_database.py):
    (None, None) when the thread has no conversation yet, (conversation, None) when the
    platform had delivered the message before, else the new message. Raises ConnectionChanged,
    and what psycopg and its pool raise."""
    now = timezone.now()
    async with loop_database.connection() as held:
        cursor = await held.execute(STATEMENT, _parameters(connection, inbound, text, now))
        return _stored_from_row(await cursor.fetchone(), connection, inbound, text, now)


def _parameters(connection: ChannelConnection, inbound: InboundMessage, text: str, now: datetime) -> dict:
    return {
        "connection_id": connection.pk, "row_version": connection.row_version,
        "thread_id": inbound.thread_id, "sender": inbound.contact_external_id,
        "contact_name": inbound.contact_name, "text": text,
        "platform_message_id": inbound.platform_message_id, "now": now,
        "ai_may_answer": _ai_may_answer(connection),
    }


def _stored_from_row(row: tuple, connection: ChannelConnection, inbound: InboundMessage, text: str,
                     now: datetime) -> tuple[Conversation | None, Message | None]:
    (connection_live, conversation_id, organization_id, agent_id, contact_id, mode, created_at,
     contact_external_id, contact_display_name, contact_created_at, message_id, ai_reply_state) = row
    if not connection_live:
        raise ConnectionChanged()
    if conversation_id is None:
        return None, None
    if contact_external_id == inbound.contact_external_id and inbound.contact_name:
        contact_display_name = inbound.contact_name  # as the statement renamed it
    contact = Contact(id=contact_id, organization_id=organization_id, connection_id=connection.pk,
                      external_id=contact_external_id, display_name=contact_display_name,
                      created_at=contact_created_at)
    conversation = Conversation(id=conversation_id, organization_id=organization_id, agent_id=agent_id,
                                connection=connection, contact=contact, external_thread_id=inbound.thread_id,
                                mode=mode, created_at=created_at)
    if message_id is None:
        return conversation, None
    conversation.last_message_at = now
    message = Message(id=message_id, organization_id=organization_id, conversation=conversation,
                      author_kind=AuthorKind.USER, text=text, platform_message_id=inbound.platform_message_id,
                      delivery_status=DeliveryStatus.RECEIVED, ai_reply_state=ai_reply_state, created_at=now)
    return conversation, message


def _server_binding_cursor():
    """A Django cursor (errors wrapped, queries logged where Django logs them) that binds its
    parameters on the server, which Django's own do not: psycopg then prepares a statement
    once a connection has run it `prepare_threshold` times (settings.py), and PostgreSQL no
    longer parses and plans it. For this statement that was most of its time (0.84 ms a
    run unprepared, 0.46 prepared, on the machine of bench/perf)."""
    database.close_if_health_check_failed()
    database.ensure_connection()
    with database.wrap_database_errors:
        cursor = psycopg.Cursor(database.connection)
    database.validate_thread_sharing()
    return database.make_debug_cursor(cursor) if database.queries_logged else database.make_cursor(cursor)


def _delivered_before(conversation: Conversation, inbound: InboundMessage) -> Message:
    # Read in a statement of its own: a concurrent delivery the INSERT waited for committed
    # after the statement's snapshot was taken.
    message = Message.objects.get(conversation=conversation, author_kind=AuthorKind.USER,
                                  platform_message_id=inbound.platform_message_id)
    message.conversation = conversation
    return message


def _store_in_transaction(connection: ChannelConnection, inbound: InboundMessage, text: str) -> StoredMessage | None:
    if not connection.is_active:
        raise ConnectionChanged()
    with transaction.atomic():
        locked = Conversation.objects.select_for_update(no_key=True, of=("self",)).select_related("contact")
        try:
            conversation = locked.get(connection=connection, external_thread_id=inbound.thread_id)
        except Conversation.DoesNotExist:
            return None
        conversation.connection = connection
        if conversation.contact.external_id == inbound.contact_external_id:
            keep_display_name(conversation.contact, inbound.contact_name)
        if inbound.platform_message_id:
            try:
                return StoredMessage(_delivered_before(conversation, inbound), created=False)
            except Message.DoesNotExist:
                pass
        ai_answers = conversation.mode == ConversationMode.AI and _ai_may_answer(connection)
        message = Message.objects.create(
            organization_id=conversation.organization_id, conversation=conversation, author_kind=AuthorKind.USER,
            text=text, platform_message_id=inbound.platform_message_id, delivery_status=DeliveryStatus.RECEIVED,
            ai_reply_state=AIReplyState.PENDING if ai_answers else AIReplyState.NONE,
        )
        conversation.last_message_at = message.created_at
        Conversation.objects.filter(pk=conversation.pk).update(last_message_at=message.created_at)
    return StoredMessage(message, created=True)
