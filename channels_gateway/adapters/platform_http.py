"""Calls to platform APIs through `requests`: time-outs, rate limits and 5xx become
retryable delivery errors; the adapter reads 4xx bodies, which each platform words its own way."""

import email.utils
import math
import time

import requests
from django.conf import settings

from channels_gateway.adapters.base import RetryableDeliveryError

# (connect, read) seconds: a slow platform must not hold a worker for long
# (settings.PLATFORM_READ_TIMEOUT_SECONDS, 15 unless set).
TIMEOUT = (3.05, settings.PLATFORM_READ_TIMEOUT_SECONDS)
# A typing hint runs inside a teammate's websocket request: it gives up quickly.
TYPING_TIMEOUT = (1, 2)

_session = requests.Session()


def retry_after_seconds(response: requests.Response) -> float | None:
    """`Retry-After` in seconds or as an HTTP date; else the body's `retry_after`
    (Discord) or `parameters.retry_after` (Telegram)."""
    value = response.headers.get("Retry-After")
    if not value:
        return _retry_after_in_body(response)
    return retry_after_header(value)


def retry_after_header(value) -> float | None:
    """A `Retry-After` header's value (seconds or an HTTP date) in seconds from now; None
    when it cannot be read, so our own backoff decides."""
    if isinstance(value, (list, tuple)):  # some clients keep repeated headers as a list
        value = value[0] if value else None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            seconds = email.utils.parsedate_to_datetime(value).timestamp() - time.time()
        except (TypeError, ValueError, IndexError, OverflowError):
            return None
    return max(0.0, seconds) if math.isfinite(seconds) else None


def json_object(response: requests.Response) -> dict:
    """The response body if it is a JSON object, else {}: error bodies are not always JSON."""
    try:
        body = response.json()
    except (ValueError, RecursionError):
        return {}
    return body if isinstance(body, dict) else {}


def finite_number(value) -> float | None:
    """A JSON number as a finite float; None for anything else (bools, strings, NaN, inf,
    an integer too large for a float). Platforms' payloads are not trusted to be sane."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    try:
        number = float(value)
    except OverflowError:
        return None
    return number if math.isfinite(number) else None


def _retry_after_in_body(response: requests.Response) -> float | None:
    body = json_object(response)
    parameters = body.get("parameters")
    seconds = finite_number(
        body.get("retry_after", parameters.get("retry_after") if isinstance(parameters, dict) else None)
    )
    return None if seconds is None else max(0.0, seconds)


def call_platform(platform_name: str, method: str, url: str, **kwargs) -> requests.Response:
    """One HTTP call; raises RetryableDeliveryError for what a later try may fix."""
    kwargs.setdefault("timeout", TIMEOUT)
    try:
        response = _session.request(method, url, **kwargs)
    # Fixed wording and no chained cause: a requests error's text can name the URL or a
    # header, and so a token.
    except requests.Timeout:
        raise RetryableDeliveryError(f"{platform_name} did not answer in time") from None
    except requests.ConnectionError:
        raise RetryableDeliveryError(f"{platform_name} could not be reached") from None
    except requests.RequestException as exc:
        raise RetryableDeliveryError(f"{platform_name} request failed ({type(exc).__name__})") from None
    if response.status_code == 429:
        raise RetryableDeliveryError(
            f"{platform_name} rate limit (429)", retry_after=retry_after_seconds(response)
        )
    if response.status_code >= 500:
        raise RetryableDeliveryError(
            f"{platform_name} server error ({response.status_code})", retry_after=retry_after_seconds(response)
        )
    return response
