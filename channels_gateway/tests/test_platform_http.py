"""Platform HTTP calls: what a later attempt can fix is retryable, with the platform's wait."""

import pytest

from channels_gateway.adapters.base import RetryableDeliveryError
from channels_gateway.adapters.platform_http import call_platform
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
