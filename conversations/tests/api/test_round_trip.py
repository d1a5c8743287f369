"""The whole round trip with no platform at all: the customer's own agent talks to Handoff
through the REST API, a teammate answers in the inbox, and the agent's webhook receiver
(a real HTTP server on 127.0.0.1) gets the signed events and verifies them."""

import pytest

from channels_gateway.tests.test_webhooks import Receiver, endpoint_for
from conversations.models import HandoffSession
from conversations.services.handoff import handoff_accept, handoff_reply, handoff_resolve

pytestmark = pytest.mark.django_db


@pytest.fixture
def receiver():
    with Receiver() as server:
        yield server


def test_your_agent_uses_handoff_for_the_human_part_only(
    api, api_connection, organization, ana, receiver, django_capture_on_commit_callbacks
):
    capture = django_capture_on_commit_callbacks
    organization.plan = "pro"
    organization.save()
    endpoint = endpoint_for(organization, receiver.url)

    # Your agent relays what its user wrote...
    with capture(execute=True):
        posted = api.post("/api/v1/messages/", {
            "connection": api_connection.key, "contact_id": "user-42", "contact_name": "Dana",
            "text": "My parcel never arrived and I want to speak to someone", "message_id": "m-1",
        }, format="json")
    assert posted.status_code == 201, posted.content
    conversation_id = posted.json()["conversation_id"]

    # ...and decides itself that a person should take over.
    with capture(execute=True):
        escalated = api.post(f"/api/v1/conversations/{conversation_id}/handoff/",
                             {"reason": "asked for a person", "summary": "Parcel 1234 lost; wants a refund."},
                             format="json", HTTP_IDEMPOTENCY_KEY="esc-1")
    assert escalated.status_code in (200, 201), escalated.content
    session = HandoffSession.objects.get(conversation_id=conversation_id)
    assert session.status == "queued" and session.summary == "Parcel 1234 lost; wants a refund."
    queue = api.get("/api/v1/handoffs/").json()["results"]
    assert [item["id"] for item in queue] == [session.pk]

    # A teammate answers in the inbox.
    with capture(execute=True):
        handoff_accept(session_id=session.pk, user=ana)
    with capture(execute=True):
        handoff_reply(session_id=session.pk, user=ana, text="Hi Dana, I'm refunding it now.")
    with capture(execute=True):
        handoff_resolve(session_id=session.pk, user=ana)

    events = receiver.events(endpoint.secret)  # every request verified with the documented recipe
    assert [kind for kind, _ in events] == [
        "handoff.queued", "message.created",  # the notice your agent relays: a teammate is coming
        "handoff.accepted", "message.created",  # "Ana from our team has joined the conversation."
        "message.created",  # Ana's reply
        "handoff.resolved", "message.created",  # and the notice that the conversation is handed back
    ]
    relayed = [payload["data"]["message"]["text"] for kind, payload in events if kind == "message.created"]
    assert relayed[2] == "Hi Dana, I'm refunding it now."
    assert relayed[1] == "Ana from our team has joined the conversation."
    resolved = next(payload for kind, payload in events if kind == "handoff.resolved")
    assert resolved["data"]["session"]["id"] == session.pk
    assert all(payload["data"].get("conversation", {}).get("contact_external_id", "user-42") == "user-42"
               for _, payload in events)
