"""The product's channel layer (pub/sub) on a private Redis that is stopped and started again:
open sockets are told and close, so the tabs reconnect instead of staying open and deaf."""

import asyncio
import uuid

import pytest
import redis
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator
from django.conf import settings

from handoff_site.channel_layer import SUBSCRIPTIONS_LOST, ReconnectingPubSubChannelLayer
from handoff_site.json_socket import CLOSE_RECONNECT, JsonSocketConsumer
from tests.sockets import open_inbox

PRODUCT_LAYER = "handoff_site.channel_layer.ReconnectingPubSubChannelLayer"


def hosts_on(redis_url: str) -> list[dict]:
    """The product's Redis settings (time-outs, retries), on another server."""
    return [{**host, "address": redis_url} for host in settings.CHANNEL_LAYERS["default"]["CONFIG"]["hosts"]]


def layer_on(redis_url: str) -> ReconnectingPubSubChannelLayer:
    return ReconnectingPubSubChannelLayer(hosts=hosts_on(redis_url), prefix="layer-test")


async def test_the_product_uses_this_layer():
    assert isinstance(get_channel_layer(), ReconnectingPubSubChannelLayer)


async def test_counted_messages_carry_their_position_and_go_out_in_its_order():
    layer = ReconnectingPubSubChannelLayer(hosts=settings.CHANNEL_LAYERS["default"]["CONFIG"]["hosts"],
                                           prefix=f"counted-{uuid.uuid4().hex[:8]}")
    listening = await layer.new_channel()
    await layer.group_add("inbox", listening)
    counter = f"{layer.prefix}:stream:inbox"
    sent = await asyncio.gather(*(layer.group_send_counted("inbox", {"type": "inbox.event", "n": n, "empty": {}},
                                                           counter=counter, new_epoch="e1", step=1)
                                  for n in range(20)))
    await layer.group_send("inbox", {"type": "inbox.event", "n": "plain"})
    received = [await asyncio.wait_for(layer.receive(listening), 2) for _ in range(21)]

    assert [message["position"] for message in received[:20]] == [{"epoch": "e1", "seq": seq} for seq in range(1, 21)]
    assert sorted(position["seq"] for position in sent) == list(range(1, 21))
    assert {message["position"]["seq"]: message["n"] for message in received[:20]} == {
        position["seq"]: n for n, position in enumerate(sent)}
    assert received[0]["empty"] == {} and received[20] == {"type": "inbox.event", "n": "plain"}
    # Step 0 reads where the stream is, and sends nothing.
    assert await layer.group_send_counted("inbox", {}, counter=counter, new_epoch="e2", step=0) == {
        "epoch": "e1", "seq": 20}
    with pytest.raises(asyncio.TimeoutError):
        await asyncio.wait_for(layer.receive(listening), 0.3)
    await layer.flush()
    redis.Redis.from_url(settings.REDIS_URL).delete(counter)


class Listener(JsonSocketConsumer):
    """A socket in group "burst" that forwards what it hears."""

    async def connect(self):
        await self.channel_layer.group_add("burst", self.channel_name)
        await self.accept()

    async def burst_event(self, message):
        await self.send_json({"n": message["n"], "seq": message["position"]["seq"]})


async def test_a_socket_behind_on_its_channel_gets_everything_waiting_in_order():
    layer = get_channel_layer()
    socket = WebsocketCommunicator(Listener.as_asgi(), "/burst/")
    assert (await socket.connect())[0]
    counter = f"{layer.prefix}:stream:burst-{uuid.uuid4().hex[:8]}"
    for n in range(200):  # published faster than the socket's loop takes turns
        await layer.group_send_counted("burst", {"type": "burst.event", "n": n}, counter=counter,
                                       new_epoch="e", step=1)
    frames = [await socket.receive_json_from(timeout=5) for _ in range(200)]
    assert frames == [{"n": n, "seq": n + 1} for n in range(200)]
    assert await socket.receive_nothing(timeout=0.2)
    await socket.disconnect()
    redis.Redis.from_url(settings.REDIS_URL).delete(counter)


async def test_receive_ready_takes_what_waits_and_does_not_wait():
    layer = get_channel_layer()
    channel = await layer.new_channel()
    assert layer.receive_ready(channel) == [] and layer.receive_ready("nobody-listens") == []
    for n in range(3):
        await layer.send(channel, {"type": "burst.event", "n": n})
    first = await asyncio.wait_for(layer.receive(channel), 2)
    await asyncio.sleep(0.2)  # the other two arrive
    assert [first["n"], *(message["n"] for message in layer.receive_ready(channel))] == [0, 1, 2]
    assert layer.receive_ready(channel) == []
    await layer.flush()


async def test_a_lost_redis_is_told_to_every_channel_and_a_new_subscription_hears_again(private_redis):
    layer = layer_on(private_redis.url)
    listening, idle = await layer.new_channel(), await layer.new_channel()
    await layer.group_add("inbox", listening)
    await layer.group_send("inbox", {"type": "inbox.event", "n": 1})
    assert (await asyncio.wait_for(layer.receive(listening), 2))["n"] == 1

    private_redis.stop()
    assert await asyncio.wait_for(layer.receive(listening), 5) == {"type": SUBSCRIPTIONS_LOST}
    assert await asyncio.wait_for(layer.receive(idle), 5) == {"type": SUBSCRIPTIONS_LOST}

    private_redis.start()
    reconnected = await layer.new_channel()
    await layer.group_add("inbox", reconnected)
    # The first publish after the restart goes out, though the pool's connection is stale.
    await layer.group_send("inbox", {"type": "inbox.event", "n": 2})
    assert (await asyncio.wait_for(layer.receive(reconnected), 2))["n"] == 2
    await layer.flush()


@pytest.mark.django_db(transaction=True)
async def test_an_open_inbox_closes_when_redis_goes_away_and_a_new_one_follows_the_stream_again(
        private_redis, settings, ana, organization):
    layer = settings.CHANNEL_LAYERS["default"]
    hosts = hosts_on(private_redis.url)
    settings.CHANNEL_LAYERS = {"default": {**layer, "BACKEND": PRODUCT_LAYER, "CONFIG": {
        **layer["CONFIG"], "hosts": hosts}}}
    inbox, _ = await open_inbox(ana, organization)

    private_redis.stop()
    closed = await inbox.receive_output(timeout=5)
    assert closed == {"type": "websocket.close", "code": CLOSE_RECONNECT}
    await inbox.disconnect()  # what daphne tells the consumer once the socket is closed

    private_redis.start()
    # The new tab is subscribed again: it hears its own teammate come online.
    again, snapshot = await open_inbox(ana, organization)
    assert snapshot["type"] == "snapshot"
    await again.disconnect()
