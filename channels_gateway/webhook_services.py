"""Sending stored webhook deliveries: signed POSTs, retried with backoff for a day."""

import ipaddress
import json
import logging
import socket
import time
from datetime import timedelta
from urllib.parse import urlsplit

import requests
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from channels_gateway.encryption import CredentialsUnreadable
from channels_gateway.webhook_signing import EVENT_ID_HEADER, EVENT_TYPE_HEADER, SIGNATURE_HEADER, signature_header
from channels_gateway.webhooks import (
    WebhookAttempt,
    WebhookDelivery,
    WebhookDeliveryStatus,
    WebhookEndpoint,
    new_webhook_secret,
)
from handoff_site.task_queue import enqueue_on_commit, schedule_once

logger = logging.getLogger(__name__)

# (connect, read) seconds: a slow receiver must not hold a worker for long.
TIMEOUT = (3.05, 10)
# A delivery claimed this long ago without an outcome had its worker die; it is due again.
LEASE = timedelta(minutes=2)
FIRST_RETRY_SECONDS = 10
MAX_RETRY_SECONDS = 3600
RESPONSE_KEPT = 2000  # characters of the receiver's answer kept for the admin

_session = requests.Session()


def retry_delay(attempt: int) -> timedelta:
    """10 s after the first failure, doubling, at most an hour."""
    return timedelta(seconds=min(FIRST_RETRY_SECONDS * 2 ** max(attempt - 1, 0), MAX_RETRY_SECONDS))


def body_of(delivery: WebhookDelivery) -> bytes:
    return json.dumps(delivery.payload, separators=(",", ":"), ensure_ascii=False).encode()


def _claim(delivery_id: int) -> WebhookDelivery | None:
    now = timezone.now()
    with transaction.atomic():
        delivery = (
            WebhookDelivery.objects.select_for_update(skip_locked=True, no_key=True)
            .filter(pk=delivery_id, status=WebhookDeliveryStatus.PENDING, next_attempt_at__lte=now).first()
        )
        if delivery is None:
            return None
        delivery.attempts += 1
        delivery.next_attempt_at = now + LEASE
        delivery.save(update_fields=["attempts", "next_attempt_at"])
    return WebhookDelivery.objects.select_related("endpoint").get(pk=delivery_id)


def private_address_reason(url: str) -> str:
    """Why this URL must not be called from inside the installation, or "" if it may be.
    An admin-typed URL could otherwise reach the database, Redis or a cloud metadata service."""
    if settings.WEBHOOKS_ALLOW_PRIVATE_ADDRESSES:
        return ""
    host = urlsplit(url).hostname or ""
    try:
        addresses = {info[4][0] for info in socket.getaddrinfo(host, None)}
    except (socket.gaierror, UnicodeError):
        return "The endpoint's host name does not resolve."
    for address in addresses:
        ip = ipaddress.ip_address(address.split("%")[0])
        if ip.is_private or ip.is_loopback or ip.is_link_local or ip.is_reserved or ip.is_multicast:
            return "The endpoint resolves to a private address; webhooks only go to the public internet."
    return ""


def _post(endpoint: WebhookEndpoint, delivery: WebhookDelivery) -> tuple[int | None, str, str]:
    """(status code, response text, error). Errors are worded here: a requests error's text
    can carry the URL, and a URL can carry a token."""
    if refused := private_address_reason(endpoint.url):
        return None, "", refused
    body = body_of(delivery)
    try:
        signature = signature_header(endpoint.secret, body)
    except CredentialsUnreadable:  # tried again until the key is back or the day is over
        logger.error("Webhook endpoint %s: its signing secret cannot be decrypted", endpoint.pk)
        return None, "", "The signing secret cannot be decrypted with the configured FIELD_ENCRYPTION_KEYS."
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "Handoff-Webhooks/1",
        SIGNATURE_HEADER: signature,
        EVENT_ID_HEADER: str(delivery.event_id),
        EVENT_TYPE_HEADER: delivery.event_type,
    }
    try:
        response = _session.post(endpoint.url, data=body, headers=headers, timeout=TIMEOUT,
                                 allow_redirects=False, stream=True)
    except requests.Timeout:
        return None, "", "The endpoint did not answer in time."
    except requests.ConnectionError:
        return None, "", "The endpoint could not be reached."
    except requests.RequestException as exc:
        return None, "", f"The request failed ({type(exc).__name__})."
    try:
        raw = response.raw.read(RESPONSE_KEPT * 4, decode_content=True) or b""
    except Exception:  # a body cut short does not change the status code's verdict
        raw = b""
    finally:
        response.close()
    text = raw.decode(response.encoding or "utf-8", errors="replace")[:RESPONSE_KEPT]
    error = "" if 200 <= response.status_code < 300 else f"The endpoint answered {response.status_code}."
    return response.status_code, text, error


def deliver_webhook(*, delivery_id: int) -> str:
    """One attempt. Returns the delivery's status afterwards ("skipped" if not due)."""
    delivery = _claim(delivery_id)
    if delivery is None:
        return "skipped"
    endpoint = delivery.endpoint
    now = timezone.now()
    if not endpoint.is_active:
        WebhookDelivery.objects.filter(pk=delivery.pk).update(
            status=WebhookDeliveryStatus.FAILED, next_attempt_at=None, last_error="The endpoint is disabled.")
        return WebhookDeliveryStatus.FAILED
    started = time.monotonic()
    status_code, response_text, error = _post(endpoint, delivery)
    WebhookAttempt.objects.create(
        delivery=delivery, status_code=status_code, response=response_text, error=error,
        duration_ms=int((time.monotonic() - started) * 1000),
    )
    fields = {"last_status_code": status_code, "last_response": response_text, "last_error": error}
    if not error:
        fields |= {"status": WebhookDeliveryStatus.SENT, "next_attempt_at": None, "delivered_at": timezone.now()}
    elif now >= delivery.give_up_at:
        fields |= {"status": WebhookDeliveryStatus.FAILED, "next_attempt_at": None,
                   "last_error": f"{error} Gave up after {delivery.attempts} attempts."[:500]}
        logger.warning("Webhook delivery %s failed for good: %s", delivery.pk, error)
    else:
        at = min(timezone.now() + retry_delay(delivery.attempts), delivery.give_up_at)
        fields["next_attempt_at"] = at
        schedule_once(f"webhook:{delivery.pk}:{at.timestamp():.0f}", "channels_gateway.tasks.deliver_webhook",
                      delivery.pk, at=at)
    WebhookDelivery.objects.filter(pk=delivery.pk).update(**fields)
    return fields.get("status", WebhookDeliveryStatus.PENDING)


def webhook_replay(*, delivery: WebhookDelivery) -> None:
    """Send the same event (same id) again, with a fresh day of retries."""
    now = timezone.now()
    with transaction.atomic():
        WebhookDelivery.objects.filter(pk=delivery.pk).update(
            status=WebhookDeliveryStatus.PENDING, attempts=0, next_attempt_at=now, replayed_at=now,
            delivered_at=None,
        )
        enqueue_on_commit("channels_gateway.tasks.deliver_webhook", delivery.pk)


def webhook_rotate_secret(*, endpoint: WebhookEndpoint) -> str:
    endpoint.secret = new_webhook_secret()
    endpoint.save(update_fields=["secret"])
    return endpoint.secret


def due_webhook_delivery_ids(*, limit: int = 500) -> list[int]:
    """Pending deliveries whose attempt is due, including ones a dead worker had claimed."""
    return list(
        WebhookDelivery.objects.filter(status=WebhookDeliveryStatus.PENDING, next_attempt_at__lte=timezone.now())
        .order_by("next_attempt_at").values_list("pk", flat=True)[:limit]
    )
