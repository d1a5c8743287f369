"""Google Chat: a Chat app on an HTTP endpoint (the webhook URL).

Inbound: Chat POSTs each interaction event with `Authorization: Bearer <token>`.
- Authentication audience "Project number" (our `config["audience"]`, digits): the token is a
  JWT signed by `chat@system.gserviceaccount.com`; its x509 certificates, by key id, are at
  `settings.GOOGLE_CHAT_CERTS_URL`; `iss` is that account and `aud` the project number.
- Authentication audience "HTTP endpoint URL" (`config["audience"]` is that URL): the token is
  a Google-signed OIDC ID token (`iss` accounts.google.com, `aud` the URL, `email`
  chat@system.gserviceaccount.com), checked against Google's OAuth 2.0 certificates.
Both are verified with google-auth (signature RS256, expiry, audience; issuer and email here).
google-auth fetches the certificates on every call, so they are cached per URL for the
response's Cache-Control max-age. A token that does not verify gets 401 and nothing is stored.

Outbound: asynchronous messages through the Chat REST API (spaces.messages.create) with the
app's own access token (a service account, scope chat.bot), cached until it expires. Replies
in a threaded space go to the user's thread; a DM is one conversation.
"""

import base64
import datetime
import hashlib
import json
import logging
import re
import secrets
import threading
import time

import google.auth.exceptions
import google.auth.transport
import google.auth.transport.requests
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from django.conf import settings
from django.http import HttpRequest, JsonResponse
from google.oauth2 import id_token, service_account

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
from channels_gateway.adapters.message_parts import send_in_parts, split_message, utf8_length
from channels_gateway.adapters.platform_http import TIMEOUT, call_platform, json_object
from channels_gateway.adapters.webhook_body import json_object_body, raw_body
from channels_gateway.models import ChannelConnection, Platform

logger = logging.getLogger(__name__)

PLATFORM_NAME = "Google Chat"
CHAT_ISSUER = "chat@system.gserviceaccount.com"
CHAT_SCOPE = "https://www.googleapis.com/auth/chat.bot"
# "HTTP endpoint URL" audience: Google's own OIDC ID tokens.
GOOGLE_ID_TOKEN_ISSUERS = frozenset({"accounts.google.com", "https://accounts.google.com"})
DEFAULT_OIDC_CERTS_URL = "https://www.googleapis.com/oauth2/v1/certs"
# Clocks differ a little between Google and us.
CLOCK_SKEW_SECONDS = 30
# spaces.messages.create: "The maximum message size, including text and cards, is 32,000
# bytes." We send text only and keep a margin for the rest of the message (its thread).
MAX_MESSAGE_BYTES = 32_000
TEXT_BYTES_PER_MESSAGE = 31_000
# Google API error statuses a later attempt may get past (429/5xx are caught before).
RETRYABLE_STATUSES = frozenset({"UNAVAILABLE", "RESOURCE_EXHAUSTED", "ABORTED", "DEADLINE_EXCEEDED", "INTERNAL"})

_SPACE = r"spaces/[A-Za-z0-9_-]+"
SPACE_NAME = re.compile(rf"^{_SPACE}$")
THREAD_NAME = re.compile(rf"^({_SPACE})/threads/[A-Za-z0-9_.-]+$")
MESSAGE_NAME = re.compile(rf"^({_SPACE})/messages/[A-Za-z0-9_.-]+$")
USER_NAME = re.compile(r"^users/[A-Za-z0-9_@.-]+$")


# --- Google's certificates, cached ------------------------------------------------------------


class _StoredResponse(google.auth.transport.Response):
    def __init__(self, status: int, headers: dict, data: bytes) -> None:
        self._status, self._headers, self._data = status, headers, data

    @property
    def status(self):
        return self._status

    @property
    def headers(self):
        return self._headers

    @property
    def data(self):
        return self._data


def _max_age(cache_control: str | None) -> float:
    """Seconds from `Cache-Control: max-age=N` (Google sends hours), capped at a day; 5 minutes
    without one; nothing kept for no-store/no-cache."""
    cache_control = (cache_control or "").lower()
    if "no-store" in cache_control or "no-cache" in cache_control:
        return 0.0
    match = re.search(r"max-age=(\d+)", cache_control)
    return float(min(int(match.group(1)), 24 * 3600)) if match else 300.0


class CertificateCache:
    """Certificates by URL until their max-age runs out. An unknown key id (Google rotated
    its keys) may force a fresh fetch, at most once a minute per URL."""

    FORCED_FETCH_INTERVAL = 60.0

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: dict[str, tuple[float, _StoredResponse]] = {}
        self._forced_at: dict[str, float] = {}

    def get(self, http, url: str, *, force: bool = False) -> google.auth.transport.Response:
        now = time.monotonic()
        with self._lock:
            entry = self._entries.get(url)
        if entry and entry[0] > now and not force:
            return entry[1]
        response = http(url, method="GET", timeout=TIMEOUT)
        if response.status != 200:
            return response
        ttl = _max_age(response.headers.get("Cache-Control"))
        stored = _StoredResponse(response.status, dict(response.headers), response.data)
        with self._lock:
            self._entries[url] = (now + ttl, stored)
        return stored

    def may_force(self, url: str) -> bool:
        now = time.monotonic()
        with self._lock:
            if now - self._forced_at.get(url, -self.FORCED_FETCH_INTERVAL) < self.FORCED_FETCH_INTERVAL:
                return False
            self._forced_at[url] = now
            return True

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._forced_at.clear()


class _HttpRequest(google.auth.transport.requests.Request):
    """google-auth's requests transport with our time-outs (its default is 120 s)."""

    def __call__(self, url, method="GET", body=None, headers=None, timeout=None, **kwargs):
        return super().__call__(url, method=method, body=body, headers=headers, timeout=timeout or TIMEOUT, **kwargs)


class _CachedCertsRequest(google.auth.transport.Request):
    """What `id_token.verify_token` fetches certificates with: from the cache."""

    def __call__(self, url, method="GET", body=None, headers=None, timeout=None, **kwargs):
        if method.upper() == "GET" and body is None:
            return certificates.get(_http, url)
        return _http(url, method=method, body=body, headers=headers, timeout=timeout, **kwargs)


_http = _HttpRequest(session=requests.Session())
certificates = CertificateCache()


def _unverified_key_id(token: str) -> str | None:
    try:
        segment = token.split(".")[0]
        header = json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))
    except (ValueError, TypeError, RecursionError):  # RecursionError: JSON nested too deep to parse
        raise WebhookRejected(401, "Google Chat bearer token is malformed") from None
    kid = header.get("kid") if isinstance(header, dict) else None
    return kid if isinstance(kid, str) else None


def _know_key(token: str, certs_url: str) -> None:
    """Fetch the certificates again when the token names a key we have not seen (rotation)."""
    kid = _unverified_key_id(token)
    if not kid:
        return
    response = certificates.get(_http, certs_url)
    try:
        known = json.loads(response.data) if response.status == 200 else {}
    except ValueError:
        known = {}
    if isinstance(known, dict) and kid not in known and "keys" not in known and certificates.may_force(certs_url):
        certificates.get(_http, certs_url, force=True)


def _verify_bearer_token(authorization: str, audience: str, *, addon_account: str = "") -> dict:
    scheme, _, token = (authorization or "").strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise WebhookRejected(401, "Google Chat bearer token missing")
    if not audience:
        raise WebhookRejected(401, "This Google Chat connection has no authentication audience set")
    by_url = audience.startswith(("https://", "http://"))
    certs_url = getattr(settings, "GOOGLE_OIDC_CERTS_URL", DEFAULT_OIDC_CERTS_URL) if by_url \
        else settings.GOOGLE_CHAT_CERTS_URL
    _know_key(token, certs_url)
    try:
        claims = id_token.verify_token(
            token, _CachedCertsRequest(), audience=audience, certs_url=certs_url,
            clock_skew_in_seconds=CLOCK_SKEW_SECONDS,
        )
    except google.auth.exceptions.TransportError:
        raise  # Google's certificates could not be fetched: a 503, Chat may try again
    except RecursionError:  # claims nested too deep for the JSON parser: not a token Google made
        logger.info("A Google Chat bearer token did not verify: nested too deep to read")
        raise WebhookRejected(401, "Google Chat bearer token did not verify") from None
    except (ValueError, TypeError, KeyError, AttributeError, google.auth.exceptions.GoogleAuthError) as exc:
        logger.info("A Google Chat bearer token did not verify: %s", exc)
        raise WebhookRejected(401, "Google Chat bearer token did not verify") from None
    if not isinstance(claims, dict):
        raise WebhookRejected(401, "Google Chat bearer token did not verify")
    if by_url:
        # Chat apps: Chat's own account; a Workspace add-on: its per-project service account.
        senders = {CHAT_ISSUER, addon_account} - {""}
        if claims.get("iss") not in GOOGLE_ID_TOKEN_ISSUERS or claims.get("email") not in senders \
                or claims.get("email_verified") is not True:
            logger.info("A Google ID token not from Chat: iss=%r email=%r", claims.get("iss"), claims.get("email"))
            raise WebhookRejected(401, "Google Chat bearer token is not from Google Chat")
    elif claims.get("iss") != CHAT_ISSUER:
        logger.info("A Google Chat bearer token with issuer %r", claims.get("iss"))
        raise WebhookRejected(401, "Google Chat bearer token is not from Google Chat")
    return claims


# --- The app's access token (service account), cached per connection -----------------------


class _TokenEntry:
    def __init__(self, credentials) -> None:
        self.credentials = credentials
        self.lock = threading.Lock()


_tokens: dict[tuple, _TokenEntry] = {}
_tokens_lock = threading.Lock()


def clear_caches() -> None:
    """Forget cached certificates and access tokens (tests, key changes)."""
    certificates.clear()
    with _tokens_lock:
        _tokens.clear()


def _service_account_info(connection: ChannelConnection) -> dict:
    raw = (connection.secrets or {}).get("service_account_json")
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except ValueError:
            raise PermanentDeliveryError("Google Chat: the service account key is not valid JSON") from None
    if not isinstance(raw, dict) or not raw:
        raise PermanentDeliveryError("Google Chat: no service account key is set for this connection")
    # The token endpoint is a setting, so a test or staging setup can point it at a fake.
    return {**raw, "token_uri": settings.GOOGLE_OAUTH_TOKEN_URL}


def _token_entry(connection: ChannelConnection) -> _TokenEntry:
    info = _service_account_info(connection)
    fingerprint = hashlib.sha256(json.dumps(info, sort_keys=True).encode()).hexdigest()
    key = (connection.pk, fingerprint)
    with _tokens_lock:
        entry = _tokens.get(key)
        if entry is None:
            try:
                credentials = service_account.Credentials.from_service_account_info(info, scopes=[CHAT_SCOPE])
            except (ValueError, TypeError, KeyError):  # never the key itself in the reason
                raise PermanentDeliveryError(
                    "Google Chat: the service account key could not be read (missing fields or a bad private key)"
                ) from None
            entry = _tokens[key] = _TokenEntry(credentials)
    return entry


def _access_token(connection: ChannelConnection, *, refresh: bool = False) -> str:
    entry = _token_entry(connection)
    with entry.lock:
        credentials = entry.credentials
        if refresh or not credentials.valid:
            try:
                credentials.refresh(_http)
            except google.auth.exceptions.RefreshError as exc:
                detail = exc.args[0] if exc.args and isinstance(exc.args[0], str) else "refused"
                if exc.retryable:
                    raise RetryableDeliveryError(f"Google Chat: could not get an access token ({detail})") from None
                raise PermanentDeliveryError(f"Google Chat: the service account was refused: {detail}") from None
            except google.auth.exceptions.TransportError:
                raise RetryableDeliveryError("Google Chat: Google's token endpoint could not be reached") from None
        return credentials.token


# --- Events -----------------------------------------------------------------------------------


def _placeholder(attachment: dict) -> str:
    name = attachment.get("contentName") if isinstance(attachment.get("contentName"), str) else ""
    content_type = attachment.get("contentType") if isinstance(attachment.get("contentType"), str) else ""
    if attachment.get("source") == "DRIVE_FILE" or attachment.get("driveDataRef"):
        kind = "Google Drive file"
    elif content_type.startswith("image/"):
        kind = "Image"
    elif content_type.startswith("video/"):
        kind = "Video"
    elif content_type.startswith("audio/"):
        kind = "Audio"
    else:
        kind = "File"
    return f"[{kind}: {name}]" if name else f"[{kind}]"


def _text_of(message: dict) -> str:
    argument_text = message.get("argumentText")
    text = argument_text.strip() if isinstance(argument_text, str) else ""
    if not text and isinstance(message.get("text"), str):
        text = message["text"].strip()
    attachments = message.get("attachment") or message.get("attachments") or []
    attachments = attachments if isinstance(attachments, list) else []
    parts = [_placeholder(item) for item in attachments if isinstance(item, dict)]
    gifs = message.get("attachedGifs")
    if isinstance(gifs, list) and gifs:
        parts.append("[GIF]")
    if text:
        parts.append(text)
    return " ".join(parts) or "[Unsupported message]"


def _is_direct_message(space: dict) -> bool:
    return (
        space.get("type") == "DM"
        or space.get("spaceType") == "DIRECT_MESSAGE"
        or space.get("singleUserBotDm") is True
        # Group chats without threads: the whole space is one conversation.
        or space.get("spaceThreadingState") == "UNTHREADED_MESSAGES"
    )


def _inbound(message, space) -> InboundMessage | None:
    """A MESSAGE's user message; None for what the app ignores (its own or other apps' messages)."""
    if not isinstance(message, dict):
        raise WebhookRejected(400, "Google Chat MESSAGE event without a message")
    sender = message.get("sender")
    if not isinstance(sender, dict):
        raise WebhookRejected(400, "Google Chat message without a sender")
    if sender.get("type") == "BOT":
        return None
    name, sender_name = message.get("name"), sender.get("name")
    match = MESSAGE_NAME.match(name) if isinstance(name, str) else None
    if not match or not (isinstance(sender_name, str) and USER_NAME.match(sender_name)):
        raise WebhookRejected(400, "Google Chat message without a valid name or sender")
    space = space if isinstance(space, dict) else message.get("space")
    space = space if isinstance(space, dict) else {}
    space_name = space.get("name") if isinstance(space.get("name"), str) else match.group(1)
    if not SPACE_NAME.match(space_name) or space_name != match.group(1):
        raise WebhookRejected(400, "Google Chat message from another space")
    thread = message.get("thread") if isinstance(message.get("thread"), dict) else {}
    thread_name = thread.get("name") if isinstance(thread.get("name"), str) else ""
    thread_match = THREAD_NAME.match(thread_name)
    in_thread = thread_match and thread_match.group(1) == space_name and not _is_direct_message(space)
    display_name = sender.get("displayName")
    return InboundMessage(
        contact_external_id=sender_name,
        thread_id=thread_name if in_thread else space_name,
        text=_text_of(message),
        platform_message_id=name,
        contact_name=display_name if isinstance(display_name, str) else "",
    )


def _destination(thread_id: str) -> tuple[str, str | None]:
    """(space, thread name or None) for a conversation's thread id."""
    thread = THREAD_NAME.match(thread_id or "")
    if thread:
        return thread.group(1), thread_id
    if SPACE_NAME.match(thread_id or ""):
        return thread_id, None
    raise PermanentDeliveryError(f"Google Chat: {thread_id!r} is not a space or thread")


def _api_error(response: requests.Response) -> Exception:
    """Google's error body: `{"error": {"code": 403, "message": "...", "status": "PERMISSION_DENIED"}}`."""
    error = json_object(response).get("error")
    error = error if isinstance(error, dict) else {}
    message = error.get("message") if isinstance(error.get("message"), str) else ""
    status = error.get("status") if isinstance(error.get("status"), str) else ""
    reason = f"Google Chat: {message or status or f'HTTP {response.status_code}'}"
    if status in RETRYABLE_STATUSES:
        return RetryableDeliveryError(reason)
    return PermanentDeliveryError(reason)


# --- The adapter ------------------------------------------------------------------------------


class GoogleChatAdapter(ChannelAdapter):
    platform = Platform.GOOGLE_CHAT
    # Counted in UTF-8 bytes (see `utf8_length`): the documented limit is 32,000 bytes.
    max_message_length = TEXT_BYTES_PER_MESSAGE
    secret_fields = {
        "service_account_json": "The JSON key of the service account the Chat app sends as "
                                "(Google Cloud console › IAM › Service accounts › Keys › Add key › JSON).",
    }
    config_fields = {
        "audience": "The Chat app's authentication audience: the Cloud project number (Chat API › "
                    "Configuration › Authentication audience = Project number), or the HTTP endpoint URL "
                    "if that is what you chose there.",
    }
    setup_help = (
        "In the Google Cloud console: enable the Google Chat API; under Chat API › Configuration set "
        "Connection settings to “HTTP endpoint URL” with this connection's webhook URL, Authentication "
        "audience “Project number” (enter the project number here as audience), and make the app "
        "available to your users. Create a service account, add a JSON key and paste the whole key here: "
        "the app sends its replies with it (scope chat.bot). Users then DM the app or @mention it in a space."
    )

    # Inbound

    def handle_webhook(self, connection: ChannelConnection, request: HttpRequest) -> WebhookOutcome:
        config = connection.config or {}
        _verify_bearer_token(
            request.headers.get("Authorization", ""), str(config.get("audience") or "").strip(),
            addon_account=str(config.get("addon_service_account") or "").strip(),
        )
        event = json_object_body(raw_body(request))
        if isinstance(event.get("chat"), dict):
            return self._add_on_event(connection, event["chat"])
        kind = event.get("type")
        if not isinstance(kind, str):
            raise WebhookRejected(400, "Google Chat event without a type")
        if kind == "MESSAGE" or (kind == "ADDED_TO_SPACE" and isinstance(event.get("message"), dict)):
            # Added with an @mention: that message is the user's first one, answered by the agent.
            inbound = _inbound(event.get("message"), event.get("space"))
            return WebhookOutcome(messages=[inbound] if inbound else [], response=JsonResponse({}))
        if kind == "ADDED_TO_SPACE":
            return WebhookOutcome(response=JsonResponse({"text": self._greeting(connection)}))
        # REMOVED_FROM_SPACE, CARD_CLICKED (we send no cards) and anything newer: acknowledged.
        return WebhookOutcome(response=JsonResponse({}))

    def _add_on_event(self, connection: ChannelConnection, chat: dict) -> WebhookOutcome:
        """The Google Workspace add-on envelope: `{"chat": {"messagePayload": {...}}}`."""
        payload = chat.get("messagePayload")
        if isinstance(payload, dict):
            inbound = _inbound(payload.get("message"), payload.get("space"))
            return WebhookOutcome(messages=[inbound] if inbound else [], response=JsonResponse({}))
        if isinstance(chat.get("addedToSpacePayload"), dict):
            message = {"text": self._greeting(connection)}
            return WebhookOutcome(response=JsonResponse(
                {"hostAppDataAction": {"chatDataAction": {"createMessageAction": {"message": message}}}}
            ))
        return WebhookOutcome(response=JsonResponse({}))

    @staticmethod
    def _greeting(connection: ChannelConnection) -> str:
        return (f"Hi! I'm {connection.agent.name}. Message me here with any question, "
                "and ask for a person whenever you'd like one from the team.")

    # Outbound

    def send(self, connection: ChannelConnection, message: OutboundMessage) -> SendResult:
        space, thread = _destination(message.thread_id)
        url = f"{settings.GOOGLE_CHAT_API_BASE_URL}/{space}/messages"
        parts = split_message(message.text, self.max_message_length, length=utf8_length)

        def send_part(text: str, index: int) -> str:
            # The same request id makes a retried part return the message already created.
            params = {"requestId": f"handoff-{connection.key}-{message.message_id}-{index}"}
            body: dict = {"text": text}
            if thread:
                params["messageReplyOption"] = "REPLY_MESSAGE_FALLBACK_TO_NEW_THREAD"
                body["thread"] = {"name": thread}
            created = self._create_message(connection, url, params, body)
            name = created.get("name") if isinstance(created, dict) else None
            return name if isinstance(name, str) else ""

        return send_in_parts(message, parts, send_part)

    def _create_message(self, connection: ChannelConnection, url: str, params: dict, body: dict):
        response = None
        for attempt in range(2):
            token = _access_token(connection, refresh=attempt > 0)
            response = call_platform(
                PLATFORM_NAME, "POST", url, params=params, json=body, headers={"Authorization": f"Bearer {token}"}
            )
            if response.status_code != 401:
                break  # a 401 (token revoked or expired early): one fresh token, then it is final
        if response.ok:
            return json_object(response)
        raise _api_error(response)

    # Demo

    def demo_credentials(self) -> tuple[dict, dict]:
        app_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        chat_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        service_account_info = {
            "type": "service_account",
            "project_id": "handoff-demo",
            "private_key_id": secrets.token_hex(20),
            "private_key": private_key_pem(app_key),
            "client_email": "handoff-demo@demo.iam.gserviceaccount.com",
            "client_id": str(10**20 + secrets.randbelow(9 * 10**20)),
            "token_uri": settings.GOOGLE_OAUTH_TOKEN_URL,
        }
        config = {
            "audience": str(10**11 + secrets.randbelow(9 * 10**11)),  # a 12-digit "project number"
            "demo_chat_key_id": secrets.token_hex(20),
            "demo_chat_signing_key_pem": private_key_pem(chat_key),
            "demo_chat_cert_pem": self_signed_certificate_pem(chat_key, CHAT_ISSUER),
        }
        return {"service_account_json": json.dumps(service_account_info)}, config

    def platform_side(self, connection: ChannelConnection) -> dict:
        config = connection.config or {}
        side = {
            "audience": config.get("audience", ""),
            "issuer": CHAT_ISSUER,
            "note": "Google Chat sends Authorization: Bearer <RS256 JWT> with iss=issuer, aud=audience, "
                    "iat/exp; the JWT's kid names a certificate served at GOOGLE_CHAT_CERTS_URL.",
        }
        if config.get("demo_chat_signing_key_pem"):
            side.update({
                "key_id": config.get("demo_chat_key_id", ""),
                "signing_key_pem": config["demo_chat_signing_key_pem"],
                "certs_json": {config.get("demo_chat_key_id", ""): config.get("demo_chat_cert_pem", "")},
                "note": side["note"] + " To play Chat locally, serve certs_json at GOOGLE_CHAT_CERTS_URL and "
                                       "sign tokens with signing_key_pem (docs/channels/google_chat.md).",
            })
        return side


def private_key_pem(key: rsa.RSAPrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def self_signed_certificate_pem(key: rsa.RSAPrivateKey, common_name: str, *, days: int = 3650) -> str:
    """An x509 certificate as Google's certificate endpoints serve them, for a demo key."""
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = datetime.datetime.now(datetime.timezone.utc)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1)).not_valid_after(now + datetime.timedelta(days=days))
        .sign(key, hashes.SHA256())
    )
    return certificate.public_bytes(serialization.Encoding.PEM).decode()
