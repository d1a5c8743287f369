from django.conf import settings
from django.db.models.expressions import RawSQL
from django.utils import timezone

from channels_gateway import remembered_connections
from channels_gateway.adapters.registry import webhook_segment_of

from channels_gateway.models import ChannelConnection
from channels_gateway.widget_payloads import widget_message_payload
from conversations.models import AuthorKind, Conversation, DeliveryStatus, Message
from conversations.services.inbound_store import checks_row_version


def due_delivery_ids(*, limit: int = 500) -> list[int]:
    """Outbound messages whose next attempt is due, including ones a dead worker had claimed."""
    return list(
        Message.objects.filter(delivery_status=DeliveryStatus.PENDING, next_attempt_at__lte=timezone.now())
        .order_by("next_attempt_at")
        .values_list("pk", flat=True)[:limit]
    )


def last_user_message_at(*, conversation: Conversation):
    return (
        Message.objects.filter(conversation=conversation, author_kind=AuthorKind.USER)
        .order_by("-created_at").values_list("created_at", flat=True).first()
    )


def active_channel_count(*, organization) -> int:
    return ChannelConnection.objects.filter(organization=organization, is_active=True).count()


def webhook_connection(*, key: str, platforms: tuple[str, ...], remembered: bool = True) -> ChannelConnection | None:
    """The active connection a webhook URL names, if it is on one of `platforms`. With
    `remembered`, the one this process read for an earlier webhook may answer
    (channels_gateway.remembered_connections says what keeps it honest); otherwise, or when
    there is none, it is read now."""
    if not platforms:
        return None
    connection = remembered_connections.recall(key) if remembered else None
    if connection is None:
        connection = _read_webhook_connection(key)
        if connection is None:
            return None
        remembered_connections.remember(connection)
    return connection if connection.platform in platforms else None


def _read_webhook_connection(key: str) -> ChannelConnection | None:
    connections = ChannelConnection.objects.select_related("agent", "organization")
    if checks_row_version():  # else nothing would catch a remembered row going out of date
        connections = connections.annotate(
            row_version=RawSQL(f'"{ChannelConnection._meta.db_table}".xmin::text', ()))
    # get(), not first(): the key is unique, and first() would add an ORDER BY to compile.
    try:
        return connections.get(key=key, is_active=True)
    except ChannelConnection.DoesNotExist:
        return None


def webhook_url(connection: ChannelConnection) -> str | None:
    segment = webhook_segment_of(connection.platform)
    return f"{settings.SITE_URL}/webhooks/{segment}/{connection.key}/" if segment else None


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
