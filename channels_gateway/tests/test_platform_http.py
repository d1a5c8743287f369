"""Platform HTTP calls: what a later attempt can fix is retryable, with the platform's wait."""

import datetime
import email.utils

import pytest

from channels_gateway.adapters.base import RetryableDeliveryError
from channels_gateway.adapters.platform_http import call_platform, json_object, retry_after_header
from tests.fakes.http_server import FakeServer, Reply


class Scripted(FakeServer):
    def __init__(self, *replies: Reply):
        super().__init__()
        self.replies = list(replies)

    def respond(self, request):
        return self.replies.pop(0)


@pytest.mark.parametrize("reply, retry_after", [
    (Reply(429, {"message": "slow down"}, {"Retry-After": "7"}), 7.0),
    (Reply(429, {"ok": False, "error_code": 429, "parameters": {"retry_after": 12}}), 12.0),
    (Reply(429, {"message": "You are being rate limited.", "retry_after": 0.5, "global": False}), 0.5),
    (Reply(503, {"error": "unavailable"}), None),
])
def test_rate_limits_and_server_errors_are_retryable_with_the_platforms_wait(reply, retry_after):
    with Scripted(reply) as server:
        with pytest.raises(RetryableDeliveryError) as failure:
            call_platform("Example", "POST", f"{server.url}/send", json={})
    assert failure.value.retry_after == retry_after


def test_a_server_that_does_not_answer_in_time_is_retryable():
    with Scripted(Reply(200, {}, delay=1.0)) as server:
        with pytest.raises(RetryableDeliveryError, match="did not answer in time"):
            call_platform("Example", "GET", f"{server.url}/slow", timeout=(1, 0.2))


def test_a_server_that_is_down_is_retryable():
    with Scripted() as server:
        url = server.url
    with pytest.raises(RetryableDeliveryError, match="could not be reached"):
        call_platform("Example", "GET", f"{url}/gone", timeout=(0.5, 0.5))


def test_client_errors_are_handed_back_for_the_adapter_to_read():
    with Scripted(Reply(403, {"description": "Forbidden: bot was blocked by the user"})) as server:
        response = call_platform("Example", "POST", f"{server.url}/send")
    assert response.status_code == 403


def test_an_unreadable_retry_after_leaves_the_wait_to_our_backoff():
    with Scripted(Reply(429, {}, {"Retry-After": "soon"})) as server:
        with pytest.raises(RetryableDeliveryError) as failure:
            call_platform("Example", "POST", f"{server.url}/send")
    assert failure.value.retry_after is None


def test_a_request_error_never_carries_the_token_in_its_reason():
    with pytest.raises(RetryableDeliveryError) as failure:
        call_platform("Example", "POST", "http://127.0.0.1:9/send",
                      headers={"Authorization": "Bearer SECRET-TOKEN\n"})
    assert "SECRET-TOKEN" not in failure.value.reason
    assert failure.value.__cause__ is None and failure.value.__suppress_context__


@pytest.mark.parametrize("value, seconds", [
    ("7", 7.0), (" 2.5 ", 2.5), (["30"], 30.0), (12, 12.0), ("-5", 0.0),
    ("inf", None), ("nan", None), ("soon", None), ([], None), (None, None), ("", None), ({"s": 1}, None),
    ("Wed, 21 Oct 2015 07:28:00 GMT", 0.0),  # a date in the past: now
])
def test_a_retry_after_header_is_read_in_seconds_or_left_to_our_backoff(value, seconds):
    assert retry_after_header(value) == seconds


def test_a_retry_after_header_can_be_an_http_date():
    in_a_minute = email.utils.format_datetime(datetime.datetime.now(datetime.UTC)
                                              + datetime.timedelta(seconds=60), usegmt=True)
    assert 55 <= retry_after_header(in_a_minute) <= 60


def test_a_retry_after_in_the_body_too_large_for_a_float_is_left_to_our_backoff():
    with Scripted(Reply(429, b'{"retry_after": 1' + b"0" * 400 + b"}")) as server:
        with pytest.raises(RetryableDeliveryError) as failure:
            call_platform("Example", "POST", f"{server.url}/send")
    assert failure.value.retry_after is None


@pytest.mark.parametrize("body, parsed", [
    (b'{"ok": true}', {"ok": True}), (b"[1]", {}), (b"<html>", {}), (b"", {}),
    (b"[" * 100_000 + b"]" * 100_000, {}),
])
def test_a_response_body_is_read_as_a_json_object_or_nothing(body, parsed):
    with Scripted(Reply(200, body)) as server:
        response = call_platform("Example", "GET", f"{server.url}/x")
    assert json_object(response) == parsed
