"""Slack: a Slack app with a bot user, on the Events API.

Inbound, Slack POSTs JSON to the app's Request URL, signed with the app's signing secret
(`X-Slack-Signature: v0=HMAC-SHA256("v0:{X-Slack-Request-Timestamp}:{raw body}")`); the
check is slack_sdk's `SignatureVerifier`, the one slack-bolt uses, with its 5-minute replay
window. Only local work happens in the request: Slack wants an answer within 3 seconds.

Conversations: a DM with the bot is one conversation (thread_id = the DM channel id, replies
go to the DM). In a channel the bot is mentioned, and the conversation is the Slack thread
that mention starts or sits in (thread_id = "<channel>:<thread root ts>", replies go into
that thread). In a thread users mention the bot again to be heard: the app subscribes to
mentions, not to every channel message.

Outbound goes through slack_sdk's `WebClient.chat_postMessage`, with the SDK's own retries
off so the gateway's retry policy decides.
"""

import html
import re
import secrets
import string
import time
from http.client import HTTPException
from urllib.error import URLError

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.signature import SignatureVerifier

from channels_gateway.adapters.base import (
    ChannelAdapter,
    InboundMessage,
    OutboundMessage,
    PermanentDeliveryError,
    RetryableDeliveryError,
    SendResult,
    WebhookOutcome,
    WebhookRejected,
)
from channels_gateway.adapters.message_parts import send_in_parts, split_message
from channels_gateway.adapters.platform_http import retry_after_header
from channels_gateway.adapters.webhook_body import json_object_body, raw_body, skipped
from channels_gateway.models import ChannelConnection, Platform

# Slack truncates `text` beyond 40,000 characters and asks for at most 4,000 per message.
MAX_MESSAGE_LENGTH = 4000
# Seconds the WebClient waits for Slack (connect and read); a slow Slack must not hold a worker.
SEND_TIMEOUT = 15
# SignatureVerifier's replay window (it rejects timestamps further than this from now).
REPLAY_WINDOW = 5 * 60

# Message subtypes a person produces; all others (edits, deletions, joins, bot posts…) are ignored.
USER_SUBTYPES = {None, "file_share", "thread_broadcast", "me_message"}
# Web API errors a later attempt may get past.
TRANSIENT_ERRORS = {"ratelimited", "rate_limited", "internal_error", "fatal_error", "service_unavailable",
                    "request_timeout"}

_SPECIAL = re.compile(r"<([^<>]*)>")
_ERROR_CODE = re.compile(r"^[a-z0-9_]{1,80}$")


class SlackAdapter(ChannelAdapter):
    platform = Platform.SLACK
    verifies_webhooks_in_memory = True
    max_message_length = MAX_MESSAGE_LENGTH
    secret_fields = {
        "bot_token": "Bot User OAuth Token (xoxb-…), from OAuth & Permissions.",
        "signing_secret": "Signing Secret, from Basic Information → App Credentials.",
    }
    config_fields = {}
    setup_help = (
        "At api.slack.com/apps create an app. OAuth & Permissions → Bot Token Scopes: chat:write, "
        "im:history, app_mentions:read. App Home → Messages Tab on, with \"Allow users to send Slash "
        "commands and messages from the messages tab\". Event Subscriptions: on, Request URL = this "
        "connection's webhook URL, bot events message.im and app_mention. Install the app to the "
        "workspace, then paste the Bot User OAuth Token (xoxb-…) and the Signing Secret (Basic "
        "Information → App Credentials) here. A DM with the bot is one conversation; in a channel "
        "(invite the bot) each @mention starts a conversation answered in its thread. "
        "Guide: docs/channels/slack.md."
    )

    # --- inbound -----------------------------------------------------------------------------

    def handle_webhook(self, connection: ChannelConnection, request: HttpRequest) -> WebhookOutcome:
        # What can be checked without the body first: a request with no signature is a 401
        # however large. The signature covers the body, so it is read (413 when too large) next.
        signed = _signature_headers(connection, request.headers)
        body = raw_body(request)
        _verify(signed, body)
        payload = json_object_body(body)

        kind = payload.get("type")
        if kind == "url_verification":
            challenge = payload.get("challenge")
            # Slack's challenge is ASCII; anything else could not even be encoded into the answer.
            if not isinstance(challenge, str) or not challenge or not challenge.isascii():
                raise WebhookRejected(400, "url_verification without a challenge")
            return WebhookOutcome(response=HttpResponse(challenge, content_type="text/plain"))
        if kind != "event_callback":
            return WebhookOutcome()  # app_rate_limited and the like: acknowledged
        event = payload.get("event")
        if not isinstance(event, dict):
            raise WebhookRejected(400, "event_callback without an event")
        try:
            message = _inbound(event, _bot_user_ids(payload))
        except (TypeError, ValueError, AttributeError, KeyError) as error:
            # Verified, but shaped as no Slack event is: acknowledged, or Slack sends it again.
            skipped("Slack", f"an event that could not be read ({type(error).__name__})")
            message = None
        return WebhookOutcome(messages=[message] if message else [])

    # --- outbound ----------------------------------------------------------------------------

    def send(self, connection: ChannelConnection, message: OutboundMessage) -> SendResult:
        token = (connection.secrets or {}).get("bot_token")
        if not token:
            raise PermanentDeliveryError("Slack: no bot token configured")
        channel, _, thread_ts = message.thread_id.partition(":")
        client = WebClient(
            token=token,
            base_url=settings.SLACK_API_BASE_URL + "/",
            timeout=SEND_TIMEOUT,
            retry_handlers=[],  # our retry policy decides, with backoff and Retry-After
        )
        parts = split_message(message.text, MAX_MESSAGE_LENGTH, length=lambda text: len(_escape(text)))

        def send_part(text: str, index: int) -> str:
            arguments = {"channel": channel, "text": _escape(text)}
            if thread_ts:
                arguments["thread_ts"] = thread_ts
            return _post(client, arguments)

        return send_in_parts(message, parts, send_part)

    # --- demo --------------------------------------------------------------------------------

    def demo_credentials(self) -> tuple[dict, dict]:
        alphanumeric = string.ascii_letters + string.digits
        token = "xoxb-{}-{}-{}".format(
            "".join(secrets.choice(string.digits) for _ in range(12)),
            "".join(secrets.choice(string.digits) for _ in range(13)),
            "".join(secrets.choice(alphanumeric) for _ in range(24)),
        )
        return {"bot_token": token, "signing_secret": secrets.token_hex(16)}, {}

    def platform_side(self, connection: ChannelConnection) -> dict:
        return {"signing_secret": (connection.secrets or {}).get("signing_secret", "")}


# --- verification ------------------------------------------------------------------------------

def _signature_headers(connection: ChannelConnection, headers) -> tuple[str, str, str]:
    """(signing secret, timestamp, signature), or 401 before the body is read."""
    signing_secret = (connection.secrets or {}).get("signing_secret") or ""
    if not signing_secret.strip():
        raise WebhookRejected(401, "No signing secret configured")
    timestamp = headers.get("X-Slack-Request-Timestamp")
    signature = headers.get("X-Slack-Signature")
    if not timestamp or not signature:
        raise WebhookRejected(401, "Missing Slack signature headers")
    return signing_secret, timestamp, signature


def _verify(signed: tuple[str, str, str], body: bytes) -> None:
    signing_secret, timestamp, signature = signed
    try:
        valid = SignatureVerifier(signing_secret).is_valid(body=body, timestamp=timestamp, signature=signature)
    except ValueError:  # a timestamp that is not a number, a body that is not UTF-8
        valid = False
    if not valid:
        stale = timestamp.isdigit() and abs(time.time() - int(timestamp)) > REPLAY_WINDOW
        raise WebhookRejected(401, "Stale Slack request timestamp" if stale else "Invalid Slack signature")


# --- normalising events ------------------------------------------------------------------------

def _bot_user_ids(payload: dict) -> set[str]:
    """The bot's own user id: `authorizations[].user_id` (current envelopes) or `authed_users` (older)."""
    ids = set()
    for authorization in _list(payload.get("authorizations")):
        if isinstance(authorization, dict) and isinstance(authorization.get("user_id"), str) \
                and authorization["user_id"]:
            ids.add(authorization["user_id"])
    ids.update(user for user in _list(payload.get("authed_users")) if isinstance(user, str) and user)
    return ids


def _list(value) -> list:
    """A list field as a list; anything else (a number, an object, null) as nothing."""
    return value if isinstance(value, list) else []


def _inbound(event: dict, bot_ids: set[str]) -> InboundMessage | None:
    kind = event.get("type")
    channel = event.get("channel")
    user = event.get("user")
    ts = event.get("ts")
    if kind not in ("message", "app_mention") or not all(isinstance(v, str) and v for v in (channel, user, ts)):
        return None
    subtype = event.get("subtype")
    if not isinstance(subtype, (str, type(None))) or subtype not in USER_SUBTYPES:
        return None  # edits, deletions, joins, bot_message…
    if event.get("bot_id") or user in bot_ids:
        return None  # the bot's own posts and other apps
    direct = event.get("channel_type") == "im" or channel.startswith("D")
    if kind == "message" and not direct:
        return None  # in channels the bot answers mentions, which arrive as app_mention

    raw_text = event.get("text") if isinstance(event.get("text"), str) else ""
    text = _plain_text(raw_text, bot_ids, strip_leading_mention=kind == "app_mention")
    files = [f for f in _list(event.get("files")) if isinstance(f, dict)]
    lines = [f"[File] {_file_name(f)}" for f in files]
    if text:
        lines.append(text)
    if not lines and event.get("attachments"):
        lines.append("[Attachment]")
    if not lines:
        return None  # a bare mention with nothing said

    if direct:
        thread_id = channel  # a DM is one conversation
    else:
        thread_ts = event.get("thread_ts")
        thread_id = f"{channel}:{thread_ts if isinstance(thread_ts, str) and thread_ts else ts}"
    profile = event.get("user_profile") if isinstance(event.get("user_profile"), dict) else {}
    name = next((value for value in (profile.get("display_name"), profile.get("real_name"))
                 if isinstance(value, str) and value), "")
    return InboundMessage(
        contact_external_id=user,
        thread_id=thread_id,
        text="\n".join(lines),
        # `ts` is unique within a channel and the same in the message and app_mention copies of
        # one message (client_msg_id is not always on both), so a retry or a double delivery
        # is stored once.
        platform_message_id=ts,
        contact_name=name,
    )


def _file_name(file: dict) -> str:
    for key in ("name", "title"):
        if isinstance(file.get(key), str) and file[key].strip():
            return file[key].strip()
    return "file"


def _plain_text(text: str, bot_ids: set[str], *, strip_leading_mention: bool) -> str:
    """Slack's markup to what the user saw: the bot's mention dropped, other mentions, channel
    links and URLs readable, `&amp;` `&lt;` `&gt;` unescaped."""
    if strip_leading_mention and not bot_ids:
        text = re.sub(r"^\s*<@[A-Z0-9]+(\|[^>]*)?>", "", text)  # app_mention starts with the bot's name

    def readable(match: re.Match) -> str:
        inside = match.group(1)
        target, _, label = inside.partition("|")
        if target.startswith("@"):
            return "\x00" if target[1:] in bot_ids else "@" + (label or target[1:])
        if target.startswith("#"):
            return "#" + (label or target[1:])
        if target.startswith("!"):
            command = target[1:].split("^")[0]
            return label or ("@" + command if command in ("here", "channel", "everyone") else "")
        if target.startswith("mailto:"):
            return label or target[len("mailto:"):]
        if label and label not in (target, target.split("://", 1)[-1]):
            return f"{label} ({target})"
        return target

    text = _SPECIAL.sub(readable, text.replace("\x00", ""))
    # "Thanks <@BOT>, …" reads "Thanks, …": the bot's mention goes with the space before punctuation.
    text = re.sub(r"[ \t]*\x00(?=[,.!?;:])", "", text).replace("\x00", " ")
    text = html.unescape(text) if "&" in text else text
    return re.sub(r"[ \t]{2,}", " ", text).strip()


# --- sending -----------------------------------------------------------------------------------

def _escape(text: str) -> str:
    """Slack reads &, < and > as markup (links, mentions): escaped, the user sees them as typed."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _post(client: WebClient, arguments: dict) -> str:
    try:
        response = client.chat_postMessage(**arguments)
    except SlackApiError as error:
        raise _delivery_error(error) from None
    except (TimeoutError, URLError, ConnectionError, HTTPException) as error:
        timed_out = isinstance(error, TimeoutError) or isinstance(getattr(error, "reason", None), TimeoutError)
        raise RetryableDeliveryError("Slack did not answer in time" if timed_out else "Slack could not be reached") \
            from None
    except (SlackClientError, OSError):
        raise RetryableDeliveryError("Slack could not be reached") from None
    return str(response.get("ts") or "")


def _delivery_error(error: SlackApiError) -> Exception:
    """Never the SDK's message: it quotes the whole response. Only Slack's error code."""
    response = error.response
    status = getattr(response, "status_code", 200) or 200
    data = response.data if isinstance(getattr(response, "data", None), dict) else {}
    code = data.get("error") if isinstance(data.get("error"), str) else ""
    code = code if _ERROR_CODE.match(code or "") else ""
    if status == 429 or code in ("ratelimited", "rate_limited"):
        return RetryableDeliveryError(f"Slack rate limit ({code or status})",
                                      retry_after=_retry_after(getattr(response, "headers", None)))
    if status >= 500 or code in TRANSIENT_ERRORS:
        return RetryableDeliveryError(f"Slack server error ({code or status})",
                                      retry_after=_retry_after(getattr(response, "headers", None)))
    return PermanentDeliveryError(f"Slack: {code or f'HTTP {status}'}")


def _retry_after(headers) -> float | None:
    """The SDK keeps headers as a plain dict (any case, a value or a list of them); the value
    is read as every platform's is."""
    for name, value in (headers if isinstance(headers, dict) else {}).items():
        if isinstance(name, str) and name.lower() == "retry-after":
            return retry_after_header(value)
    return None
