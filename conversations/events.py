"""The event publisher: every real-time event leaves here, after its transaction commits.

Groups are explicit and org-scoped: `org-<id>-inbox` reaches the open inboxes of one
organization. A reader of an event never sees a row that is not committed yet.
"""

import logging

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

from conversations.models import AuthorKind, ConversationMode, HandoffSession, Message
from conversations.payloads import message_payload, session_payload

logger = logging.getLogger(__name__)


def inbox_group(organization_id: int) -> str:
    return f"org-{organization_id}-inbox"


def _group_send(group: str, event: dict) -> None:
    try:
        async_to_sync(get_channel_layer().group_send)(group, {"type": "inbox.event", "event": event})
    except Exception:
        # The write is committed; an open inbox resynchronises from the database on reconnect.
        logger.exception("Could not publish %s to %s", event.get("type"), group)


def publish_on_commit(organization_id: int, event: dict) -> None:
    transaction.on_commit(lambda: _group_send(inbox_group(organization_id), event))


def publish_handoff_event(session: HandoffSession, event_type: str) -> None:
    publish_on_commit(session.organization_id, {"type": event_type, "session": session_payload(session)})


def publish_message_event(message: Message, event_type: str = "message.created") -> None:
    """Inbox viewers follow conversations that are with a human, and the handoff notices
    around them; AI-only chatter stays out of their feed."""
    if message.conversation.mode != ConversationMode.HUMAN and message.author_kind != AuthorKind.SYSTEM:
        return
    publish_on_commit(message.organization_id, {"type": event_type, "message": message_payload(message)})
