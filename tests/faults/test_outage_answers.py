"""What a request gets when the database is gone, wherever the error is raised: 503 with
Retry-After (the API in its error shape), never 500; a bug is still a 500."""

import pytest

pytestmark = pytest.mark.urls("tests.faults.outage_urls")


@pytest.fixture
def client(client):
    client.raise_request_exception = False
    return client


def test_a_webhook_meeting_a_lost_database_is_told_to_come_back(client):
    response = client.post("/webhooks/telegram/gone/", data="{}", content_type="application/json")
    assert (response.status_code, response["Retry-After"], response.json()) == (503, "5", {"error": "try_again"})


def test_the_api_answers_in_its_error_shape(client):
    response = client.get("/api/v1/gone/")
    assert response.status_code == 503 and response["Retry-After"] == "5"
    assert response.json()["error"]["code"] == "service_unavailable"


def test_a_page_says_it_is_back_in_a_moment(client):
    response = client.get("/inbox/gone/")
    assert response.status_code == 503 and response["Retry-After"] == "5"
    assert b"Back in a moment" in response.content


def test_an_error_in_a_middleware_on_the_way_out_is_a_503_too(client, settings):
    settings.MIDDLEWARE = [*settings.MIDDLEWARE, "tests.faults.outage_urls.FailsOnTheWayOut"]
    response = client.get("/inbox/on-the-way-out/")
    assert response.status_code == 503 and response["Retry-After"] == "5"


def test_a_bug_is_still_a_500(client):
    assert client.get("/inbox/bug/").status_code == 500
