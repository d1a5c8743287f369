"""Calls to platform APIs through `requests`: time-outs, rate limits and 5xx become
retryable delivery errors; the adapter reads 4xx bodies, which each platform words its own way."""

import email.utils
import time

import requests

from channels_gateway.adapters.base import RetryableDeliveryError

# (connect, read) seconds: a slow platform must not hold a worker for long.
TIMEOUT = (3.05, 15)

_session = requests.Session()


def retry_after_seconds(response: requests.Response) -> float | None:
    """`Retry-After` in seconds or as an HTTP date; else the body's `retry_after`
    (Discord) or `parameters.retry_after` (Telegram)."""
    value = response.headers.get("Retry-After")
    if not value:
        return _retry_after_in_body(response)
    try:
        return max(0.0, float(value))
    except ValueError:
        parsed = email.utils.parsedate_to_datetime(value) if value else None
        return max(0.0, parsed.timestamp() - time.time()) if parsed else None


def _retry_after_in_body(response: requests.Response) -> float | None:
    try:
        body = response.json()
    except ValueError:
        return None
    if not isinstance(body, dict):
        return None
    parameters = body.get("parameters")
    value = body.get("retry_after", parameters.get("retry_after") if isinstance(parameters, dict) else None)
    return float(value) if isinstance(value, (int, float)) else None


def call_platform(platform_name: str, method: str, url: str, **kwargs) -> requests.Response:
    """One HTTP call; raises RetryableDeliveryError for what a later try may fix."""
    kwargs.setdefault("timeout", TIMEOUT)
    try:
        response = _session.request(method, url, **kwargs)
    except requests.Timeout as exc:
        raise RetryableDeliveryError(f"{platform_name} did not answer in time") from exc
    except requests.ConnectionError as exc:
        raise RetryableDeliveryError(f"{platform_name} could not be reached") from exc
    if response.status_code == 429:
        raise RetryableDeliveryError(
            f"{platform_name} rate limit (429)", retry_after=retry_after_seconds(response)
        )
    if response.status_code >= 500:
        raise RetryableDeliveryError(
            f"{platform_name} server error ({response.status_code})", retry_after=retry_after_seconds(response)
        )
    return response
