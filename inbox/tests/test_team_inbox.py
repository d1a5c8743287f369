"""What a support team does beside accept/reply/resolve: presence, notes, transfer, typing,
retrying a failed delivery, history. Real sockets, real Redis, real PostgreSQL."""

from datetime import timedelta

import pytest
from channels.db import database_sync_to_async
from django.utils import timezone

from conversations.ai.transcript import recent_turns
from conversations.models import Conversation, HandoffSession, Message
from inbox.models import CannedReply, InboxTab
from inbox.services import stale_tabs_sweep
from orgs.roles import Role
from orgs.tests.factories import member
from tests.sockets import open_inbox, receive_until, visitor_asks_for_a_human

pytestmark = pytest.mark.django_db(transaction=True)


async def request(inbox, frame: dict, request_id: str) -> dict:
    await inbox.send_json_to({**frame, "request_id": request_id})
    return await receive_until(inbox, lambda f: f.get("request_id") == request_id)


async def accepted_by(inbox, visitor, session_id: int) -> None:
    assert (await request(inbox, {"type": "accept", "session_id": session_id}, "accept"))["type"] == "result"
    await receive_until(visitor, lambda f: f["type"] == "message" and "joined" in f["message"]["text"])


def presence_of(user_id):
    return lambda f: f["type"] == "presence.changed" and f["teammate"]["id"] == user_id


async def test_teammates_see_who_is_online_away_and_gone(org, ana, ben):
    ben_inbox, snapshot = await open_inbox(ben, org)
    assert {t["name"]: t["presence"] for t in snapshot["teammates"]} == {"Ana Silva": "offline",
                                                                        "Ben Okafor": "online"}
    ana_inbox, _ = await open_inbox(ana, org)
    assert (await receive_until(ben_inbox, presence_of(ana.pk)))["teammate"]["presence"] == "online"

    await ana_inbox.send_json_to({"type": "presence", "state": "idle"})
    assert (await receive_until(ben_inbox, presence_of(ana.pk)))["teammate"]["presence"] == "away"
    await ana_inbox.send_json_to({"type": "presence", "state": "active"})
    assert (await receive_until(ben_inbox, presence_of(ana.pk)))["teammate"]["presence"] == "online"

    await ana_inbox.disconnect()
    assert (await receive_until(ben_inbox, presence_of(ana.pk)))["teammate"]["presence"] == "offline"
    await ben_inbox.disconnect()


async def test_a_tab_whose_process_died_goes_offline_at_the_next_sweep(org, ana, ben):
    ben_inbox, _ = await open_inbox(ben, org)
    # Ana's tab was served by a web process that died: its row stays, its pings stop.
    await database_sync_to_async(InboxTab.objects.create)(
        user=ana, organization=org, channel_name="specific.dead-process!x",
        last_seen_at=timezone.now() - timedelta(minutes=5),
    )
    assert await database_sync_to_async(stale_tabs_sweep)() == 1
    assert (await receive_until(ben_inbox, presence_of(ana.pk)))["teammate"]["presence"] == "offline"
    await ben_inbox.disconnect()


async def test_the_process_heartbeat_keeps_tabs_online_and_brings_a_stale_one_back(org, ana, ben, settings):
    settings.INBOX_TAB_HEARTBEAT_SECONDS = 0.1
    ben_inbox, _ = await open_inbox(ben, org)
    ana_inbox, _ = await open_inbox(ana, org)
    assert (await receive_until(ben_inbox, presence_of(ana.pk)))["teammate"]["presence"] == "online"
    # The process's heartbeats keep both tabs fresh and tell nobody anything.
    assert await ben_inbox.receive_nothing(timeout=0.5)

    # The process could not reach the database for minutes: to the others Ana looked offline.
    stale = timezone.now() - timedelta(minutes=5)
    await database_sync_to_async(InboxTab.objects.filter(user=ana).update)(last_seen_at=stale)
    assert (await receive_until(ben_inbox, presence_of(ana.pk)))["teammate"]["presence"] == "online"
    tab = await database_sync_to_async(InboxTab.objects.get)(user=ana)
    assert tab.last_seen_at > timezone.now() - timedelta(seconds=30)

    pong = await request(ana_inbox, {"type": "ping"}, "still-here")
    assert pong["type"] == "pong" and pong["seq"] >= 1
    await ana_inbox.disconnect()
    await ben_inbox.disconnect()


async def test_an_internal_note_stays_in_the_inbox(widget, org, ana, ben):
    visitor = await visitor_asks_for_a_human(widget)
    ana_inbox, _ = await open_inbox(ana, org)
    ben_inbox, _ = await open_inbox(ben, org)
    session = await database_sync_to_async(HandoffSession.objects.get)()
    await accepted_by(ana_inbox, visitor, session.pk)

    result = await request(ana_inbox, {"type": "note", "session_id": session.pk,
                                       "text": "VIP customer, refund approved"}, "n")
    assert result["message"]["author_kind"] == "note" and result["message"]["author_name"] == "Ana Silva"
    shared = await receive_until(ben_inbox, lambda f: f["type"] == "message.created"
                                 and f["message"]["author_kind"] == "note")
    assert shared["message"]["text"] == "VIP customer, refund approved"
    transcript = await request(ben_inbox, {"type": "transcript", "session_id": session.pk}, "t")
    assert "VIP customer, refund approved" in [m["text"] for m in transcript["messages"]]

    assert await visitor.receive_nothing(timeout=0.5)  # the customer never sees it
    conversation = await database_sync_to_async(Conversation.objects.get)()
    turns = await database_sync_to_async(recent_turns)(conversation)
    assert all("VIP" not in turn.text for turn in turns)  # nor does the AI
    for socket in (visitor, ana_inbox, ben_inbox):
        await socket.disconnect()


async def test_transfer_to_an_online_teammate(widget, org, ana, ben):
    visitor = await visitor_asks_for_a_human(widget)
    ana_inbox, _ = await open_inbox(ana, org)
    session = await database_sync_to_async(HandoffSession.objects.get)()
    await accepted_by(ana_inbox, visitor, session.pk)

    offline = await request(ana_inbox, {"type": "transfer", "session_id": session.pk, "to_user_id": ben.pk}, "x1")
    assert offline["type"] == "error" and offline["code"] == "not_online"

    ben_inbox, _ = await open_inbox(ben, org)
    not_holder = await request(ben_inbox, {"type": "transfer", "session_id": session.pk, "to_user_id": ana.pk}, "x2")
    assert not_holder["code"] == "not_assignee"

    moved = await request(ana_inbox, {"type": "transfer", "session_id": session.pk, "to_user_id": ben.pk}, "x3")
    assert moved["session"]["assigned_to"]["name"] == "Ben Okafor"
    event = await receive_until(ben_inbox, lambda f: f["type"] == "handoff.transferred")
    assert event["session"]["assigned_to"]["id"] == ben.pk
    told = await receive_until(visitor, lambda f: f["type"] == "message")
    assert told["message"]["text"] == "Ben from our team has joined the conversation."
    reply = await request(ben_inbox, {"type": "reply", "session_id": session.pk, "text": "Ben here."}, "r")
    assert reply["type"] == "result"
    for socket in (visitor, ana_inbox, ben_inbox):
        await socket.disconnect()


async def test_typing_shows_on_both_sides(widget, org, ana):
    visitor = await visitor_asks_for_a_human(widget)
    inbox, _ = await open_inbox(ana, org)
    session = await database_sync_to_async(HandoffSession.objects.get)()
    await accepted_by(inbox, visitor, session.pk)

    await inbox.send_json_to({"type": "typing", "session_id": session.pk})
    shown = await receive_until(visitor, lambda f: f["type"] == "typing")
    assert shown == {"type": "typing", "author_name": "Ana"}

    await visitor.send_json_to({"type": "typing"})
    typing = await receive_until(inbox, lambda f: f["type"] == "typing")
    assert typing["session_id"] == session.pk and typing["author_kind"] == "user"
    for socket in (visitor, inbox):
        await socket.disconnect()


def visitor_typing(frame: dict) -> bool:
    return frame["type"] == "typing" and frame["author_kind"] == "user"


async def test_the_next_messages_first_keystroke_shows_as_typing_however_soon(widget, org, ana):
    visitor = await visitor_asks_for_a_human(widget)
    inbox, _ = await open_inbox(ana, org)
    session = await database_sync_to_async(HandoffSession.objects.get)()
    await accepted_by(inbox, visitor, session.pk)

    await visitor.send_json_to({"type": "typing"})
    await receive_until(inbox, visitor_typing)
    await visitor.send_json_to({"type": "typing"})  # still typing: the server takes one per 2 s
    await visitor.send_json_to({"type": "message", "text": "My parcel", "client_id": "p1"})
    await receive_until(visitor, lambda f: f["type"] == "ack")
    # The visitor starts the next message at once: its first keystroke shows.
    await visitor.send_json_to({"type": "typing"})
    seen = []

    def collected_until_typing(frame: dict) -> bool:
        seen.append(frame)
        return visitor_typing(frame)

    await receive_until(inbox, collected_until_typing)
    assert [f["message"]["text"] for f in seen if f["type"] == "message.created"] == ["My parcel"]
    for socket in (visitor, inbox):
        await socket.disconnect()


async def test_a_failed_delivery_can_be_sent_again(widget, org, ana):
    visitor = await visitor_asks_for_a_human(widget)
    inbox, _ = await open_inbox(ana, org)
    session = await database_sync_to_async(HandoffSession.objects.get)()
    await accepted_by(inbox, visitor, session.pk)
    sent = await request(inbox, {"type": "reply", "session_id": session.pk, "text": "Are you there?"}, "r")
    await receive_until(visitor, lambda f: f["type"] == "message" and f["message"]["text"] == "Are you there?")
    await database_sync_to_async(Message.objects.filter(pk=sent["message"]["id"]).update)(
        delivery_status="failed", delivery_error="Telegram: Forbidden: bot was blocked by the user")

    retried = await request(inbox, {"type": "retry_delivery", "message_id": sent["message"]["id"]}, "again")
    assert retried["message"]["delivery_status"] == "pending"
    again = await receive_until(inbox, lambda f: f["type"] == "message.updated"
                                and f["message"]["delivery_status"] == "sent")
    assert again["message"]["delivery_error"] == ""
    twice = await request(inbox, {"type": "retry_delivery", "message_id": sent["message"]["id"]}, "twice")
    assert twice["code"] == "not_failed"
    for socket in (visitor, inbox):
        await socket.disconnect()


async def test_history_finds_closed_sessions_by_contact_or_words(widget, org, ana):
    visitor = await visitor_asks_for_a_human(widget)
    await visitor.send_json_to({"type": "message", "text": "my blue teapot arrived broken", "client_id": "t"})
    await receive_until(visitor, lambda f: f["type"] == "ack")
    inbox, snapshot = await open_inbox(ana, org)
    assert snapshot["agents"] == [{"id": widget.agent_id, "name": widget.agent.name}]
    assert snapshot["channels"] == [{"value": "widget", "label": "Web widget"}]
    session = await database_sync_to_async(HandoffSession.objects.get)()
    await accepted_by(inbox, visitor, session.pk)
    await request(inbox, {"type": "resolve", "session_id": session.pk}, "z")

    found = await request(inbox, {"type": "history", "query": "TEAPOT"}, "h1")
    assert [s["id"] for s in found["sessions"]] == [session.pk] and found["next_before"] is None
    assert (await request(inbox, {"type": "history", "query": "kettle"}, "h2"))["sessions"] == []
    assert (await request(inbox, {"type": "history", "status": "expired"}, "h3"))["sessions"] == []
    bad = await request(inbox, {"type": "history", "status": "open"}, "h4")
    assert bad["code"] == "invalid_input"
    for socket in (visitor, inbox):
        await socket.disconnect()


async def test_the_snapshot_carries_the_orgs_canned_replies(org, ana):
    await database_sync_to_async(CannedReply.objects.create)(organization=org, title="Greeting", text="Hi there!")
    viewer = await database_sync_to_async(member)(org, Role.VIEWER, first_name="Vera", last_name="Viewer")
    inbox, snapshot = await open_inbox(viewer, org)
    assert snapshot["canned_replies"] == [{"id": snapshot["canned_replies"][0]["id"], "title": "Greeting",
                                           "text": "Hi there!"}]
    assert {t["name"]: t["can_handle"] for t in snapshot["teammates"]} == {"Ana Silva": True, "Vera Viewer": False}
    await inbox.disconnect()
