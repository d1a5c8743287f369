"""Calls to platform APIs through `requests`: time-outs, rate limits and 5xx become
retryable delivery errors; the adapter reads 4xx bodies, which each platform words its own way."""

import email.utils
import math
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
        seconds = float(value)
    except ValueError:
        try:
            seconds = email.utils.parsedate_to_datetime(value).timestamp() - time.time()
        except (TypeError, ValueError):
            return None  # a header we cannot read: our own backoff decides
    return max(0.0, seconds) if math.isfinite(seconds) else None


def json_object(response: requests.Response) -> dict:
    """The response body if it is a JSON object, else {}: error bodies are not always JSON."""
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _retry_after_in_body(response: requests.Response) -> float | None:
    body = json_object(response)
    parameters = body.get("parameters")
    value = body.get("retry_after", parameters.get("retry_after") if isinstance(parameters, dict) else None)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    return max(0.0, float(value))


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
