"""What the end user's widget sees of a message: never delivery internals or staff details."""

from conversations.models import Message
from conversations.payloads import public_author_name


def widget_message_payload(message: Message) -> dict:
    return {
        "id": message.pk,
        "author_kind": message.author_kind,
        "author_name": public_author_name(message),
        "text": message.text,
        "created_at": message.created_at.isoformat(),
    }
