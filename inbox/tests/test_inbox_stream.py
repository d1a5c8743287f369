"""The inbox stream: every inbox event carries its position, so a lost one shows as a gap.

A channel layer drops a group message when the listener's channel is full; the position
(`epoch`, `seq`) in every event, in the snapshot and in the pong is how an open inbox
notices and reloads (inbox.js; the browser test overloads the layer for real).
"""

import asyncio

import pytest
import redis
from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer
from django.conf import settings as django_settings

from conversations import events
from conversations.events import inbox_group
from handoff_site.realtime import stream_position
from tests.sockets import open_inbox, receive_until, visitor_asks_for_a_human

pytestmark = pytest.mark.django_db(transaction=True)


async def drain(socket, quiet: float = 0.7) -> list[dict]:
    """Every frame until none arrives for `quiet` seconds."""
    frames = []
    while not await socket.receive_nothing(timeout=quiet):
        frames.append(await socket.receive_json_from())
    return frames


def stream_key(organization) -> str:
    prefix = django_settings.CHANNEL_LAYERS["default"]["CONFIG"]["prefix"]
    return f"{prefix}:stream:{inbox_group(organization.pk)}"


def presence_event(user_id: int) -> dict:
    return {"type": "presence.changed", "teammate": {"id": user_id, "presence": "online"}}


CORE_LAYER = "channels_redis.core.RedisChannelLayer"
LAYERS = {"core": CORE_LAYER, "pubsub": "channels_redis.pubsub.RedisPubSubChannelLayer",
          "product": "handoff_site.channel_layer.ReconnectingPubSubChannelLayer"}


@pytest.fixture(params=sorted(LAYERS))
def either_redis_layer(request, settings):
    """Every Redis layer numbers the stream (CHANNEL_LAYER_BACKEND picks one)."""
    layer = settings.CHANNEL_LAYERS["default"]
    settings.CHANNEL_LAYERS = {"default": {**layer, "BACKEND": LAYERS[request.param]}}
    return request.param


async def test_inbox_events_follow_the_snapshot_one_by_one_and_the_pong_tells_where_the_stream_is(
        either_redis_layer, widget, ana, ben, org):
    ana_inbox, snapshot = await open_inbox(ana, org)
    assert isinstance(snapshot["epoch"], str) and isinstance(snapshot["seq"], int)

    ben_inbox, _ = await open_inbox(ben, org)
    visitor = await visitor_asks_for_a_human(widget)
    await visitor.send_json_to({"type": "typing"})
    frames = await drain(ana_inbox)

    sequenced = [frame for frame in frames if "seq" in frame]
    assert {"presence.changed", "handoff.queued", "message.created"} <= {frame["type"] for frame in sequenced}
    # Nothing was lost on the way: one after the other, starting right after the snapshot.
    assert [frame["seq"] for frame in sequenced] == list(range(snapshot["seq"] + 1, snapshot["seq"] + 1 + len(sequenced)))
    assert {frame["epoch"] for frame in sequenced} == {snapshot["epoch"]}
    # Typing is a passing signal, not part of the stream.
    assert all("seq" not in frame for frame in frames if frame["type"] == "typing")

    await ana_inbox.send_json_to({"type": "ping", "request_id": "p"})
    pong = await receive_until(ana_inbox, lambda frame: frame["type"] == "pong")
    assert (pong["epoch"], pong["seq"]) == (snapshot["epoch"], sequenced[-1]["seq"])

    # A snapshot asked for later starts where the stream is: every earlier event is in it.
    await ben_inbox.send_json_to({"type": "snapshot"})
    fresh = await receive_until(ben_inbox, lambda frame: frame["type"] == "snapshot")
    assert fresh["seq"] == sequenced[-1]["seq"]
    assert [session["status"] for session in fresh["sessions"]] == ["queued"]
    for socket in (ana_inbox, ben_inbox, visitor):
        await socket.disconnect()


async def test_a_full_channel_drops_events_and_the_position_shows_the_gap(org, settings):
    # The core layer's channels have a capacity (the pub/sub layer's have none).
    settings.CHANNEL_LAYERS = {"default": {**settings.CHANNEL_LAYERS["default"], "BACKEND": CORE_LAYER,
                                           "CONFIG": {**settings.CHANNEL_LAYERS["default"]["CONFIG"], "capacity": 2}}}
    layer = get_channel_layer()
    channel = await layer.new_channel()
    await layer.group_add(inbox_group(org.pk), channel)  # an inbox that is too busy to read
    before = (await stream_position(inbox_group(org.pk)))["seq"]

    for user_id in range(1, 7):
        await sync_to_async(events.send_inbox_event)(org.pk, presence_event(user_id))

    kept = [await layer.receive(channel), await layer.receive(channel)]
    with pytest.raises(asyncio.TimeoutError):
        await asyncio.wait_for(layer.receive(channel), 0.5)
    assert [message["position"]["seq"] for message in kept] == [before + 1, before + 2]
    # Four events were dropped silently by the layer; the stream's position says so.
    assert (await stream_position(inbox_group(org.pk)))["seq"] == before + 6
    await layer.group_discard(inbox_group(org.pk), channel)


async def test_an_event_that_could_not_be_published_leaves_a_gap_for_the_next_one(org, settings):
    group = inbox_group(org.pk)
    real = settings.CHANNEL_LAYERS["default"]
    await sync_to_async(events.send_inbox_event)(org.pk, presence_event(1))
    before = await stream_position(group)

    settings.CHANNEL_LAYERS = {"default": {**real, "CONFIG": {**real["CONFIG"], "hosts": ["redis://127.0.0.1:1/0"]}}}
    await sync_to_async(events.send_inbox_event)(org.pk, presence_event(2))  # Redis unreachable: logged

    settings.CHANNEL_LAYERS = {"default": real}
    layer = get_channel_layer()
    channel = await layer.new_channel()
    await layer.group_add(group, channel)
    await sync_to_async(events.send_inbox_event)(org.pk, presence_event(3))
    message = await asyncio.wait_for(layer.receive(channel), 5)
    # One number skipped: an inbox that got event 1 and this one knows it missed something.
    assert message["position"] == {"epoch": before["epoch"], "seq": before["seq"] + 2}
    await layer.group_discard(group, channel)


async def test_a_redis_that_lost_its_data_starts_a_new_epoch(ana, org):
    inbox, snapshot = await open_inbox(ana, org)
    await sync_to_async(redis.Redis.from_url(django_settings.REDIS_URL).delete)(stream_key(org))

    await sync_to_async(events.send_inbox_event)(org.pk, presence_event(ana.pk))
    event = await receive_until(inbox, lambda frame: frame["type"] == "presence.changed" and "seq" in frame)
    assert event["epoch"] != snapshot["epoch"] and event["seq"] == 1
    await inbox.send_json_to({"type": "ping"})
    pong = await receive_until(inbox, lambda frame: frame["type"] == "pong")
    assert (pong["epoch"], pong["seq"]) == (event["epoch"], 1)
    await inbox.disconnect()


async def test_the_in_memory_layer_numbers_inbox_events_too(widget, ana, org, settings):
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    inbox, snapshot = await open_inbox(ana, org)
    visitor = await visitor_asks_for_a_human(widget)
    queued = await receive_until(inbox, lambda frame: frame["type"] == "handoff.queued")
    assert queued["epoch"] == snapshot["epoch"] and queued["seq"] > snapshot["seq"]
    for socket in (inbox, visitor):
        await socket.disconnect()

