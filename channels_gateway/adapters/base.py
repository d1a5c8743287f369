"""The one small interface every channel adapter implements.

An adapter verifies a platform's webhook request and turns it into `InboundMessage`s,
and sends outbound text through the platform's API. It knows nothing of conversations,
handoff or the database: the gateway services call it.
"""

from dataclasses import dataclass, field
from datetime import datetime

from django.http import HttpRequest, HttpResponse

from channels_gateway.models import ChannelConnection


@dataclass(frozen=True)
class InboundMessage:
    """A user's message, normalised from any platform's payload.

    `thread_id` is where replies go back (a chat, a DM channel, a Slack thread);
    `platform_message_id` is the idempotency key, unique within that thread.
    Unsupported content (stickers, images) arrives as a readable placeholder text.
    """

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
    contact_external_id: str = ""
    # Parts of a split message already delivered by an earlier attempt: not sent again.
    parts_sent: int = 0
    # For platforms with a reply window (WhatsApp, Messenger, Instagram).
    last_user_message_at: datetime | None = None


@dataclass(frozen=True)
class SendResult:
    platform_message_ids: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class WebhookOutcome:
    """What a verified webhook request carried, and what to answer the platform.

    `response` None means a plain 200; handshakes (Meta's hub.challenge, Discord's PONG,
    Slack's url_verification) answer with their own body.
    """

    messages: list[InboundMessage] = field(default_factory=list)
    response: HttpResponse | None = None


class WebhookRejected(Exception):
    """A request that fails verification (401/403) or cannot be read (400). Nothing is stored."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


class DeliveryError(Exception):
    """The platform refused or could not be reached."""

    retryable = False

    def __init__(self, reason: str, *, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after
        # Set by `send_in_parts`: how many parts of a split message did get through.
        self.parts_sent = 0
        self.platform_message_ids: list[str] = []


class RetryableDeliveryError(DeliveryError):
    """Rate limits, 5xx, time-outs: try again later."""

    retryable = True


class PermanentDeliveryError(DeliveryError):
    """User blocked the bot, chat gone, window closed: trying again will not help."""


class ChannelAdapter:
    platform: str
    # Platforms cap a message's length; longer replies are split, never cut.
    max_message_length: int = 4000
    # Credentials the admin types once; stored write-only in `ChannelConnection.secrets`.
    secret_fields: dict[str, str] = {}
    # Plain settings in `ChannelConnection.config`, shown and editable.
    config_fields: dict[str, str] = {}
    # What an admin must set up on the platform's side (shown in admin and the README).
    setup_help: str = ""
    # handle_webhook reads nothing but the request and the connection (no database, no network):
    # it may run on the event loop (channels_gateway/loop_webhooks.py).
    verifies_webhooks_in_memory: bool = False

    def handle_webhook(self, connection: ChannelConnection, request: HttpRequest) -> WebhookOutcome:
        """Verify the request exactly as the platform documents, then normalise it."""
        raise NotImplementedError

    def send(self, connection: ChannelConnection, message: OutboundMessage) -> SendResult:
        raise NotImplementedError

    def show_typing(self, connection: ChannelConnection, thread_id: str, author_name: str) -> None:
        """Show "… is typing" to the user where the platform can; best effort, never raises."""

    def register_webhook(self, connection: ChannelConnection, url: str) -> str:
        """Point the platform at `url`, where it lets a bot do that itself (Telegram's
        setWebhook). Returns what to tell the admin; LookupError if the platform cannot."""
        raise LookupError(f"{connection.get_platform_display()} webhooks are set up on the platform's side.")

    def demo_credentials(self) -> tuple[dict, dict]:
        """Generated test (secrets, config) for `seed_demo`, so anyone can play the platform."""
        return {}, {}

    def platform_side(self, connection: ChannelConnection) -> dict:
        """What the platform's side holds to sign its requests, for `seed_demo --json`."""
        return {}
