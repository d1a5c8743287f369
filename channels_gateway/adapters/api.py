"""The API channel: no platform. A customer's own agent posts its users' messages through the
REST API (which calls `receive_inbound_message`), and everything addressed to the user goes
back to it as a signed `message.created` webhook event, for it to relay.

Sending = storing the event for each endpoint subscribed to `message.created`: the message
counts as sent once the event is stored; the webhook's own retries (a day) take it from
there. With no such endpoint there is nobody to hand it to: the message fails at once, so
the teammate sees it in the inbox.
"""

from channels_gateway.adapters.base import ChannelAdapter, OutboundMessage, PermanentDeliveryError, SendResult
from channels_gateway.models import ChannelConnection, Platform


class ApiAdapter(ChannelAdapter):
    platform = Platform.API
    max_message_length = 20000
    setup_help = (
        "Post your users' messages with the REST API; add a webhook endpoint (Webhook endpoints) "
        "subscribed to message.created to receive the replies, signed with its secret."
    )

    def send(self, connection: ChannelConnection, message: OutboundMessage) -> SendResult:
        from channels_gateway.webhook_events import emit_message_created
        from conversations.models import Message

        stored = Message.objects.select_related(
            "conversation__connection", "conversation__contact", "conversation__agent", "author_user"
        ).get(pk=message.message_id)
        deliveries = emit_message_created(stored)
        if not deliveries:
            raise PermanentDeliveryError("No active webhook endpoint is subscribed to message.created.")
        return SendResult(platform_message_ids=[str(deliveries[0].event_id)])
