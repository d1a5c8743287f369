"""The API against its own OpenAPI schema: drf-spectacular's schema, schemathesis's checks."""

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from django.urls import reverse
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from conversations.models import AuthorKind, Message
from conversations.services.handoff import Actor, handoff_escalate
from conversations.models import HandoffTrigger

schema = schemathesis.openapi.from_wsgi("/api/v1/schema/", get_wsgi_application())


def test_schema_and_docs_are_served(client, db):
    response = client.get(reverse("api:schema"), HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    paths = response.json()["paths"]
    assert {"/api/v1/conversations/", "/api/v1/messages/", "/api/v1/handoffs/{session_id}/accept/",
            "/api/v1/teammates/"} <= set(paths)
    assert "429" in paths["/api/v1/conversations/"]["get"]["responses"]
    docs = client.get(reverse("api:docs"))
    assert docs.status_code == 200 and b"swagger-ui" in docs.content
    assert b"cdn.jsdelivr" not in docs.content  # the sidecar serves the UI: works offline


@pytest.fixture
def keep_test_connection():
    """The WSGI app closes "old" connections around each request, as in production; inside a test's
    transaction that would close the test's connection (Django's test client disconnects them too)."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def api_data(keep_test_connection, api_conversation, agent_key, ana):
    """Some rows for the generated requests to find, and the key's header."""
    Message.objects.create(organization=api_conversation.organization, conversation=api_conversation,
                           author_kind=AuthorKind.USER, text="hello", delivery_status="received")
    handoff_escalate(conversation_id=api_conversation.pk, trigger=HandoffTrigger.API, actor=Actor("api"))
    return {"Authorization": f"Bearer {agent_key[1]}"}


@pytest.mark.django_db
@schema.include(method="GET").parametrize()
@settings(max_examples=20, deadline=None, suppress_health_check=list(HealthCheck))
def test_get_endpoints_conform_to_the_schema(case, api_data):
    case.call_and_validate(headers=api_data, checks=[not_a_server_error, response_schema_conformance])


@pytest.mark.django_db
@schema.include(method="POST").parametrize()
@settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck))
def test_post_endpoints_never_fail_and_conform_to_the_schema(case, api_data):
    """Random bodies and ids: refused with the documented error shape, never a 500."""
    case.call_and_validate(headers=api_data, checks=[not_a_server_error, response_schema_conformance])
