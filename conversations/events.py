"""The event publisher: every real-time event leaves here, after its transaction commits.

Groups are explicit and org-scoped: `org-<id>-inbox` reaches the open inboxes of one
organization. A reader of an event never sees a row that is not committed yet.

The inbox group is a stream (handoff_site/realtime.py): every event but `typing` carries
its position, so an inbox that misses one notices the gap and reloads.
"""

from channels_gateway import webhook_events
from conversations.models import AuthorKind, ConversationMode, HandoffSession, Message
from conversations.payloads import message_payload, session_payload
from handoff_site.realtime import publish, send_to_group, send_to_group_on_commit


def inbox_group(organization_id: int) -> str:
    return f"org-{organization_id}-inbox"


# Passing signals: nothing to reload if one is lost, so they take no place in the stream.
UNSEQUENCED_EVENTS = frozenset({"typing"})


def _for_inbox_sockets(event: dict) -> dict:
    return {"type": "inbox.event", "event": event}


def publish_on_commit(organization_id: int, event: dict) -> None:
    send_to_group_on_commit(inbox_group(organization_id), _for_inbox_sockets(event), stream=True)


def send_inbox_event(organization_id: int, event: dict) -> None:
    """At once, for what is not a write (typing) or runs after the commit already."""
    send_to_group(inbox_group(organization_id), _for_inbox_sockets(event),
                  stream=event.get("type") not in UNSEQUENCED_EVENTS)


def publish_handoff_event(session: HandoffSession, event_type: str) -> None:
    publish_on_commit(session.organization_id, {"type": event_type, "session": session_payload(session)})
    # Outbound webhooks: stored in this transaction, sent by the worker after it commits.
    webhook_events.emit_handoff_event(session, event_type)


def publish_message_event(message: Message, event_type: str = "message.created") -> None:
    if event_type == "message.created":
        webhook_events.emit_stored_message(message)
    if _followed_in_inbox(message):
        publish_on_commit(message.organization_id, {"type": event_type, "message": message_payload(message)})


async def publish_stored_user_message(message: Message) -> None:
    """`publish_message_event` for a user's message committed on the event loop (a webhook taken
    there, channels_gateway/loop_webhooks.py). A user's message emits no outbound webhook
    (`emit_stored_message`), so this is the inbox event alone."""
    if message.author_kind != AuthorKind.USER:
        raise ValueError("Only a user's message is published from the event loop.")
    if _followed_in_inbox(message):
        event = {"type": "message.created", "message": message_payload(message)}
        await publish(inbox_group(message.organization_id), _for_inbox_sockets(event), stream=True)


def _followed_in_inbox(message: Message) -> bool:
    """Inbox viewers follow conversations that are with a human, the handoff notices around
    them, and the fate of every teammate's reply (a delivery can fail after a resolve);
    AI-only chatter stays out of their feed."""
    return (
        message.conversation.mode == ConversationMode.HUMAN
        or message.author_kind in (AuthorKind.SYSTEM, AuthorKind.TEAMMATE)
    )
