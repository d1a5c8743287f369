"""What Messenger, Instagram and WhatsApp share, being Meta products on the Graph API.

Webhooks: Meta checks the endpoint once with a GET handshake (`hub.mode=subscribe`,
`hub.verify_token`, `hub.challenge`: echo the challenge when the token matches) and signs
every POST with the app secret: `X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the raw body>`.
There is no timestamp in the signature, so no replay window: a replayed or retried delivery
carries the same message id and is stored once.

A verified notification is read without trusting its shape below the top level (an object
with an `entry` list): an entry, change, event or field that is not what Meta documents is
skipped and logged (`objects_in`, `object_at`), the rest is stored, and Meta gets its 200.

Errors: the Graph API answers `{"error": {"message", "type", "code", "error_subcode",
"error_data": {"details"}, "fbtrace_id"}}`; rate limits often come as HTTP 400 with a
rate-limit code, so the adapters decide on the code, not the status (`graph_post`).
"""

import hashlib
import hmac
import json
from dataclasses import dataclass

import requests
from django.http import HttpRequest, HttpResponse

from channels_gateway.adapters.base import (
    DeliveryError,
    PermanentDeliveryError,
    RetryableDeliveryError,
    WebhookRejected,
)
from channels_gateway.adapters.platform_http import call_platform, finite_number, json_object, retry_after_seconds
from channels_gateway.adapters.webhook_body import json_object_body, raw_body, skipped
from channels_gateway.models import ChannelConnection

SIGNATURE_HEADER = "X-Hub-Signature-256"


def sign(app_secret: str, body: bytes) -> str:
    """The header value Meta sends for `body` (also what a test or curl uses to play Meta)."""
    return "sha256=" + hmac.new(app_secret.encode(), body, hashlib.sha256).hexdigest()


def _same(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode("utf-8", "replace"), expected.encode("utf-8", "replace"))


def verification_response(connection: ChannelConnection, request: HttpRequest) -> HttpResponse:
    """The GET handshake: the challenge as text/plain when the verify token matches, else 403."""
    expected = connection.secrets.get("verify_token") or ""
    mode = request.GET.get("hub.mode")
    token = request.GET.get("hub.verify_token")
    challenge = request.GET.get("hub.challenge")
    if mode != "subscribe" or not expected or token is None or not _same(token, expected):
        raise WebhookRejected(403, "The verify token does not match")
    if not challenge:
        raise WebhookRejected(400, "hub.challenge is missing")
    return HttpResponse(challenge, content_type="text/plain; charset=utf-8")


def verified_payload(connection: ChannelConnection, request: HttpRequest) -> dict:
    """The JSON body of a POST whose signature matches the app secret; raises WebhookRejected."""
    app_secret = connection.secrets.get("app_secret") or ""
    if not app_secret:
        raise WebhookRejected(403, "This connection has no app secret, so nothing can be verified")
    signature = request.headers.get(SIGNATURE_HEADER, "").strip()
    if not signature:
        raise WebhookRejected(401, f"{SIGNATURE_HEADER} is missing")
    body = raw_body(request)
    if not _same(signature.lower(), sign(app_secret, body)):
        raise WebhookRejected(403, f"{SIGNATURE_HEADER} does not match the body")
    payload = json_object_body(body)
    if not isinstance(payload.get("entry"), list):
        raise WebhookRejected(400, "The body is not a Meta webhook notification (no entry list)")
    return payload


def meta_webhook(connection: ChannelConnection, request: HttpRequest) -> tuple[dict | None, HttpResponse | None]:
    """(payload, None) for a verified notification, (None, response) for the handshake."""
    if request.method == "GET":
        return None, verification_response(connection, request)
    if request.method != "POST":
        raise WebhookRejected(405, "Meta webhooks are GET (handshake) or POST (notifications)")
    return verified_payload(connection, request), None


def objects_in(payload: dict, key: str) -> list[dict]:
    """The objects in the list `payload[key]`; a missing key is an empty list. Whatever is
    not an object (the list itself, or an item of it) is skipped and logged: one odd item
    never costs the others in the same notification."""
    value = payload.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        skipped("Meta", f"`{key}` is a {type(value).__name__}, not a list")
        return []
    items = [item for item in value if isinstance(item, dict)]
    if len(items) != len(value):
        skipped("Meta", f"{len(value) - len(items)} of {len(value)} items in `{key}` are not objects")
    return items


def object_at(payload: dict, key: str) -> dict:
    """`payload[key]` if it is an object; missing, or anything else (logged), is {}."""
    value = payload.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        skipped("Meta", f"`{key}` is a {type(value).__name__}, not an object")
        return {}
    return value


def identifier(value) -> str | None:
    """An id Meta sends (a PSID, a wa_id, a message id): a string or a number, else None."""
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        return None
    value = str(value).strip()
    return value or None


@dataclass(frozen=True)
class GraphError:
    status: int
    code: int | None
    subcode: int | None
    message: str
    details: str
    retry_after: float | None

    def describe(self) -> str:
        text = self.message or f"HTTP {self.status}"
        if self.details and self.details not in text:
            text = f"{text}: {self.details}"
        return text


def graph_error(response: requests.Response) -> GraphError:
    """Read a Graph API error answer (any status) without trusting its shape."""
    error = json_object(response).get("error")
    error = error if isinstance(error, dict) else {}
    error_data = error.get("error_data")
    details = error_data.get("details") if isinstance(error_data, dict) else None
    return GraphError(
        status=response.status_code,
        code=_int(error.get("code")),
        subcode=_int(error.get("error_subcode")),
        message=str(error.get("message") or "").strip(),
        details=str(details or "").strip(),
        retry_after=retry_after_seconds(response) or business_use_case_wait(response),
    )


def graph_post(label: str, url: str, token: str, body: dict, *, retryable_codes: frozenset[int]) -> dict:
    """POST `body` to the Graph API with `token` as a Bearer header (never in the URL, so it
    cannot leak through an error or a log line); returns the answer as an object, or raises
    the delivery error Meta's answer means."""
    response = call_platform(label, "POST", url, json=body, headers={"Authorization": f"Bearer {token}"})
    if response.status_code >= 400:
        raise graph_delivery_error(label, response, token, retryable_codes=retryable_codes)
    return json_object(response)


def graph_delivery_error(label: str, response: requests.Response, token: str, *,
                         retryable_codes: frozenset[int]) -> DeliveryError:
    """Retryable for the codes a later attempt can fix (rate limits, temporary errors, with
    Meta's wait), permanent for the rest; Meta's own words, without the token."""
    error = graph_error(response)
    reason = without_secret(f"{label}: {error.describe()}", token)
    if error.code in retryable_codes:
        return RetryableDeliveryError(reason, retry_after=error.retry_after)
    return PermanentDeliveryError(reason)


def business_use_case_wait(response: requests.Response) -> float | None:
    """Seconds until access is regained, from `X-Business-Use-Case-Usage`
    (`estimated_time_to_regain_access`, in minutes), when Meta says so."""
    raw = response.headers.get("X-Business-Use-Case-Usage")
    if not raw:
        return None
    try:
        usage = json.loads(raw)
    except (ValueError, RecursionError):
        return None
    minutes = [
        finite_number(item.get("estimated_time_to_regain_access"))
        for items in (usage.values() if isinstance(usage, dict) else [])
        for item in (items if isinstance(items, list) else [])
        if isinstance(item, dict)
    ]
    longest = max((value for value in minutes if value is not None), default=0.0)
    return longest * 60 if longest > 0 else None


def _int(value) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def without_secret(text: str, *secrets: str) -> str:
    """Belt and braces: a credential never reaches a delivery reason or a log line."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "[redacted]")
    return text
