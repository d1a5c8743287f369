from django.utils import timezone

from channels_gateway.models import ChannelConnection
from channels_gateway.widget_payloads import widget_message_payload
from conversations.models import Conversation, DeliveryStatus, Message


def due_delivery_ids(*, limit: int = 500) -> list[int]:
    """Outbound messages whose next attempt is due, including ones a dead worker had claimed."""
    return list(
        Message.objects.filter(delivery_status=DeliveryStatus.PENDING, next_attempt_at__lte=timezone.now())
        .order_by("next_attempt_at")
        .values_list("pk", flat=True)[:limit]
    )


def active_connection(*, key: str, platform: str) -> ChannelConnection | None:
    return ChannelConnection.objects.select_related("agent", "organization").filter(
        key=key, platform=platform, is_active=True
    ).first()


def widget_conversation(*, connection: ChannelConnection, visitor_id: str) -> Conversation | None:
    return Conversation.objects.filter(connection=connection, external_thread_id=visitor_id).first()


def widget_history(*, conversation: Conversation, limit: int = 200) -> list[dict]:
    newest_first = conversation.messages.select_related(
        "author_user", "conversation__agent", "conversation__contact"
    ).order_by("-created_at", "-pk")[:limit]
    return [widget_message_payload(message) for message in reversed(newest_first)]
