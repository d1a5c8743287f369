"""Messenger and Instagram (Messenger Platform): one Meta webhook shape, one Send API.

Inbound: `{"object": "page" | "instagram", "entry": [{"id": <page or IG account id>,
"messaging": [{"sender": {"id": PSID/IGSID}, "recipient": {...}, "timestamp", "message": {...}}]}]}`.
A text becomes the message (thread = the sender's PSID/IGSID, id = `message.mid`);
attachments become placeholders ("[Photo]", "[Sticker]", "[Mentioned you in their story]"…);
a postback (a button, Get Started or an ice breaker the user tapped) is taken as its title,
since that is what the user "said". Echoes of the page's own messages, deliveries, reads,
reactions, edits, referrals and unsends are acknowledged and ignored.

Outbound: `POST {META_GRAPH_BASE_URL}/me/messages` with the Page access token as a Bearer
header (never in the URL, so it cannot leak through an error or a log line). Meta's windows:
within 24 h of the user's last message `messaging_type: RESPONSE`; from 24 h to 7 days only a
teammate's reply, tagged `HUMAN_AGENT`; otherwise the message fails at once without a call.
"""

import secrets
from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from channels_gateway.adapters.base import (
    ChannelAdapter,
    InboundMessage,
    OutboundMessage,
    PermanentDeliveryError,
    SendResult,
    WebhookOutcome,
)
from channels_gateway.adapters.message_parts import send_in_parts, split_message, utf8_length, utf16_length
from channels_gateway.adapters.meta_webhooks import (
    graph_post,
    identifier,
    meta_webhook,
    object_at,
    objects_in,
)
from channels_gateway.adapters.webhook_body import skipped
from channels_gateway.models import ChannelConnection, Platform

STANDARD_WINDOW = timedelta(hours=24)
HUMAN_AGENT_WINDOW = timedelta(days=7)

# Graph API codes a later attempt can fix: rate limits (4, 17, 32, 613), temporary
# errors (1, 2) and "Temporary send message failure" (1200). Every other code fails the
# message: 10 / 2018278 (outside the window), 551 (person not available), 100 (invalid
# parameter, no matching user), 190 (token expired), 200 (permissions)…
RETRYABLE_CODES = frozenset({1, 2, 4, 17, 32, 613, 1200})

# Messenger's built-in "like" (thumbs-up) stickers, small/medium/large.
LIKE_STICKERS = {"369239263222822", "369239343222814", "369239383222810"}

ATTACHMENT_LABELS = {
    "image": "[Photo]",
    "video": "[Video]",
    "audio": "[Audio]",
    "file": "[File]",
    "template": "[Template]",
    "story_mention": "[Mentioned you in their story]",
    "like_heart": "[Like ❤️]",
    "animated_image_share": "[GIF]",
    "product": "[Product]",
    "appointment_booking": "[Appointment booking]",
}


def _text(*values) -> str:
    """The first value that is a non-blank string or a number, as text; else ""."""
    for value in values:
        if isinstance(value, (str, int, float)) and not isinstance(value, bool) and str(value).strip():
            return str(value).strip()
    return ""


def attachment_placeholder(attachment: dict, text: str = "") -> str:
    kind = _text(attachment.get("type")) or "attachment"
    payload = attachment.get("payload") if isinstance(attachment.get("payload"), dict) else {}
    if kind == "image" and payload.get("sticker_id"):
        return "[Like 👍]" if str(payload["sticker_id"]) in LIKE_STICKERS else "[Sticker]"
    if kind in ATTACHMENT_LABELS:
        return ATTACHMENT_LABELS[kind]
    if kind == "location":
        coordinates = payload.get("coordinates") if isinstance(payload.get("coordinates"), dict) else {}
        latitude, longitude = _text(coordinates.get("lat")), _text(coordinates.get("long"))
        return f"[Location {latitude}, {longitude}]" if latitude and longitude else "[Location]"
    title = _text(attachment.get("title"), payload.get("title"))
    url = _text(attachment.get("url"), attachment.get("URL"), payload.get("url"))
    if kind == "fallback":  # a shared link; its URL is usually the message's text already
        return " ".join(part for part in ["[Link]", title, "" if url in text else url] if part)
    if kind == "share":
        return " ".join(part for part in ["[Shared a post]", url] if part)
    if kind in ("reel", "ig_reel"):
        return " ".join(part for part in ["[Reel]", title] if part)
    if kind in ("post", "ig_post"):
        return " ".join(part for part in ["[Post]", title] if part)
    return f"[{kind.replace('_', ' ').capitalize()}]"


def message_text(message: dict) -> str:
    """A readable text for any user message: its text, with placeholders for the rest."""
    parts: list[str] = []
    reply_to = message.get("reply_to")
    if isinstance(reply_to, dict) and reply_to.get("story"):
        parts.append("[Replied to your story]")
    if message.get("is_unsupported"):
        parts.append("[Unsupported message]")
    text = message.get("text") if isinstance(message.get("text"), str) else ""
    attachments = objects_in(message, "attachments")
    parts.extend(attachment_placeholder(attachment, text) for attachment in attachments)
    if not attachments and message.get("sticker_id"):
        parts.append(attachment_placeholder({"type": "image", "payload": {"sticker_id": message["sticker_id"]}}))
    if text.strip():
        parts.append(text.strip())
    return " ".join(parts) or "[Message]"


class MetaMessagingAdapter(ChannelAdapter):
    """What Messenger and Instagram share; the subclasses name the differences."""

    verifies_webhooks_in_memory = True

    label: str
    webhook_object: str
    account_field: str
    # Counts the way the platform's limit is documented.
    length = staticmethod(len)

    def handle_webhook(self, connection: ChannelConnection, request) -> WebhookOutcome:
        payload, response = meta_webhook(connection, request)
        if response is not None:
            return WebhookOutcome(response=response)
        if payload.get("object") != self.webhook_object:
            return WebhookOutcome()  # another product's notification on this URL: acknowledged
        account = str(connection.config.get(self.account_field) or "").strip()
        messages: list[InboundMessage] = []
        for entry in objects_in(payload, "entry"):
            entry_id = identifier(entry.get("id")) or ""
            # One app may serve several Pages / accounts through this URL: take only ours.
            if account and entry_id != account:
                continue
            for event in objects_in(entry, "messaging"):
                try:
                    inbound = self._inbound(event, own_id=entry_id)
                except (TypeError, ValueError, AttributeError, KeyError) as error:
                    # One event we cannot read must not cost the others (or Meta's 200).
                    skipped(self.label, f"an event that could not be read ({type(error).__name__})")
                    continue
                if inbound is not None:
                    messages.append(inbound)
        return WebhookOutcome(messages=messages)

    def _inbound(self, event: dict, *, own_id: str) -> InboundMessage | None:
        sender = identifier(object_at(event, "sender").get("id"))
        if not sender or sender == own_id:
            return None  # a user_ref (plugin) sender cannot be answered by id; our own sends
        if "message" in event:
            message = object_at(event, "message")
            mid = identifier(message.get("mid"))
            if message.get("is_echo") or message.get("is_deleted") or not mid:
                return None
            return InboundMessage(
                contact_external_id=sender, thread_id=sender, text=message_text(message), platform_message_id=mid,
            )
        if "postback" in event:
            postback = object_at(event, "postback")
            title = _text(postback.get("title"), postback.get("payload"))
            if not title:
                return None
            # Older API versions send no mid: the sender's timestamp still identifies the tap.
            timestamp = identifier(event.get("timestamp"))
            message_id = identifier(postback.get("mid")) or (f"postback:{timestamp}" if timestamp else None)
            return InboundMessage(contact_external_id=sender, thread_id=sender, text=title,
                                  platform_message_id=message_id)
        return None  # delivery, read, reaction, edit, referral, optin…: not a user message

    def send(self, connection: ChannelConnection, message: OutboundMessage) -> SendResult:
        token = connection.secrets.get("page_access_token") or ""
        if not token:
            raise PermanentDeliveryError(f"{self.label}: no Page access token is configured for this connection")
        window = self._window_fields(message)  # raises before any call when the window is closed
        parts = split_message(message.text, self.max_message_length, length=self.length)
        url = f"{settings.META_GRAPH_BASE_URL}/me/messages"

        def send_part(text: str, index: int) -> str:
            body = {"recipient": {"id": message.thread_id}, "message": {"text": text}, **window}
            answer = graph_post(self.label, url, token, body, retryable_codes=RETRYABLE_CODES)
            return str(answer.get("message_id") or "")

        return send_in_parts(message, parts, send_part)

    def _window_fields(self, message: OutboundMessage) -> dict:
        last = message.last_user_message_at
        age = timezone.now() - last if last else None
        if age is not None and age <= STANDARD_WINDOW:
            return {"messaging_type": "RESPONSE"}
        if age is not None and age <= HUMAN_AGENT_WINDOW:
            if message.author_kind == "teammate":
                return {"messaging_type": "MESSAGE_TAG", "tag": "HUMAN_AGENT"}
            raise PermanentDeliveryError(
                f"{self.label}: the 24-hour messaging window has closed; after it only a teammate's "
                "reply can be sent (with the HUMAN_AGENT tag, up to 7 days after the user's last message)."
            )
        raise PermanentDeliveryError(
            f"{self.label}: the messaging window has closed (more than 7 days since the user's last "
            "message); the user has to write again first."
        )

    def demo_credentials(self) -> tuple[dict, dict]:
        return (
            {
                "app_secret": secrets.token_hex(16),
                "verify_token": secrets.token_urlsafe(16),
                "page_access_token": "EAADemo" + secrets.token_urlsafe(40),
            },
            {self.account_field: self._demo_account_id()},
        )

    def _demo_account_id(self) -> str:
        return "10" + "".join(str(secrets.randbelow(10)) for _ in range(13))

    def platform_side(self, connection: ChannelConnection) -> dict:
        return {
            "app_secret": connection.secrets.get("app_secret", ""),
            "verify_token": connection.secrets.get("verify_token", ""),
            # The entry id Meta's notifications carry for this connection.
            self.account_field: connection.config.get(self.account_field, ""),
        }


class MessengerAdapter(MetaMessagingAdapter):
    platform = Platform.MESSENGER
    label = "Messenger"
    webhook_object = "page"
    account_field = "page_id"
    # Send API: "message.text must be UTF-8 and has a 2000 character limit". Counted in
    # UTF-16 units, which is never less than characters, so a part is never too long.
    max_message_length = 2000
    length = staticmethod(utf16_length)
    secret_fields = {
        "app_secret": "App secret (App settings › Basic): checks X-Hub-Signature-256 on every webhook.",
        "verify_token": "Any random string; type the same into the webhook's Verify token field.",
        "page_access_token": "Page access token with pages_messaging (a system user's token does not expire).",
    }
    config_fields = {
        "page_id": "The Facebook Page id; notifications for other Pages of the same app are ignored.",
    }
    setup_help = (
        "In your Meta app: add Messenger, then Webhooks › Page › Callback URL = this connection's webhook "
        "URL and Verify token = the verify token above; subscribe to the messages and messaging_postbacks "
        "fields. Under Messenger API settings generate a Page access token (pages_messaging) and subscribe "
        "the Page to the app. App secret: App settings › Basic. Replies after 24 h need the Human Agent "
        "permission (HUMAN_AGENT tag, up to 7 days)."
    )


class InstagramAdapter(MetaMessagingAdapter):
    platform = Platform.INSTAGRAM
    label = "Instagram"
    webhook_object = "instagram"
    account_field = "ig_user_id"
    # Instagram Messaging: "Message text must be UTF-8 and be 1000 bytes or less".
    max_message_length = 1000
    length = staticmethod(utf8_length)
    secret_fields = {
        "app_secret": "App secret (App settings › Basic): checks X-Hub-Signature-256 on every webhook.",
        "verify_token": "Any random string; type the same into the webhook's Verify token field.",
        "page_access_token": "Access token of the Facebook Page linked to the Instagram professional "
                             "account, with instagram_manage_messages.",
    }
    config_fields = {
        "ig_user_id": "The Instagram professional account id; notifications for other accounts are ignored.",
    }
    setup_help = (
        "Link the Instagram professional account to a Facebook Page and allow access to messages "
        "(Instagram app › Settings › Messages). In your Meta app: Webhooks › Instagram › Callback URL = this "
        "connection's webhook URL, Verify token = the verify token above, subscribe to messages and "
        "messaging_postbacks. Generate a Page access token with instagram_manage_messages and subscribe the "
        "Page to the app. Replies after 24 h need the Human Agent permission (HUMAN_AGENT tag, up to 7 days)."
    )
