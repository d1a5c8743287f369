"""The teammate's inbox over a real websocket: snapshot, live events, accept, reply, resolve."""

import asyncio
import time

import pytest
from channels.db import database_sync_to_async

from conversations.events import send_inbox_event
from conversations.models import Conversation, HandoffSession
from orgs.roles import Role
from orgs.tests.factories import OrganizationFactory, member
from tests.sockets import inbox_socket, logged_in_cookie, open_inbox, receive_until, visitor_asks_for_a_human

pytestmark = pytest.mark.django_db(transaction=True)


async def test_anonymous_is_refused():
    socket = inbox_socket()
    connected, code = await socket.connect()
    assert not connected and code == 4401


async def test_a_foreign_origin_is_refused(ana, org):
    cookie = await database_sync_to_async(logged_in_cookie)(ana, org)
    connected, _ = await inbox_socket(cookie, origin="https://evil.example").connect()
    assert not connected


async def test_a_user_without_an_organization_is_refused(db):
    from orgs.tests.factories import UserFactory

    loner = await database_sync_to_async(UserFactory)()
    cookie = await database_sync_to_async(logged_in_cookie)(loner)
    connected, code = await inbox_socket(cookie).connect()
    assert not connected and code == 4404


async def test_the_queued_session_reaches_the_inbox_before_the_notice_to_the_visitor(widget, ana, org):
    inbox, _ = await open_inbox(ana, org)

    await visitor_asks_for_a_human(widget)

    first = await receive_until(inbox, lambda f: f["type"] == "handoff.queued" or (
        f["type"] == "message.created" and f["message"]["author_kind"] == "system"))
    assert first["type"] == "handoff.queued"
    notice = await receive_until(inbox, lambda f: f["type"] == "message.created")
    assert notice["message"]["author_kind"] == "system"
    assert notice["message"]["conversation_id"] == first["session"]["conversation_id"]


async def test_the_whole_round_trip_between_a_visitor_and_two_teammates(widget, ana, ben, org):
    ana_inbox, snapshot = await open_inbox(ana, org)
    ben_inbox, _ = await open_inbox(ben, org)
    assert snapshot["sessions"] == [] and snapshot["me"]["can_handle"] is True

    visitor = await visitor_asks_for_a_human(widget)

    for inbox in (ana_inbox, ben_inbox):
        queued = await receive_until(inbox, lambda f: f["type"] == "handoff.queued")
        assert queued["session"]["status"] == "queued" and queued["session"]["channel"] == "widget"
        assert "can I talk to a human please?" in queued["session"]["summary"]
    session_id = queued["session"]["id"]

    # Both click accept: exactly one wins, the other is told who.
    await ana_inbox.send_json_to({"type": "accept", "session_id": session_id, "request_id": "a"})
    await receive_until(ana_inbox, lambda f: f.get("request_id") == "a" and f["type"] == "result")
    # Ben's click crossed the news: his accept may be answered before or after it arrives.
    await ben_inbox.send_json_to({"type": "accept", "session_id": session_id, "request_id": "b"})
    frames = [await receive_until(ben_inbox, lambda f: f.get("request_id") == "b" or f["type"] == "handoff.accepted")
              for _ in range(2)]
    refusal = next(f for f in frames if f.get("request_id") == "b")
    assert refusal["type"] == "error" and refusal["code"] == "already_accepted"
    assert refusal["accepted_by"]["name"] == "Ana Silva"
    accepted = next(f for f in frames if f["type"] == "handoff.accepted")
    assert accepted["session"]["assigned_to"]["name"] == "Ana Silva"
    joined = await receive_until(visitor, lambda f: f["type"] == "message")
    assert joined["message"]["text"] == "Ana from our team has joined the conversation."

    # The transcript has everything so far.
    await ana_inbox.send_json_to({"type": "transcript", "session_id": session_id, "request_id": "t"})
    transcript = await receive_until(ana_inbox, lambda f: f.get("request_id") == "t")
    assert [m["author_kind"] for m in transcript["messages"]] == ["user", "system", "system"]
    assert [t["to_status"] for t in transcript["timeline"]] == ["queued", "active"]

    # Live both ways.
    await ana_inbox.send_json_to({"type": "reply", "session_id": session_id, "text": "Hi, I'm Ana. How can I help?",
                                  "request_id": "r"})
    result = await receive_until(ana_inbox, lambda f: f.get("request_id") == "r")
    assert result["message"]["author_kind"] == "teammate"
    to_visitor = await receive_until(visitor, lambda f: f["type"] == "message")
    assert to_visitor["message"] == {**to_visitor["message"], "author_kind": "teammate", "author_name": "Ana",
                                     "text": "Hi, I'm Ana. How can I help?"}
    sent = await receive_until(ana_inbox, lambda f: f["type"] == "message.updated")
    assert sent["message"]["delivery_status"] == "sent"

    await visitor.send_json_to({"type": "message", "text": "My parcel never came", "client_id": "u2"})
    from_visitor = await receive_until(ben_inbox, lambda f: f["type"] == "message.created"
                                       and f["message"]["author_kind"] == "user")
    assert from_visitor["message"]["text"] == "My parcel never came"

    # Resolve: back to the AI, and the user is told.
    await ana_inbox.send_json_to({"type": "resolve", "session_id": session_id, "request_id": "z"})
    assert (await receive_until(ana_inbox, lambda f: f.get("request_id") == "z"))["type"] == "result"
    await receive_until(ben_inbox, lambda f: f["type"] == "handoff.resolved")
    told = await receive_until(visitor, lambda f: f["type"] == "message" and f["message"]["author_kind"] == "system")
    assert told["message"]["text"].startswith("Ana has handed the conversation back to me.")
    conversation = await database_sync_to_async(Conversation.objects.get)()
    assert conversation.mode == "ai"

    await visitor.send_json_to({"type": "message", "text": "thanks!", "client_id": "u3"})
    ai_again = await receive_until(visitor, lambda f: f["type"] == "message" and f["message"]["author_kind"] == "ai")
    assert ai_again["message"]["text"]
    for socket in (ana_inbox, ben_inbox, visitor):
        await socket.disconnect()


async def test_a_reconnecting_inbox_gets_the_current_queue(widget, ana, org):
    visitor = await visitor_asks_for_a_human(widget)
    inbox, snapshot = await open_inbox(ana, org)
    assert [s["status"] for s in snapshot["sessions"]] == ["queued"]
    assert snapshot["sessions"][0]["contact"]["name"]
    await inbox.disconnect()
    await visitor.disconnect()


async def test_another_orgs_teammate_sees_nothing_and_can_do_nothing(widget, ana, org):
    stranger_org = await database_sync_to_async(OrganizationFactory)()
    stranger = await database_sync_to_async(member)(stranger_org, Role.OWNER)
    stranger_inbox, snapshot = await open_inbox(stranger, stranger_org)
    visitor = await visitor_asks_for_a_human(widget)
    session = await database_sync_to_async(HandoffSession.objects.get)()

    for action in ("accept", "transcript", "resolve", "reply"):
        await stranger_inbox.send_json_to({"type": action, "session_id": session.pk, "text": "hi", "request_id": action})
        answer = await receive_until(stranger_inbox, lambda f: f.get("request_id") == action)
        assert answer["type"] == "error" and answer["code"] == "not_found"
    assert await stranger_inbox.receive_nothing(timeout=0.3)  # no event of org A reached org B
    for socket in (stranger_inbox, visitor):
        await socket.disconnect()


async def test_a_viewer_sees_the_queue_but_cannot_accept(widget, org):
    viewer = await database_sync_to_async(member)(org, Role.VIEWER)
    inbox, snapshot = await open_inbox(viewer, org)
    assert snapshot["me"]["can_handle"] is False
    visitor = await visitor_asks_for_a_human(widget)
    queued = await receive_until(inbox, lambda f: f["type"] == "handoff.queued")
    await inbox.send_json_to({"type": "accept", "session_id": queued["session"]["id"], "request_id": "v"})
    refusal = await receive_until(inbox, lambda f: f.get("request_id") == "v")
    assert refusal["code"] == "permission_denied"
    for socket in (inbox, visitor):
        await socket.disconnect()


@pytest.mark.parametrize("frame, code", [
    ({"type": "accept"}, "invalid_input"),
    ({"type": "accept", "session_id": "seven"}, "invalid_input"),
    ({"type": "reply", "session_id": 1, "text": ""}, "invalid_input"),
    ({"type": "accept", "session_id": 999999}, "not_found"),
    ({"type": "launch"}, "unknown_type"),
])
async def test_bad_requests_get_clear_errors(ana, org, frame, code):
    inbox, _ = await open_inbox(ana, org)
    await inbox.send_json_to({**frame, "request_id": "q"})
    answer = await inbox.receive_json_from()
    assert answer["type"] == "error" and answer["code"] == code and answer["request_id"] == "q"
    await inbox.disconnect()


@pytest.mark.parametrize("frame", [{"type": ["accept"]}, {"type": None}, ["accept"], "accept"])
async def test_a_malformed_frame_is_answered_and_the_socket_stays_open(ana, org, frame):
    inbox, _ = await open_inbox(ana, org)
    await inbox.send_json_to(frame)
    assert (await inbox.receive_json_from())["code"] == "invalid_input"
    await inbox.send_to(bytes_data=b"\x00\x01")
    assert (await inbox.receive_json_from())["code"] == "invalid_input"
    await inbox.send_json_to({"type": "ping", "request_id": "still-here"})
    pong = await inbox.receive_json_from()
    assert (pong["type"], pong["request_id"]) == ("pong", "still-here")
    await inbox.disconnect()


async def test_a_removed_member_loses_the_live_feed_at_once(ana, org):
    from orgs.services import membership_remove

    inbox, _ = await open_inbox(ana, org)
    await database_sync_to_async(membership_remove)(organization=org, user=ana)
    closed = await inbox.receive_output(timeout=5)
    assert closed == {"type": "websocket.close", "code": 4404}


async def test_the_live_feed_keeps_flowing_while_the_database_thread_is_busy(ana, org):
    """The sockets' database calls share one thread; an event on its way to an open inbox
    does not wait for it (one tab's slow query froze every tab's feed)."""
    inbox, _ = await open_inbox(ana, org)
    slow_query = asyncio.ensure_future(database_sync_to_async(time.sleep)(3))
    await asyncio.sleep(0.1)
    await asyncio.to_thread(send_inbox_event, org.pk, {"type": "presence.changed", "teammate": {"id": 0}})
    frame = await inbox.receive_json_from(timeout=1)
    assert frame["type"] == "presence.changed" and not slow_query.done()
    await slow_query
    await inbox.disconnect()
