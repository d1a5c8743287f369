"""Driving the outbound sender by hand in adapter tests."""

from django.utils import timezone

from channels_gateway.services import deliver_message
from conversations.models import Message


def make_due(message: Message) -> None:
    """Skip the wait before the next attempt."""
    Message.objects.filter(pk=message.pk).update(next_attempt_at=timezone.now())


def try_again_now(message: Message) -> Message:
    make_due(message)
    deliver_message(message_id=message.pk)
    message.refresh_from_db()
    return message
