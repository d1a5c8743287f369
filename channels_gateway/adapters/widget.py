"""The web widget: the end user's browser holds a websocket; sending is a group message."""

from channels_gateway.adapters.base import (
    ChannelAdapter,
    OutboundMessage,
    RetryableDeliveryError,
    SendResult,
)
from channels_gateway.models import ChannelConnection, Platform
from handoff_site.realtime import group_send_from_thread, send_to_group


def widget_group(connection_id: int, visitor_id: str) -> str:
    """Keyed by visitor, not conversation: the widget joins before its first message exists."""
    return f"widget-{connection_id}-{visitor_id}"


class WidgetAdapter(ChannelAdapter):
    platform = Platform.WIDGET
    max_message_length = 20000

    def send(self, connection: ChannelConnection, message: OutboundMessage) -> SendResult:
        frame = {
            "type": "message",
            "message": {
                "id": message.message_id,
                "author_kind": message.author_kind,
                "author_name": message.author_name,
                "text": message.text,
                "created_at": message.created_at,
            },
        }
        try:
            group_send_from_thread(widget_group(connection.pk, message.thread_id),
                                   {"type": "widget.frame", "frame": frame})
        except Exception as exc:  # the channel layer is down: the message stays queued for a retry
            raise RetryableDeliveryError(f"Channel layer unavailable: {exc}") from exc
        # An offline visitor reads it from history when the widget reconnects.
        return SendResult(platform_message_ids=[str(message.message_id)])

    def show_typing(self, connection: ChannelConnection, thread_id: str, author_name: str) -> None:
        send_to_group(widget_group(connection.pk, thread_id),
                      {"type": "widget.frame", "frame": {"type": "typing", "author_name": author_name}})
