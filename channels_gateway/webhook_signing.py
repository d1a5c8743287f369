"""How every webhook request is signed: `Handoff-Signature: t=<unix>,v1=<hex>` where
hex = HMAC-SHA256(secret, f"{t}.{body}"). docs/webhooks.md shows a receiver's check."""

import hashlib
import hmac
import time

SIGNATURE_HEADER = "Handoff-Signature"
EVENT_ID_HEADER = "Handoff-Event-Id"
EVENT_TYPE_HEADER = "Handoff-Event-Type"
# A receiver rejects a signature older (or newer) than this: a captured request cannot be replayed later.
TOLERANCE_SECONDS = 300


def signature(secret: str, timestamp: int, body: bytes) -> str:
    signed = f"{timestamp}.".encode() + body
    return hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


def signature_header(secret: str, body: bytes, *, timestamp: int | None = None) -> str:
    timestamp = int(time.time()) if timestamp is None else timestamp
    return f"t={timestamp},v1={signature(secret, timestamp, body)}"


def verify(secret: str, body: bytes, header: str, *, now: float | None = None,
           tolerance: int = TOLERANCE_SECONDS) -> bool:
    """The receiver's recipe (also in docs/webhooks.md): recompute, compare in constant time,
    reject a timestamp more than `tolerance` seconds from now."""
    try:
        parts = dict(item.split("=", 1) for item in header.split(","))
        timestamp = int(parts["t"])
    except (ValueError, KeyError, AttributeError):
        return False
    now = time.time() if now is None else now
    if abs(now - timestamp) > tolerance:
        return False
    return hmac.compare_digest(signature(secret, timestamp, body), parts.get("v1", ""))
