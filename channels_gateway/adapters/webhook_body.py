"""Reading a webhook's body, the same way for every platform.

- `raw_body(request)`: the bytes, or 413 when the body is over Django's
  `DATA_UPLOAD_MAX_MEMORY_SIZE` (Django raises `RequestDataTooBig`, which the view would
  otherwise answer with a 503, and the platform would send the same body again forever).
- `json_object_body(raw)`: the body as a JSON object, or 400 when it is not JSON, not UTF-8,
  nested deeper than the parser can follow, or not an object.

Past this point an adapter reads the object without trusting its shape: an item it cannot
read is skipped and logged (`skipped`), never a 400 or a 503 for the whole delivery.
"""

import json
import logging

from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest

from channels_gateway.adapters.base import WebhookRejected

logger = logging.getLogger(__name__)


def raw_body(request: HttpRequest) -> bytes:
    try:
        return request.body
    except RequestDataTooBig:
        raise WebhookRejected(413, "The body is too large") from None


def json_object_body(raw: bytes) -> dict:
    try:
        payload = json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError):  # JSONDecodeError is a ValueError
        raise WebhookRejected(400, "The body is not JSON") from None
    if not isinstance(payload, dict):
        raise WebhookRejected(400, "The body is not a JSON object")
    return payload


def skipped(platform: str, what: str) -> None:
    """Log an item of a verified delivery that could not be read. Only where it was and
    what was wrong with it, never its content: that is the user's, or a credential."""
    logger.warning("Skipped a malformed item in a %s webhook: %s", platform, what)
