"""Driving the outbound sender by hand in adapter tests."""

from datetime import timedelta

from django.utils import timezone

from channels_gateway.services import deliver_message
from conversations.models import AuthorKind, Conversation, Message
from conversations.services.messages import post_message_to_contact


def make_due(message: Message) -> None:
    """Skip the wait before the next attempt."""
    Message.objects.filter(pk=message.pk).update(next_attempt_at=timezone.now())


def try_again_now(message: Message) -> Message:
    make_due(message)
    deliver_message(message_id=message.pk)
    message.refresh_from_db()
    return message


def reply(conversation: Conversation, text: str, *, kind=AuthorKind.TEAMMATE, user=None) -> Message:
    """A message to the user, stored and given its first delivery attempt at once."""
    message = post_message_to_contact(conversation=conversation, author_kind=kind, text=text, author_user=user)
    deliver_message(message_id=message.pk)
    message.refresh_from_db()
    return message


def user_last_wrote(conversation: Conversation, *, hours_ago: float) -> None:
    """Age the user's messages, for the platforms' reply windows."""
    Message.objects.filter(conversation=conversation, author_kind=AuthorKind.USER).update(
        created_at=timezone.now() - timedelta(hours=hours_ago))
