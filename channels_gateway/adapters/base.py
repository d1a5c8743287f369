"""The one small interface every channel adapter implements.

An adapter turns a platform's inbound request into an `InboundMessage` and sends
outbound text through the platform's API. It knows nothing of conversations, handoff
or the database: the gateway services call it.
"""

from dataclasses import dataclass, field

from channels_gateway.models import ChannelConnection


@dataclass(frozen=True)
class InboundMessage:
    """A user's message, normalised from any platform's payload."""

    contact_external_id: str
    thread_id: str
    text: str
    platform_message_id: str | None
    contact_name: str = ""


@dataclass(frozen=True)
class OutboundMessage:
    """What the gateway hands an adapter to deliver."""

    message_id: int
    conversation_id: int
    thread_id: str
    text: str
    author_kind: str
    author_name: str
    created_at: str


@dataclass(frozen=True)
class SendResult:
    platform_message_ids: list[str] = field(default_factory=list)


class DeliveryError(Exception):
    """The platform refused or could not be reached."""

    retryable = False

    def __init__(self, reason: str, *, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after


class RetryableDeliveryError(DeliveryError):
    """Rate limits, 5xx, time-outs: try again later."""

    retryable = True


class PermanentDeliveryError(DeliveryError):
    """User blocked the bot, chat gone, window closed: trying again will not help."""


class ChannelAdapter:
    platform: str
    # Platforms cap a message's length; longer replies are split, never cut.
    max_message_length: int = 4000

    def send(self, connection: ChannelConnection, message: OutboundMessage) -> SendResult:
        raise NotImplementedError
