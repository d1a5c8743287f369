"""Telegram (Bot API): updates arrive by webhook, replies go out through `sendMessage`.

Verification: `setWebhook` registers a `secret_token`; Telegram sends it back in the
`X-Telegram-Bot-Api-Secret-Token` header of every update. A request without the right value
is rejected with 401 and nothing is stored. Telegram signs nothing and has no timestamp, so
there is no replay window: a redelivered update is absorbed by the message id (unique per chat).

Scope: private chats only. In groups, channels and supergroups every update is acknowledged
and ignored: a support conversation belongs to one person (a group would mix several users
into one contact's conversation, and a teammate's reply would be read by the whole group).

The bot token is part of every API URL (`/bot<token>/METHOD`), so no URL, and no exception
that could carry one, ever reaches a delivery reason or a log line.
"""

import hmac
import logging
import re
import secrets

from django.conf import settings
from django.http import HttpRequest

from channels_gateway.adapters.base import (
    ChannelAdapter,
    DeliveryError,
    InboundMessage,
    OutboundMessage,
    PermanentDeliveryError,
    RetryableDeliveryError,
    SendResult,
    WebhookOutcome,
    WebhookRejected,
)
from channels_gateway.adapters.message_parts import send_in_parts, split_message, utf16_length
from channels_gateway.adapters.platform_http import (
    TIMEOUT,
    TYPING_TIMEOUT,
    call_platform,
    finite_number,
    json_object,
)
from channels_gateway.adapters.webhook_body import json_object_body, raw_body, skipped
from channels_gateway.models import ChannelConnection, Platform

logger = logging.getLogger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
# sendMessage: "1-4096 characters after entities parsing", counted in UTF-16 code units.
MAX_TEXT = 4096
# setWebhook: "1-256 characters. Only characters A-Z, a-z, 0-9, _ and - are allowed."
SECRET_TOKEN_PATTERN = re.compile(r"[A-Za-z0-9_-]{1,256}")
_TOKEN_IN_URL = re.compile(r"/bot[^/\s\"']+")


# A verified update can still hold a number where a string belongs, or an object where a
# number does: every field is read through `_field`, so no placeholder fails on its shape.
def _field(value: dict, key: str) -> str:
    """`value[key]` as text: strings and numbers as they read, anything else as nothing."""
    item = value.get(key)
    if isinstance(item, bool) or not isinstance(item, (str, int, float)):
        return ""
    return str(item).strip()


def _joined(separator: str, *parts: str) -> str:
    return separator.join(part for part in parts if part)


# Message fields that carry something the user sent, other than text, as a placeholder.
# Order matters: an animation also carries `document`, a venue also carries `location`.
def _sticker(value: dict) -> str:
    emoji = _field(value, "emoji")
    return f"[Sticker {emoji}]" if emoji else "[Sticker]"


def _audio(value: dict) -> str:
    name = _joined(" – ", _field(value, "performer"), _field(value, "title"))
    return f"[Audio: {name}]" if name else "[Audio]"


def _document(value: dict) -> str:
    name = _field(value, "file_name")
    return f"[File: {name}]" if name else "[File]"


def _location(value: dict) -> str:
    latitude, longitude = finite_number(value.get("latitude")), finite_number(value.get("longitude"))
    if latitude is not None and longitude is not None:
        return f"[Location {latitude:.5f}, {longitude:.5f}]"
    return "[Location]"


def _venue(value: dict) -> str:
    place = _joined(", ", _field(value, "title"), _field(value, "address"))
    return f"[Venue: {place}]" if place else "[Venue]"


def _contact(value: dict) -> str:
    name = _joined(" ", _field(value, "first_name"), _field(value, "last_name"))
    details = _joined(", ", name, _field(value, "phone_number"))
    return f"[Contact: {details}]" if details else "[Contact]"


def _titled(label: str, key: str):
    def placeholder(value: dict) -> str:
        title = _field(value, key)
        return f"[{label}: {title}]" if title else f"[{label}]"
    return placeholder


def _dice(value: dict) -> str:
    emoji, rolled = _field(value, "emoji") or "🎲", _field(value, "value")
    return f"[Dice {emoji} {rolled}]" if rolled else f"[Dice {emoji}]"


PLACEHOLDERS = {
    "animation": lambda value: "[GIF]",
    "sticker": _sticker,
    "photo": lambda value: "[Photo]",
    "video": lambda value: "[Video]",
    "video_note": lambda value: "[Video message]",
    "voice": lambda value: "[Voice message]",
    "audio": _audio,
    "document": _document,
    "paid_media": lambda value: "[Paid media]",
    "story": lambda value: "[Story]",
    "venue": _venue,
    "location": _location,
    "contact": _contact,
    "poll": _titled("Poll", "question"),
    "checklist": _titled("Checklist", "title"),
    "dice": _dice,
    "game": _titled("Game", "title"),
    "invoice": _titled("Invoice", "title"),
    "giveaway": lambda value: "[Giveaway]",
}

# Service messages: something happened in the chat, the user did not write anything.
SERVICE_FIELDS = frozenset({
    "new_chat_members", "left_chat_member", "new_chat_title", "new_chat_photo", "delete_chat_photo",
    "group_chat_created", "supergroup_chat_created", "channel_chat_created",
    "message_auto_delete_timer_changed", "migrate_to_chat_id", "migrate_from_chat_id", "pinned_message",
    "successful_payment", "refunded_payment", "users_shared", "chat_shared", "gift", "unique_gift",
    "connected_website", "write_access_allowed", "passport_data", "proximity_alert_triggered",
    "boost_added", "chat_background_set", "checklist_tasks_done", "checklist_tasks_added",
    "direct_message_price_changed", "forum_topic_created", "forum_topic_edited", "forum_topic_closed",
    "forum_topic_reopened", "general_forum_topic_hidden", "general_forum_topic_unhidden",
    "giveaway_created", "giveaway_winners", "giveaway_completed", "paid_message_price_changed",
    "video_chat_scheduled", "video_chat_started", "video_chat_ended", "video_chat_participants_invited",
    "web_app_data",
})


class _RedactBotToken(logging.Filter):
    """urllib3 logs request lines (`"POST /bot<token>/sendMessage HTTP/1.1" 200`) at DEBUG."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if "/bot" in message:
            record.msg, record.args = _TOKEN_IN_URL.sub("/bot<redacted>", message), ()
        return True


def _install_log_redaction() -> None:
    for name in ("urllib3.connectionpool", "urllib3.util.retry"):
        target = logging.getLogger(name)
        if not any(isinstance(existing, _RedactBotToken) for existing in target.filters):
            target.addFilter(_RedactBotToken())


_install_log_redaction()


def _display_name(user: dict) -> str:
    return _joined(" ", _field(user, "first_name"), _field(user, "last_name")) or _field(user, "username")


def message_text(message: dict) -> str | None:
    """What the user said, or a placeholder for what they sent (with its caption); None for
    service messages, which are not the user speaking."""
    text = message.get("text")
    if isinstance(text, str):
        return text
    caption = message.get("caption") if isinstance(message.get("caption"), str) else ""
    for field, placeholder in PLACEHOLDERS.items():
        if field in message:
            value = message[field]
            label = placeholder(value if isinstance(value, dict) else {})
            return f"{label} {caption}".strip()
    if SERVICE_FIELDS.intersection(message):
        return None
    # Something a newer Bot API added: the user sent it, the inbox shows that they did.
    return f"[Unsupported message] {caption}".strip()


class TelegramAdapter(ChannelAdapter):
    platform = Platform.TELEGRAM
    verifies_webhooks_in_memory = True
    max_message_length = MAX_TEXT
    secret_fields = {
        "bot_token": "The token @BotFather gave you, like 123456789:AAE…",
        "secret_token": "Any random string (1–256 of A–Z a–z 0–9 _ -). Telegram sends it back with every "
                        "update; “Register the webhook” hands it to Telegram.",
    }
    config_fields: dict[str, str] = {}
    setup_help = (
        "Create the bot with @BotFather (/newbot) and paste its token here, with a random secret token. "
        "Save, then choose “Register the webhook with the platform” in the list of connections: Handoff "
        "calls Telegram's setWebhook with this connection's webhook URL (which must be public HTTPS) and "
        "the secret token. The bot answers in private chats; messages in groups are ignored."
    )

    # --- inbound -----------------------------------------------------------------------------

    def handle_webhook(self, connection: ChannelConnection, request: HttpRequest) -> WebhookOutcome:
        self._verify(connection, request)
        update = json_object_body(raw_body(request))
        if not isinstance(update.get("update_id"), int):
            raise WebhookRejected(400, "not_an_update")
        message = update.get("message")
        if message is None:
            # edited_message, channel_post, callback_query, my_chat_member…: acknowledged, ignored.
            return WebhookOutcome()
        inbound = self._inbound(message)
        return WebhookOutcome(messages=[inbound] if inbound else [])

    def _verify(self, connection: ChannelConnection, request: HttpRequest) -> None:
        expected = connection.secrets.get("secret_token") or ""
        given = request.headers.get(SECRET_HEADER) or ""
        if not expected:
            # Without a secret anyone could post updates: take nothing until one is set.
            raise WebhookRejected(401, "secret_token_not_configured")
        if not given or not hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8")):
            raise WebhookRejected(401, "invalid_secret_token")

    def _inbound(self, message) -> InboundMessage | None:
        if not isinstance(message, dict):
            raise WebhookRejected(400, "not_a_message")
        chat, sender = message.get("chat"), message.get("from")
        if not isinstance(chat, dict) or not isinstance(chat.get("id"), int) \
                or not isinstance(message.get("message_id"), int):
            raise WebhookRejected(400, "not_a_message")
        if not isinstance(sender, dict) or not isinstance(sender.get("id"), int) or sender.get("is_bot"):
            return None
        private = chat.get("type") == "private" or ("type" not in chat and chat["id"] == sender["id"])
        if not private:
            return None
        try:
            text = message_text(message)
        except (TypeError, ValueError, AttributeError, KeyError) as error:
            # Verified, addressed to us, but unreadable: acknowledged, or Telegram sends it again.
            skipped("Telegram", f"message content that could not be read ({type(error).__name__})")
            return None
        if text is None:
            return None
        return InboundMessage(
            contact_external_id=str(sender["id"]),
            thread_id=str(chat["id"]),
            text=text,
            platform_message_id=str(message["message_id"]),
            contact_name=_display_name(sender),
        )

    # --- outbound ----------------------------------------------------------------------------

    def send(self, connection: ChannelConnection, message: OutboundMessage) -> SendResult:
        parts = split_message(message.text, MAX_TEXT, length=utf16_length)

        def send_part(text: str, index: int) -> str:
            # Plain text, no parse_mode: a user's or teammate's `*` or `<` is never misread.
            result = self._call(connection, "sendMessage", {"chat_id": message.thread_id, "text": text})
            return str(result.get("message_id", "")) if isinstance(result, dict) else ""

        return send_in_parts(message, parts, send_part)

    def show_typing(self, connection: ChannelConnection, thread_id: str, author_name: str) -> None:
        """sendChatAction "typing": shown for five seconds or until the next message."""
        try:
            self._call(connection, "sendChatAction", {"chat_id": thread_id, "action": "typing"},
                       timeout=TYPING_TIMEOUT)
        except DeliveryError:
            pass  # a hint only: never worth an error

    def register_webhook(self, connection: ChannelConnection, url: str) -> str:
        secret_token = connection.secrets.get("secret_token") or ""
        if not SECRET_TOKEN_PATTERN.fullmatch(secret_token):
            raise PermanentDeliveryError(
                "Telegram: set a secret token (1–256 characters: A–Z, a–z, 0–9, _ and -) first."
            )
        response = self._call(connection, "setWebhook", {
            "url": url,
            "secret_token": secret_token,
            "allowed_updates": ["message"],
            "drop_pending_updates": False,
        }, full_body=True)
        return str(response.get("description") or "Webhook was set")

    def _call(self, connection: ChannelConnection, method: str, payload: dict, *, full_body: bool = False,
              timeout=TIMEOUT):
        token = connection.secrets.get("bot_token") or ""
        if not token:
            raise PermanentDeliveryError("Telegram: the bot token is not set.")
        url = f"{settings.TELEGRAM_API_BASE_URL}/bot{token}/{method}"
        response, failure = None, None
        try:
            response = call_platform("Telegram", "POST", url, json=payload, timeout=timeout)
        except RetryableDeliveryError as error:
            # A requests exception's text names the URL, token included: raise a fresh error
            # outside the handler, so neither its cause nor its context travels with it.
            failure = RetryableDeliveryError(error.reason, retry_after=error.retry_after)
        if failure is not None:
            raise failure
        body = json_object(response)
        if response.ok and body.get("ok") is True:
            return body if full_body else body.get("result")
        description = body.get("description") or f"HTTP {response.status_code}"
        # 400 chat not found, 401 bad token, 403 blocked by the user, 404 malformed token…
        raise PermanentDeliveryError(f"Telegram: {_TOKEN_IN_URL.sub('/bot<redacted>', str(description))}")

    # --- demo --------------------------------------------------------------------------------

    def demo_credentials(self) -> tuple[dict, dict]:
        bot_id = 1_000_000_000 + secrets.randbelow(9_000_000_000)
        return {
            "bot_token": f"{bot_id}:{secrets.token_urlsafe(26)}",
            "secret_token": secrets.token_urlsafe(32),
        }, {}

    def platform_side(self, connection: ChannelConnection) -> dict:
        return {"secret_token": connection.secrets.get("secret_token", ""), "header": SECRET_HEADER}
