"""Discord: a bot hears users two ways, and answers through the REST API.

- Slash commands (`/ask text:…`, `/human`) arrive as HTTP interactions at the webhook URL,
  signed with Ed25519 over `X-Signature-Timestamp` + raw body with the app's public key.
  Discord gives an interaction 3 seconds: we answer at once (type 4, "Got it — …") and the
  real reply follows as a normal channel message.
- Plain messages (DMs, and channel messages that mention the bot) come over the Gateway
  websocket, which `python manage.py discord_gateway` holds open; it hands each MESSAGE_CREATE
  to `inbound_from_gateway_message` below.

Either way the conversation's thread is the Discord channel id (a DM channel, a server
channel or a thread, which has its own channel id), so replies land where the user wrote.
"""

import re
import secrets
import time

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from django.conf import settings
from django.http import HttpRequest, JsonResponse

from channels_gateway.adapters.base import (
    ChannelAdapter,
    DeliveryError,
    InboundMessage,
    OutboundMessage,
    PermanentDeliveryError,
    SendResult,
    WebhookOutcome,
    WebhookRejected,
)
from channels_gateway.adapters.message_parts import send_in_parts, split_message, utf16_length
from channels_gateway.adapters.platform_http import TYPING_TIMEOUT, call_platform, json_object
from channels_gateway.adapters.webhook_body import json_object_body, raw_body, skipped
from channels_gateway.models import ChannelConnection, Platform

PLATFORM_NAME = "Discord"
# Discord's documented message limit; counted in UTF-16 units, which is never less than
# the count of characters, so a part that fits here fits Discord however it counts.
MAX_MESSAGE_LENGTH = 2000
# Discord signs the timestamp with the body; a request whose timestamp is further off than
# this is a replay (Discord itself never sends an interaction twice).
SIGNATURE_MAX_AGE_SECONDS = 300
USER_AGENT = "DiscordBot (https://github.com/handoff/handoff, 1.0)"

# Interaction types and callback types (Discord's numbers).
PING, APPLICATION_COMMAND, MESSAGE_COMPONENT, AUTOCOMPLETE, MODAL_SUBMIT = 1, 2, 3, 4, 5
PONG, CHANNEL_MESSAGE_WITH_SOURCE, DEFERRED_UPDATE_MESSAGE, AUTOCOMPLETE_RESULT = 1, 4, 6, 8
EPHEMERAL = 1 << 6
# Interaction context PRIVATE_CHANNEL: a group DM or another user's DM, where a bot user
# cannot post a channel message afterwards.
CONTEXT_PRIVATE_CHANNEL = 2
# Option types that carry a user's words, and the attachment option.
STRING_OPTION, SUBCOMMAND, SUBCOMMAND_GROUP, ATTACHMENT_OPTION = 3, 1, 2, 11

# Message types a person writes (DEFAULT, REPLY); joins, pins, boosts, thread starters and
# the bot's own command responses are other types and are ignored.
USER_MESSAGE_TYPES = {0, 19}
IS_VOICE_MESSAGE = 1 << 13
HUMAN_REQUEST_TEXT = "I'd like to talk to a human, please."

# The slash commands `register_webhook` installs (global, in servers and in DMs with the bot).
SLASH_COMMANDS = [
    {"name": "ask", "type": 1, "description": "Ask the assistant a question",
     "options": [{"type": STRING_OPTION, "name": "text", "description": "Your question", "required": True,
                  "max_length": 6000}],
     "contexts": [0, 1], "integration_types": [0]},
    {"name": "human", "type": 1, "description": "Talk to a person from the team",
     "options": [{"type": STRING_OPTION, "name": "text", "description": "What do you need help with?",
                  "required": False, "max_length": 6000}],
     "contexts": [0, 1], "integration_types": [0]},
]

# A message's nonce: "<our message id>.<part index>", at most 25 characters (Discord's limit).
MAX_NONCE_LENGTH = 25

_MENTION = re.compile(r"<@!?(\d+)>")
_SPACES = re.compile(r"[ \t]{2,}")
_SNOWFLAKE = re.compile(r"\d{1,20}")


class DiscordAdapter(ChannelAdapter):
    platform = Platform.DISCORD
    verifies_webhooks_in_memory = True
    max_message_length = MAX_MESSAGE_LENGTH
    secret_fields = {
        "bot_token": "Bot token (Developer Portal → your app → Bot → Reset Token).",
        "public_key": "Public key, hex (Developer Portal → General Information); verifies interactions.",
    }
    config_fields = {
        "application_id": "Application ID (Developer Portal → General Information).",
    }
    setup_help = (
        "In the Discord Developer Portal: on Bot, copy the token and switch on the MESSAGE CONTENT "
        "privileged intent; on General Information, copy the Application ID and Public Key. Invite the "
        "bot with the scopes \"bot applications.commands\" (View Channels, Send Messages, Send Messages "
        "in Threads, Read Message History). Then run the admin action \"Register the webhook with the "
        "platform\": it installs /ask and /human and sets the Interactions Endpoint URL to this "
        "connection's webhook URL. Direct messages and channel messages that mention the bot arrive "
        "through the gateway worker: python manage.py discord_gateway."
    )

    # --- Inbound: HTTP interactions -------------------------------------------------------

    def handle_webhook(self, connection: ChannelConnection, request: HttpRequest) -> WebhookOutcome:
        signed = {
            "public_key_hex": connection.secrets.get("public_key", ""),
            "signature_hex": request.headers.get("X-Signature-Ed25519", ""),
            "timestamp": request.headers.get("X-Signature-Timestamp", ""),
        }
        # An unsigned request is a 401 before its body is read; the signature covers the
        # body, so that is read next (413 when too large), then checked.
        _require_signature_headers(**signed)
        body = raw_body(request)
        verify_signature(**signed, body=body)
        interaction = json_object_body(body)
        if not isinstance(interaction.get("type"), int):
            raise WebhookRejected(400, "Not an interaction")

        kind = interaction["type"]
        if kind == PING:
            return WebhookOutcome(response=JsonResponse({"type": PONG}))
        if kind == APPLICATION_COMMAND:
            return self._command(interaction)
        if kind == MESSAGE_COMPONENT:  # a button on an old message: acknowledged, nothing changes
            return WebhookOutcome(response=JsonResponse({"type": DEFERRED_UPDATE_MESSAGE}))
        if kind == AUTOCOMPLETE:
            return WebhookOutcome(response=JsonResponse({"type": AUTOCOMPLETE_RESULT, "data": {"choices": []}}))
        return WebhookOutcome(response=_private_answer("Sorry, I can only take /ask and /human here."))

    def _command(self, interaction: dict) -> WebhookOutcome:
        data = interaction.get("data")
        member = _object(interaction.get("member"))
        user = member.get("user") if isinstance(member.get("user"), dict) else interaction.get("user")
        user_id = _snowflake(user.get("id")) if isinstance(user, dict) else None
        channel_id = _snowflake(interaction.get("channel_id")) \
            or _snowflake(_object(interaction.get("channel")).get("id"))
        if not isinstance(data, dict) or not user_id or not channel_id:
            raise WebhookRejected(400, "Command interaction without data, user or channel")
        if interaction.get("context") == CONTEXT_PRIVATE_CHANNEL:
            return WebhookOutcome(response=_private_answer(
                "I can only help in a server I'm in or in a direct message with me."))

        try:
            text = command_text(data)
        except (TypeError, ValueError, AttributeError, KeyError) as error:
            # Verified but unreadable: Discord shows the user our answer, not a failure.
            skipped("Discord", f"a command that could not be read ({type(error).__name__})")
            return WebhookOutcome(response=_private_answer("Sorry, I could not read that command."))
        if not text:
            return WebhookOutcome(response=_private_answer(
                "Please write your question after the command, like /ask text: where is my order?"))
        inbound = InboundMessage(
            contact_external_id=user_id,
            thread_id=thread_key(channel_id, user_id, in_server=bool(interaction.get("guild_id"))),
            text=text,
            platform_message_id=_snowflake(interaction.get("id")),
            contact_name=display_name(user, member),
        )
        # The user's words are not posted by Discord for a slash command: quote them, so the
        # channel reads as a conversation. The answer follows as its own message.
        answer = {
            "type": CHANNEL_MESSAGE_WITH_SOURCE,
            "data": {"content": _acknowledgement(text), "allowed_mentions": {"parse": []}},
        }
        return WebhookOutcome(messages=[inbound], response=JsonResponse(answer))

    # --- Outbound ---------------------------------------------------------------------------

    def send(self, connection: ChannelConnection, message: OutboundMessage) -> SendResult:
        token = connection.secrets.get("bot_token")
        if not token:
            raise PermanentDeliveryError("Discord: this connection has no bot token")
        channel_id, user_id = split_thread_key(message.thread_id)
        url = f"{settings.DISCORD_API_BASE_URL}/channels/{channel_id}/messages"
        headers = {"Authorization": f"Bot {token}", "User-Agent": USER_AGENT}
        # In a server channel the answer is addressed to the person who asked; in a DM it is
        # plain. Nothing else in the text ever pings: not "@everyone", not a quoted user.
        mention = f"<@{user_id}> " if user_id else ""

        def send_part(text: str, index: int) -> str:
            addressed = bool(mention) and index == 0
            response = call_platform(
                PLATFORM_NAME, "POST", url, headers=headers,
                json={"content": mention + text if addressed else text,
                      "allowed_mentions": {"parse": [], "users": [user_id]} if addressed else {"parse": []},
                      # A part sent again after a time-out (Discord may have posted it) is not
                      # posted twice: with enforce_nonce Discord answers with the message it
                      # already created from this bot with this nonce (for a few minutes).
                      "nonce": message_nonce(message.message_id, index), "enforce_nonce": True},
            )
            if response.status_code in (200, 201):
                return str(json_object(response).get("id", ""))
            raise PermanentDeliveryError(error_reason(response))

        parts = split_message(message.text, MAX_MESSAGE_LENGTH - len(mention), length=utf16_length)
        return send_in_parts(message, parts, send_part)

    def show_typing(self, connection: ChannelConnection, thread_id: str, author_name: str) -> None:
        """Trigger Typing Indicator: the bot shows as typing for about ten seconds."""
        token = connection.secrets.get("bot_token")
        if not token:
            return
        channel_id, _ = split_thread_key(thread_id)
        try:
            call_platform(PLATFORM_NAME, "POST", f"{settings.DISCORD_API_BASE_URL}/channels/{channel_id}/typing",
                          headers={"Authorization": f"Bot {token}", "User-Agent": USER_AGENT},
                          timeout=TYPING_TIMEOUT)
        except DeliveryError:
            pass  # a hint only: never worth an error

    def register_webhook(self, connection: ChannelConnection, url: str) -> str:
        """Install /ask and /human, then set the app's Interactions Endpoint URL (Discord
        checks it at once with a signed PING, so the site must be reachable)."""
        application_id = connection.config.get("application_id") or str(self._call(
            connection, "GET", "/applications/@me").get("id", ""))
        self._call(connection, "PUT", f"/applications/{application_id}/commands", SLASH_COMMANDS)
        self._call(connection, "PATCH", "/applications/@me", {"interactions_endpoint_url": url})
        return f"Slash commands /ask and /human registered; Interactions Endpoint URL set to {url}"

    def _call(self, connection: ChannelConnection, method: str, path: str, payload=None) -> dict:
        token = connection.secrets.get("bot_token")
        if not token:
            raise PermanentDeliveryError("Discord: this connection has no bot token")
        response = call_platform(PLATFORM_NAME, method, f"{settings.DISCORD_API_BASE_URL}{path}",
                                 headers={"Authorization": f"Bot {token}", "User-Agent": USER_AGENT},
                                 json=payload)
        if not 200 <= response.status_code < 300:
            raise PermanentDeliveryError(error_reason(response))
        return json_object(response)

    # --- Demo -------------------------------------------------------------------------------

    def demo_credentials(self) -> tuple[dict, dict]:
        private_key = Ed25519PrivateKey.generate()
        private_hex = private_key.private_bytes(
            serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
        ).hex()
        public_hex = private_key.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        ).hex()
        application_id = str(secrets.randbelow(10**18) + 10**17)
        return (
            {"bot_token": f"demo.{secrets.token_urlsafe(24)}", "public_key": public_hex},
            # A test key for playing Discord locally: the platform's side, fine to show.
            {"application_id": application_id, "demo_private_key_hex": private_hex},
        )

    def platform_side(self, connection: ChannelConnection) -> dict:
        return {
            "private_key_hex": connection.config.get("demo_private_key_hex", ""),
            "public_key_hex": connection.secrets.get("public_key", ""),
            "application_id": connection.config.get("application_id", ""),
            "signing": "X-Signature-Timestamp: unix seconds; X-Signature-Ed25519: hex Ed25519 "
                       "signature of timestamp + raw body",
        }


def _require_signature_headers(*, public_key_hex: str, signature_hex: str, timestamp: str) -> None:
    if not public_key_hex:
        raise WebhookRejected(401, "No public key configured")
    if not signature_hex or not timestamp:
        raise WebhookRejected(401, "Missing signature headers")


def verify_signature(*, public_key_hex: str, signature_hex: str, timestamp: str, body: bytes,
                     now: float | None = None) -> None:
    """Discord's documented check; raises WebhookRejected(401) on anything short of a valid,
    fresh signature."""
    _require_signature_headers(public_key_hex=public_key_hex, signature_hex=signature_hex, timestamp=timestamp)
    try:
        key = Ed25519PublicKey.from_public_bytes(bytes.fromhex(public_key_hex))
        key.verify(bytes.fromhex(signature_hex), timestamp.encode() + body)
    except (ValueError, InvalidSignature):
        raise WebhookRejected(401, "Invalid request signature") from None
    try:
        age = (time.time() if now is None else now) - int(timestamp)
    except ValueError:
        raise WebhookRejected(401, "Invalid signature timestamp") from None
    if abs(age) > SIGNATURE_MAX_AGE_SECONDS:
        raise WebhookRejected(401, "Stale signature timestamp (replayed request)")


def thread_key(channel_id, user_id, *, in_server: bool) -> str:
    """A DM channel is one person's conversation: its id is the thread. In a server channel
    (or a thread, which has its own channel id) each person who talks to the bot has their
    own conversation there: `<channel id>:<user id>`; replies still go to that channel."""
    return f"{channel_id}:{user_id}" if in_server else str(channel_id)


def split_thread_key(thread_id: str) -> tuple[str, str | None]:
    channel_id, _, user_id = str(thread_id).partition(":")
    return channel_id, user_id or None


def message_nonce(message_id: int, index: int) -> str:
    nonce = f"{message_id}.{index}"
    if len(nonce) > MAX_NONCE_LENGTH:  # never with a database id; Discord would refuse the message
        raise PermanentDeliveryError(f"Discord: message id {message_id} is too long for a nonce")
    return nonce


def _object(value) -> dict:
    return value if isinstance(value, dict) else {}


def _list(value) -> list:
    return value if isinstance(value, list) else []


def _snowflake(value) -> str | None:
    """A Discord id (a snowflake: digits, as a string or a number), or None for anything else."""
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        return None
    value = str(value)
    return value if _SNOWFLAKE.fullmatch(value) else None


def _text(value) -> str:
    return value if isinstance(value, str) else ""


def _int(value) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def command_text(data: dict) -> str:
    """The user's words from a slash command: `/ask text:…` gives the text; `/human` asks
    for a person (with any reason they typed); other commands give their string options."""
    name = _text(data.get("name"))
    words = _option_words(_list(data.get("options")), _object(data.get("resolved")))
    if name == "human":
        return " ".join([HUMAN_REQUEST_TEXT, *words]).strip()
    return " ".join(words).strip()


def _option_words(options: list, resolved: dict) -> list[str]:
    words: list[str] = []
    for option in _list(options):
        if not isinstance(option, dict):
            continue
        kind = option.get("type")
        if kind in (SUBCOMMAND, SUBCOMMAND_GROUP):
            words.extend(_option_words(_list(option.get("options")), resolved))
        elif kind == ATTACHMENT_OPTION:
            attachment = _object(_object(resolved.get("attachments")).get(str(option.get("value"))))
            words.append(attachment_placeholder(attachment, flags=0))
        elif isinstance(option.get("value"), str) and option["value"].strip():
            words.append(option["value"].strip())
    return words


def inbound_from_gateway_message(message: dict, *, bot_user_id: str) -> InboundMessage | None:
    """A MESSAGE_CREATE the bot should answer, or None: DMs always; in a server only when
    the bot is mentioned or replied to (the mention is taken out of the text). Bots,
    webhooks, the bot itself and system messages (joins, pins…) are ignored."""
    if not isinstance(message, dict):
        return None
    author = _object(message.get("author"))
    author_id = _snowflake(author.get("id"))
    if not author_id or author.get("bot") or message.get("webhook_id"):
        return None
    kind = message.get("type", 0)
    if author_id == str(bot_user_id) or not isinstance(kind, int) or kind not in USER_MESSAGE_TYPES:
        return None
    message_id, channel_id = _snowflake(message.get("id")), _snowflake(message.get("channel_id"))
    if not message_id or not channel_id:
        return None
    content = _text(message.get("content"))
    if message.get("guild_id"):
        mentioned = any(str(user.get("id")) == str(bot_user_id)
                        for user in _list(message.get("mentions")) if isinstance(user, dict))
        replied_to = _object(_object(message.get("referenced_message")).get("author")).get("id")
        if not mentioned and str(replied_to) != str(bot_user_id):
            return None
        content = _MENTION.sub(lambda m: "" if m.group(1) == str(bot_user_id) else m.group(0), content)
    text = _SPACES.sub(" ", content).strip()
    return InboundMessage(
        contact_external_id=author_id,
        thread_id=thread_key(channel_id, author_id, in_server=bool(message.get("guild_id"))),
        text=_with_placeholders(text, message),
        platform_message_id=message_id,
        contact_name=display_name(author, message.get("member")),
    )


def _with_placeholders(text: str, message: dict) -> str:
    """Stickers, files, photos, voice messages, polls and embeds become readable text."""
    extras = []
    for sticker in _list(message.get("sticker_items") or message.get("stickers")):
        if isinstance(sticker, dict):
            extras.append(f"[Sticker {_text(sticker.get('name'))}]".replace(" ]", "]"))
    for attachment in _list(message.get("attachments")):
        if isinstance(attachment, dict):
            extras.append(attachment_placeholder(attachment, flags=_int(message.get("flags"))))
    poll = message.get("poll")
    if isinstance(poll, dict):
        question = _text(_object(poll.get("question")).get("text"))
        extras.append(f"[Poll] {question}".strip())
    if not text and not extras and message.get("embeds"):
        extras.append("[Embed]")
    if not extras:
        return text
    if len(extras) == 1 and text:
        return f"{extras[0]} {text}"
    return "\n".join([*extras, text]).strip()


def attachment_placeholder(attachment: dict, *, flags: int) -> str:
    content_type = _text(attachment.get("content_type"))
    name = _text(attachment.get("filename"))
    if flags & IS_VOICE_MESSAGE or (content_type.startswith("audio/") and attachment.get("waveform")):
        return "[Voice message]"
    if content_type.startswith("image/"):
        return "[Photo]"
    if content_type.startswith("video/"):
        return "[Video]"
    if content_type.startswith("audio/"):
        return f"[Audio {name}]".replace(" ]", "]")
    return f"[File {name}]".replace(" ]", "]")


def display_name(user: dict, member: dict | None) -> str:
    nick = member.get("nick") if isinstance(member, dict) else None
    for name in (nick, user.get("global_name"), user.get("username")):
        if isinstance(name, str) and name.strip():
            return name
    return ""


def error_reason(response) -> str:
    """Discord's 4xx body is `{"message": …, "code": …}`: the admin sees Discord's own words."""
    body = json_object(response)
    message = body.get("message") or f"HTTP {response.status_code}"
    code = body.get("code")
    reason = f"Discord: {message} ({code})" if code else f"Discord: {message}"
    detail = _first_field_error(body.get("errors"))
    return f"{reason}: {detail}" if detail else reason


def _first_field_error(errors) -> str:
    """Invalid Form Body (50035) nests the reason: `{"field": {"_errors": [{"message": …}]}}`."""
    if not isinstance(errors, dict):
        return ""
    for key, value in errors.items():
        if key == "_errors" and isinstance(value, list) and value and isinstance(value[0], dict):
            return str(value[0].get("message") or "")
        found = _first_field_error(value)
        if found:
            return found
    return ""


def _acknowledgement(text: str) -> str:
    quoted = "\n".join(f"> {line}" for line in text.splitlines() if line.strip())
    reply = "Got it — one moment."
    if utf16_length(quoted) + len(reply) + 1 > MAX_MESSAGE_LENGTH:
        quoted = split_message(quoted, MAX_MESSAGE_LENGTH - 100, length=utf16_length)[0] + " …"
    return f"{quoted}\n{reply}" if quoted else reply


def _private_answer(text: str) -> JsonResponse:
    return JsonResponse({
        "type": CHANNEL_MESSAGE_WITH_SOURCE,
        "data": {"content": text, "flags": EPHEMERAL, "allowed_mentions": {"parse": []}},
    })
