import pytest
from django.urls import reverse

from conversations.models import HandoffSession
from orgs.models import ApiIdempotencyKey

pytestmark = pytest.mark.django_db


def test_repeat_with_the_same_key_returns_the_stored_answer(api, api_conversation):
    url = reverse("api:conversation-escalate", args=[api_conversation.pk])
    first = api.post(url, {"reason": "x"}, format="json", HTTP_IDEMPOTENCY_KEY="abc-1")
    assert first.status_code == 201
    HandoffSession.objects.update(reason="changed meanwhile")
    second = api.post(url, {"reason": "x"}, format="json", HTTP_IDEMPOTENCY_KEY="abc-1")
    assert second.status_code == 201 and second.json() == first.json()
    assert second["Idempotent-Replayed"] == "true"
    assert ApiIdempotencyKey.objects.count() == 1


def test_same_key_with_another_body_is_409(api, api_connection):
    url = reverse("api:message-create")
    body = {"connection": api_connection.key, "contact_id": "u1", "text": "Hi", "message_id": "1"}
    assert api.post(url, body, format="json", HTTP_IDEMPOTENCY_KEY="k").status_code == 201
    response = api.post(url, {**body, "text": "Other"}, format="json", HTTP_IDEMPOTENCY_KEY="k")
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "idempotency_key_reused"


def test_rate_limit_is_per_key_with_retry_after(api, read_api, settings):
    settings.API_RATE_LIMIT = "2/min"
    url = reverse("api:teammate-list")
    assert [api.get(url).status_code for _ in range(2)] == [200, 200]
    response = api.get(url)
    assert response.status_code == 429
    assert int(response["Retry-After"]) > 0
    assert response.json()["error"]["code"] == "rate_limited"
    assert read_api.get(url).status_code == 200  # another key has its own budget


def test_a_request_still_running_with_the_same_key_is_not_run_twice(api, api_conversation, agent_key):
    url = reverse("api:conversation-escalate", args=[api_conversation.pk])
    probe = api.post(url, {"reason": "x"}, format="json", HTTP_IDEMPOTENCY_KEY="probe")
    request_print = ApiIdempotencyKey.objects.get(key="probe").fingerprint
    HandoffSession.objects.all().delete()
    # Another worker claimed "slow-1" for the very same request and has not answered yet.
    ApiIdempotencyKey.objects.create(api_key=agent_key[0], key="slow-1", fingerprint=request_print)
    response = api.post(url, {"reason": "x"}, format="json", HTTP_IDEMPOTENCY_KEY="slow-1")
    assert response.status_code == 409 and response.json()["error"]["code"] == "idempotency_key_in_use"
    assert not HandoffSession.objects.exists() and probe.status_code == 201


def test_a_refused_request_gives_the_key_back(api, api_conversation):
    url = reverse("api:conversation-escalate", args=[api_conversation.pk])
    api_conversation.agent.handoff_enabled = False
    api_conversation.agent.save()
    assert api.post(url, {"reason": "x"}, format="json", HTTP_IDEMPOTENCY_KEY="k2").status_code == 409
    api_conversation.agent.handoff_enabled = True
    api_conversation.agent.save()
    assert api.post(url, {"reason": "x"}, format="json", HTTP_IDEMPOTENCY_KEY="k2").status_code == 201
