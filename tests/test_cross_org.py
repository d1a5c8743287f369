"""No one let in: org B, with its own key, inbox and widget, learns nothing of org A and
changes nothing of it, through any URL of the REST API, any filter, any websocket group.

The API's URLs come from the URL resolver, so an endpoint added later is covered without
editing this file; one with a path parameter this file does not know fails, asking for it.
(Every inbox request by id as another org's member: inbox/tests/test_access_matrix.py.)
"""

import json

import pytest
from channels.db import database_sync_to_async
from django.urls import URLPattern, URLResolver, get_resolver
from rest_framework.test import APIClient

from channels_gateway.models import Platform
from channels_gateway.tests.factories import ChannelConnectionFactory
from conversations.models import AuthorKind, DeliveryStatus, HandoffSession, Message
from conversations.services.handoff import handoff_accept, handoff_escalate, handoff_reply
from conversations.services.messages import post_message_to_contact
from conversations.tests.factories import AIAgentFactory, ContactFactory, ConversationFactory
from orgs.models import ApiKeyRole
from orgs.roles import Role
from orgs.services import api_key_create
from orgs.tests.factories import OrganizationFactory, member
from tests.sockets import open_inbox, receive_until, widget_socket

SECRETS_OF_A = ("Zelda Confidential", "order 7777 for Zelda", "Org A Assistant", "zelda-ext-id", "Org A Inc")


def org_a(platform: str = Platform.API):
    """Org A: a waiting session, a live one with messages, a failed delivery."""
    org = OrganizationFactory(name="Org A Inc", plan="pro")
    agent = AIAgentFactory(organization=org, name="Org A Assistant")
    connection = ChannelConnectionFactory(agent=agent, platform=platform, config={})
    ana = member(org, Role.AGENT, first_name="Ana")
    waiting = ConversationFactory(contact=ContactFactory(connection=connection, display_name="Zelda Confidential",
                                                         external_id="zelda-ext-id"))
    queued = handoff_escalate(conversation_id=waiting.pk, trigger="guard", reason="human please",
                              summary="order 7777 for Zelda").session
    live_conversation = ConversationFactory(contact=ContactFactory(connection=connection))
    live = handoff_escalate(conversation_id=live_conversation.pk, trigger="guard").session
    handoff_accept(session_id=live.pk, user=ana)
    handoff_reply(session_id=live.pk, user=ana, text="order 7777 for Zelda is on its way")
    failed = post_message_to_contact(conversation=waiting, author_kind=AuthorKind.AI, text="order 7777 for Zelda")
    Message.objects.filter(pk=failed.pk).update(delivery_status=DeliveryStatus.FAILED)
    return {"org": org, "agent": agent, "connection": connection, "ana": ana, "queued": queued, "live": live,
            "conversation": waiting, "message": failed}


# --- the REST API, every URL ---------------------------------------------------------------------

def api_routes() -> list[tuple[str, URLPattern]]:
    """(route, pattern) of every URL under /api/v1/, from the resolver."""
    found = []

    def walk(patterns, prefix):
        for entry in patterns:
            route = prefix + str(entry.pattern)
            if isinstance(entry, URLResolver):
                walk(entry.url_patterns, route)
            elif route.startswith("api/v1/"):
                found.append((route, entry))

    walk(get_resolver().url_patterns, "")
    return found


def view_methods(pattern: URLPattern) -> list[str]:
    view_class = getattr(pattern.callback, "cls", None) or getattr(pattern.callback, "view_class", None)
    return [method for method in ("get", "post", "put", "patch", "delete") if hasattr(view_class, method)]


def ids_in_org_a(world) -> dict[str, int]:
    """Org A's object for each path parameter an API URL may take."""
    return {
        "conversation_id": world["conversation"].pk,
        "session_id": world["queued"].pk,
        "message_id": world["message"].pk,
        "agent_id": world["agent"].pk,
        "teammate_id": world["ana"].pk,
        "user_id": world["ana"].pk,
    }


def assert_nothing_of_a(response) -> None:
    body = response.content.decode("utf-8", "replace")
    leaked = [secret for secret in SECRETS_OF_A if secret in body]
    assert not leaked, (response.status_code, leaked, body[:500])


@pytest.fixture
def world(db):
    return org_a()


@pytest.fixture
def org_b_api(db):
    """Org B's agent key, and org B's own member: a valid teammate_id for org B's actions."""
    org = OrganizationFactory(name="Org B", plan="enterprise")
    teammate = member(org, Role.AGENT)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {api_key_create(organization=org, name='B', role=ApiKeyRole.AGENT)[1]}")
    return client, teammate


def test_the_resolver_finds_the_api(db):
    routes = [route for route, _ in api_routes()]
    assert "api/v1/conversations/<int:conversation_id>/messages/" in routes
    assert "api/v1/handoffs/<int:session_id>/accept/" in routes


@pytest.mark.parametrize("route, pattern", api_routes(), ids=[route for route, _ in api_routes()])
def test_every_api_url_with_org_b_key_on_org_a_objects_is_a_404_and_changes_nothing(world, org_b_api, route,
                                                                                   pattern):
    client, b_teammate = org_b_api
    ids = ids_in_org_a(world)
    unknown = set(pattern.pattern.converters) - set(ids)
    assert not unknown, f"{route}: say which org A object {unknown} should name in ids_in_org_a()"
    url = "/" + route
    for name in pattern.pattern.converters:
        url = url.replace(f"<int:{name}>", str(ids[name])).replace(f"<{name}>", str(ids[name]))
    before = (Message.objects.count(), list(HandoffSession.objects.values_list("pk", "status", "assigned_to")))
    # Every body an action might read, pointing at org B's own teammate: the object alone is foreign.
    body = {"teammate_id": b_teammate.pk, "to_teammate_id": b_teammate.pk, "text": "hello", "reason": "x",
            "summary": "x", "note": "x", "connection": world["connection"].key, "contact_id": "c1",
            "message_id": "m1"}
    for method in view_methods(pattern):
        response = getattr(client, method)(url, data=body if method != "get" else None, format="json")
        if pattern.pattern.converters or (method == "post" and route == "api/v1/messages/"):
            assert response.status_code == 404, (method, url, response.status_code, response.content[:300])
            assert response.json()["error"]["code"] in ("not_found", "unknown_connection")
        else:
            assert response.status_code < 500, (method, url, response.status_code)
        assert_nothing_of_a(response)
    after = (Message.objects.count(), list(HandoffSession.objects.values_list("pk", "status", "assigned_to")))
    assert after == before


@pytest.mark.parametrize("route, pattern", [(r, p) for r, p in api_routes() if not p.pattern.converters],
                         ids=[r for r, p in api_routes() if not p.pattern.converters])
def test_filters_naming_org_a_objects_find_nothing(world, org_b_api, route, pattern):
    client, _ = org_b_api
    if "get" not in view_methods(pattern):
        pytest.skip("no list to filter")
    ids = ids_in_org_a(world)
    of_a = {"conversations": {world["conversation"].pk, world["live"].conversation_id},
            "handoffs": {world["queued"].pk, world["live"].pk}, "teammates": {world["ana"].pk}}
    filters = {"agent": ids["agent_id"], "conversation": ids["conversation_id"], "session": ids["session_id"],
               "teammate": ids["teammate_id"], "channel": Platform.API, "connection": world["connection"].key}
    for name, value in filters.items():
        for status in ("", "queued", "active"):
            params = {name: value, **({"status": status} if status else {})}
            response = client.get("/" + route, params)
            assert response.status_code in (200, 400), (route, params, response.status_code)
            assert_nothing_of_a(response)
            if response.status_code == 200 and "json" in response.get("Content-Type", ""):
                payload = response.json()
                rows = payload.get("results", payload) if isinstance(payload, dict) else payload
                found = {row.get("id") for row in rows if isinstance(row, dict)} if isinstance(rows, list) else set()
                assert not found & of_a.get(route.split("/")[2], set()), (route, params)


def test_acting_for_an_org_a_teammate_on_org_b_own_session_is_refused(world, org_b_api):
    """teammate_id names a person: org A's member cannot be made to act in org B (nor named there)."""
    client, b_teammate = org_b_api
    b_conversation = ConversationFactory(contact__connection=ChannelConnectionFactory(
        agent=AIAgentFactory(organization=b_teammate.memberships.first().organization), platform=Platform.API))
    session = handoff_escalate(conversation_id=b_conversation.pk, trigger="api").session
    ana = world["ana"].pk
    for action, body in [("accept", {"teammate_id": ana}), ("reply", {"teammate_id": ana, "text": "hi"}),
                         ("resolve", {"teammate_id": ana}),
                         ("transfer", {"teammate_id": b_teammate.pk, "to_teammate_id": ana})]:
        response = client.post(f"/api/v1/handoffs/{session.pk}/{action}/", body, format="json")
        assert response.status_code in (400, 404), (action, response.status_code)
        assert response.json()["error"]["code"] in ("unknown_teammate", "not_found", "invalid")
        assert_nothing_of_a(response)
    session.refresh_from_db()
    assert session.status == "queued" and session.assigned_to_id is None
    assert "Ana" not in json.dumps(client.get("/api/v1/teammates/").json())


# --- websockets: the inbox's org group, the widget's visitor --------------------------------------------

@pytest.mark.django_db(transaction=True)
async def test_an_org_b_inbox_hears_nothing_of_org_a_activity():
    org_b = await database_sync_to_async(OrganizationFactory)(name="Org B", plan="pro")
    outsider = await database_sync_to_async(member)(org_b, Role.OWNER)
    b_inbox, b_snapshot = await open_inbox(outsider, org_b)

    world = await database_sync_to_async(org_a)(Platform.WIDGET)
    a_inbox, _ = await open_inbox(world["ana"], world["org"])  # presence, in org A only
    # Org A's visitor writes and asks for a human; Ana accepts, replies, notes, resolves.
    visitor = widget_socket(world["connection"].key)
    await visitor.connect()
    await visitor.receive_json_from()
    await visitor.send_json_to({"type": "message", "text": "can I talk to a human please?", "client_id": "z1"})
    queued = await receive_until(a_inbox, lambda f: f["type"] == "handoff.queued", timeout=10)
    session_id = queued["session"]["id"]
    for frame in ({"type": "accept", "session_id": session_id},
                  {"type": "note", "session_id": session_id, "text": "order 7777 for Zelda"},
                  {"type": "reply", "session_id": session_id, "text": "order 7777 for Zelda"},
                  {"type": "typing", "session_id": session_id},
                  {"type": "resolve", "session_id": session_id}):
        await a_inbox.send_json_to({**frame, "request_id": frame["type"]})
    await receive_until(a_inbox, lambda f: f.get("request_id") == "resolve", timeout=10)
    await receive_until(a_inbox, lambda f: f["type"] == "handoff.resolved", timeout=10)
    await visitor.disconnect()
    await a_inbox.disconnect()

    heard = []
    while not await b_inbox.receive_nothing(timeout=0.5):
        heard.append(await b_inbox.receive_json_from())
    a_sessions = {world["queued"].pk, world["live"].pk, session_id}
    a_conversations = {world["conversation"].pk, world["live"].conversation_id, queued["session"]["conversation_id"]}
    for frame in heard:
        text = json.dumps(frame)
        assert not [secret for secret in (*SECRETS_OF_A, "Zelda", "Ana") if secret in text], frame
        assert (frame.get("session") or {}).get("id") not in a_sessions, frame
        assert (frame.get("message") or {}).get("conversation_id") not in a_conversations, frame
        assert (frame.get("teammate") or {}).get("id") != world["ana"].pk, frame
    # And a fresh snapshot of org B's inbox holds nothing of org A either.
    await b_inbox.disconnect()
    b_inbox, b_snapshot = await open_inbox(outsider, org_b)
    assert b_snapshot["sessions"] == [] and not [s for s in SECRETS_OF_A if s in json.dumps(b_snapshot)]
    await b_inbox.disconnect()


@pytest.mark.django_db(transaction=True)
async def test_a_visitor_token_of_one_widget_opens_nothing_on_another():
    def two_widgets():
        a = ChannelConnectionFactory(agent=AIAgentFactory(organization=OrganizationFactory(name="Org A Inc")))
        b = ChannelConnectionFactory(agent=AIAgentFactory(organization=OrganizationFactory(name="Org B")))
        return a, b

    widget_a, widget_b = await database_sync_to_async(two_widgets)()
    visitor = widget_socket(widget_a.key)
    await visitor.connect()
    token_a = (await visitor.receive_json_from())["token"]
    await visitor.send_json_to({"type": "message", "text": "order 7777 for Zelda", "client_id": "a1"})
    await receive_until(visitor, lambda f: f["type"] == "ack")
    await visitor.disconnect()

    # The same token on widget B: a new visitor there, none of A's history, A's thread untouched.
    intruder = widget_socket(widget_b.key, token=token_a)
    await intruder.connect()
    hello = await intruder.receive_json_from()
    assert hello["messages"] == [] and hello["token"] != token_a
    await intruder.send_json_to({"type": "message", "text": "let me in", "client_id": "a1"})  # A's client id too
    ack = await receive_until(intruder, lambda f: f["type"] == "ack")
    await intruder.disconnect()

    def where_things_are():
        a_texts = list(Message.objects.filter(conversation__connection=widget_a, author_kind="user")
                       .values_list("text", flat=True))
        b_message = Message.objects.select_related("conversation__contact").get(pk=ack["message"]["id"])
        a_visitors = set(Message.objects.filter(conversation__connection=widget_a)
                         .values_list("conversation__contact__external_id", flat=True))
        return a_texts, b_message.conversation.connection_id, b_message.conversation.contact.external_id, a_visitors

    a_texts, b_connection, b_visitor, a_visitors = await database_sync_to_async(where_things_are)()
    assert a_texts == ["order 7777 for Zelda"]
    assert b_connection == widget_b.pk and b_visitor not in a_visitors

    # A's token still opens A's conversation (it was not spent or rebound by B).
    again = widget_socket(widget_a.key, token=token_a)
    await again.connect()
    assert [m["text"] for m in (await again.receive_json_from())["messages"]][:1] == ["order 7777 for Zelda"]
    await again.disconnect()
