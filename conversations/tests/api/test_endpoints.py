import pytest
from django.urls import reverse

from conversations.handoff_states import HandoffStatus
from conversations.models import AuthorKind, ConversationMode, HandoffSession, Message
from conversations.services.handoff import handoff_accept
from orgs.roles import Role
from orgs.tests.factories import member

pytestmark = pytest.mark.django_db


def _escalate(api, conversation, **body):
    response = api.post(reverse("api:conversation-escalate", args=[conversation.pk]),
                        {"reason": "Refund over the limit", **body}, format="json")
    assert response.status_code == 201, response.json()
    return response.json()


def test_post_an_end_user_message_on_an_api_channel(api, api_connection):
    body = {"connection": api_connection.key, "contact_id": "user-42", "text": "Hello", "message_id": "m-1",
            "contact_name": "Kim"}
    response = api.post(reverse("api:message-create"), body, format="json")
    assert response.status_code == 201, response.json()
    data = response.json()
    assert data["created"] is True and data["message"]["text"] == "Hello"
    assert data["message"]["author_kind"] == AuthorKind.USER
    # The same message id again is stored once.
    again = api.post(reverse("api:message-create"), body, format="json")
    assert again.status_code == 200 and again.json()["message"]["id"] == data["message"]["id"]
    conversation = api.get(reverse("api:conversation-detail", args=[data["conversation_id"]])).json()
    assert conversation["thread_id"] == "user-42" and conversation["contact"]["external_id"] == "user-42"
    assert conversation["channel"] == "api" and conversation["handoff"] is None


def test_post_message_needs_an_api_connection_of_the_org(api, agent):
    from channels_gateway.tests.factories import ChannelConnectionFactory

    widget = ChannelConnectionFactory(agent=agent)
    response = api.post(reverse("api:message-create"), {"connection": widget.key, "contact_id": "u", "text": "x",
                                                        "message_id": "1"}, format="json")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "unknown_connection"


def test_list_conversations_with_filters_and_cursor(api, api_conversation, conversation):
    listing = api.get(reverse("api:conversation-list"), {"limit": 1}).json()
    assert len(listing["results"]) == 1 and listing["next"]
    second = api.get(listing["next"]).json()
    assert {listing["results"][0]["id"], second["results"][0]["id"]} == {api_conversation.pk, conversation.pk}
    only_api = api.get(reverse("api:conversation-list"), {"channel": "api"}).json()["results"]
    assert [c["id"] for c in only_api] == [api_conversation.pk]
    _escalate(api, api_conversation)
    queued = api.get(reverse("api:conversation-list"), {"status": "queued"}).json()["results"]
    assert [c["id"] for c in queued] == [api_conversation.pk]
    assert queued[0]["handoff"]["status"] == "queued" and queued[0]["mode"] == ConversationMode.HUMAN
    ai = api.get(reverse("api:conversation-list"), {"status": "ai"}).json()["results"]
    assert [c["id"] for c in ai] == [conversation.pk]
    assert api.get(reverse("api:conversation-list"), {"updated_since": "2999-01-01T00:00:00Z"}).json()[
        "results"] == []
    bad = api.get(reverse("api:conversation-list"), {"status": "nope"})
    assert bad.status_code == 400 and "status" in bad.json()["error"]["fields"]


def test_list_messages_of_a_conversation(api, api_conversation):
    Message.objects.create(organization=api_conversation.organization, conversation=api_conversation,
                           author_kind=AuthorKind.USER, text="first", delivery_status="received")
    data = api.get(reverse("api:conversation-messages", args=[api_conversation.pk])).json()
    assert [m["text"] for m in data["results"]] == ["first"]


def test_handoff_lifecycle_on_behalf_of_teammates(api, api_conversation, ana, ben):
    session = _escalate(api, api_conversation, summary="Wants a refund")
    assert session["status"] == "queued" and session["trigger"] == "api" and session["summary"] == "Wants a refund"
    # Escalating again returns the open session.
    again = api.post(reverse("api:conversation-escalate", args=[api_conversation.pk]), {}, format="json")
    assert again.status_code == 200 and again.json()["id"] == session["id"]
    queue = api.get(reverse("api:handoff-list")).json()["results"]
    assert [s["id"] for s in queue] == [session["id"]]

    accepted = api.post(reverse("api:handoff-accept", args=[session["id"]]), {"teammate_id": ana.pk}, format="json")
    assert accepted.status_code == 200 and accepted.json()["assigned_to"]["id"] == ana.pk
    taken = api.post(reverse("api:handoff-accept", args=[session["id"]]), {"teammate_id": ben.pk}, format="json")
    assert taken.status_code == 409 and taken.json()["error"]["code"] == "already_accepted"

    reply = api.post(reverse("api:handoff-reply", args=[session["id"]]),
                     {"teammate_id": ana.pk, "text": "Hi, Ana here"}, format="json")
    assert reply.status_code == 201 and reply.json()["author_kind"] == "teammate"
    transfer = api.post(reverse("api:handoff-transfer", args=[session["id"]]),
                        {"teammate_id": ana.pk, "to_teammate_id": ben.pk}, format="json")
    assert transfer.status_code == 200 and transfer.json()["assigned_to"]["id"] == ben.pk
    resolved = api.post(reverse("api:handoff-resolve", args=[session["id"]]), {"teammate_id": ben.pk},
                        format="json")
    assert resolved.status_code == 200 and resolved.json()["status"] == HandoffStatus.RESOLVED
    assert api.get(reverse("api:handoff-detail", args=[session["id"]])).json()["status"] == "resolved"


def test_cancel_needs_no_teammate(api, api_conversation):
    session = _escalate(api, api_conversation)
    response = api.post(reverse("api:handoff-cancel", args=[session["id"]]), {"note": "bot took over"},
                        format="json")
    assert response.status_code == 200 and response.json()["status"] == "cancelled"
    assert HandoffSession.objects.get(pk=session["id"]).transitions.last().actor_kind == "api"


def test_teammate_must_be_a_member_allowed_to_handle(api, api_conversation, organization):
    from orgs.tests.factories import UserFactory

    session = _escalate(api, api_conversation)
    stranger = UserFactory()
    response = api.post(reverse("api:handoff-accept", args=[session["id"]]), {"teammate_id": stranger.pk},
                        format="json")
    assert response.status_code == 400 and response.json()["error"]["code"] == "unknown_teammate"
    viewer = member(organization, Role.VIEWER)
    response = api.post(reverse("api:handoff-accept", args=[session["id"]]), {"teammate_id": viewer.pk},
                        format="json")
    assert response.status_code == 403 and response.json()["error"]["code"] == "permission_denied"


def test_teammates_with_presence(api, ana, ben):
    data = api.get(reverse("api:teammate-list")).json()
    assert {t["id"] for t in data} == {ana.pk, ben.pk}
    assert all(t["presence"] == "offline" and t["can_handle"] for t in data)


def test_read_only_key_may_read_but_not_act(read_api, api_conversation):
    assert read_api.get(reverse("api:conversation-list")).status_code == 200
    response = read_api.post(reverse("api:conversation-escalate", args=[api_conversation.pk]), {}, format="json")
    assert response.status_code == 403
    assert response.json()["error"] == {"code": "permission_denied", "message": "This API key is read-only."}
    assert not HandoffSession.objects.exists()


def test_validation_errors_name_the_fields(api):
    response = api.post(reverse("api:message-create"), {"text": ""}, format="json")
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid" and {"connection", "contact_id", "text", "message_id"} <= set(error["fields"])


def test_malformed_json_is_a_parse_error(api):
    response = api.post(reverse("api:message-create"), "{nope", content_type="application/json")
    assert response.status_code == 400 and response.json()["error"]["code"] == "parse_error"


def test_unexpected_errors_are_a_500_in_the_same_shape(api, monkeypatch):
    from conversations.api import views

    def boom(**kwargs):
        raise RuntimeError("kaboom")

    monkeypatch.setattr(views, "teammates", boom)
    response = api.get(reverse("api:teammate-list"))
    assert response.status_code == 500
    assert response.json() == {"error": {"code": "server_error", "message": "Something went wrong on our side."}}


def test_accept_works_for_an_already_accepted_session_by_inbox(api, api_conversation, ana):
    session = _escalate(api, api_conversation)
    handoff_accept(session_id=session["id"], user=ana)
    assert api.get(reverse("api:handoff-detail", args=[session["id"]])).json()["assigned_to"]["id"] == ana.pk
