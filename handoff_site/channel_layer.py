"""The product's channel layer: channels-redis's pub/sub layer, made to notice a lost Redis.

Why pub/sub rather than channels-redis's default `RedisChannelLayer`: the default layer hands
a web process its messages one Redis pop at a time (three round trips each, on the event loop
that also serves every socket, waiting for the GIL behind the request threads), so under load
the process falls behind its own sockets while its requests are answered. The pub/sub layer
subscribes once per group and process, and Redis pushes each message as it is published.
bench/perf on the 2-core machine: 60 s at 50 webhooks/s, webhook → inbox p99 88 ms (worst
325 ms) with the core layer, 37 ms (worst 89 ms) with this one; the bare relay sustains
182 messages/s on the core layer, 445 on pub/sub; one event to 2,000 sockets 4.3 s, 3.7 s.

What it lacked: when its Redis connection breaks (Redis restarted, a network cut), the
stock layer logs the error and keeps a subscription that no longer exists, so every socket
stays open and hears nothing again. Here the shard drops its subscriptions and tells every
socket of the process, with a `subscriptions.lost` message; the consumers close (see
`json_socket.py`), the tabs reconnect, subscribe afresh and reload their state from the
database, as they do when the default layer's receive fails.

What it adds: `group_send_counted`, a group message that carries its position in a stream
(handoff_site/realtime.py), counted and published by one Redis script. Counting first and
publishing after took two round trips in sequence on the event loop, for every inbox event.
"""

import asyncio
import contextlib
import hashlib
import logging

from channels_redis.pubsub import RedisPubSubChannelLayer, RedisPubSubLoopLayer, RedisSingleShardConnection
from channels_redis.utils import _wrap_close, decode_hosts
from redis.exceptions import NoScriptError, RedisError

logger = logging.getLogger(__name__)

SUBSCRIPTIONS_LOST = "subscriptions.lost"
# Between two attempts of a receive loop whose Redis is away: it must not spin.
RETRY_PAUSE = 0.5


# A counted message on the wire: this byte, "<epoch> <seq>\n", then the serialized message.
# No serialized message starts with it (msgpack never uses 0xc1; JSON and encrypted tokens are
# ASCII), so no plain message is taken for a counted one.
_COUNTED = b"\xc1"

# KEYS[1]: the stream's counter, a hash. ARGV: an epoch for a counter that has none yet, the
# step, the group's Redis channel, the serialized message. The epoch is set once (HSETNX); a
# Redis that restarts without its data starts a new one.
_COUNT_AND_PUBLISH = """
redis.call('HSETNX', KEYS[1], 'epoch', ARGV[1])
local seq = redis.call('HINCRBY', KEYS[1], 'seq', ARGV[2])
local epoch = redis.call('HGET', KEYS[1], 'epoch')
if ARGV[3] ~= '' then
    redis.call('PUBLISH', ARGV[3], '\\193' .. epoch .. ' ' .. seq .. '\\n' .. ARGV[4])
end
return {epoch, seq}
"""
_COUNT_AND_PUBLISH_SHA = hashlib.sha1(_COUNT_AND_PUBLISH.encode()).hexdigest()


async def count_in_stream(client, counter: str, *, new_epoch: str, step: int, publish_to: str = "",
                          payload: bytes = b"") -> dict:
    """The stream's position `step` on from its last in `counter`, a hash (0 reads it), and with
    `publish_to`, `payload` published there as a counted message, in the same script: one
    round trip, and messages are published in the order of their positions."""
    arguments = (1, counter, new_epoch, step, publish_to, payload)
    try:
        epoch, seq = await client.evalsha(_COUNT_AND_PUBLISH_SHA, *arguments)
    except NoScriptError:  # a Redis that has not seen it yet (or restarted): EVAL caches it
        epoch, seq = await client.eval(_COUNT_AND_PUBLISH, *arguments)
    return {"epoch": epoch.decode(), "seq": int(seq)}


def shard_client(layer: RedisPubSubChannelLayer, name: str):
    """The pub/sub layer's Redis client for this event loop and the shard of `name` (a key or a
    channel; its connection pool, the subscription has a connection of its own). channels-redis
    has no public way to it; the version is pinned in requirements.txt."""
    shard = layer._get_layer()._get_shard(name)
    shard._ensure_redis()
    return shard._redis


class ReconnectingPubSubChannelLayer(RedisPubSubChannelLayer):
    async def group_send_counted(self, group: str, message: dict, *, counter: str, new_epoch: str,
                                 step: int) -> dict:
        """Send `message` to `group` with its `position` in the stream counted in `counter` (on
        the group's Redis, so every process counts together); step 0 sends nothing and reads the
        position. Returns the position."""
        group_channel = self._get_layer()._get_group_channel_name(group)
        client = shard_client(self, group_channel)
        if not step:
            return await count_in_stream(client, counter, new_epoch=new_epoch, step=0)
        return await count_in_stream(client, counter, new_epoch=new_epoch, step=step,
                                     publish_to=group_channel, payload=self.serialize(message))

    def receive_ready(self, channel: str) -> list[dict]:
        """The messages already waiting in `channel`, without waiting for more. Channels' consumer
        loop takes one message per turn of the event loop (a new task and a wait each); under
        load a turn takes milliseconds, and a busy socket fell seconds behind its channel."""
        queue = self._get_layer().channels.get(channel)
        ready = []
        while queue is not None and not queue.empty():
            ready.append(self.deserialize(queue.get_nowait()))
        return ready

    def deserialize(self, message: bytes) -> dict:
        if message[:1] != _COUNTED:
            return super().deserialize(message)
        header, _, body = message[1:].partition(b"\n")
        epoch, _, seq = header.partition(b" ")
        return {**super().deserialize(body), "position": {"epoch": epoch.decode(), "seq": int(seq)}}

    def _get_layer(self):
        loop = asyncio.get_running_loop()
        try:
            return self._layers[loop]
        except KeyError:
            layer = _LoopLayer(*self._args, **self._kwargs, channel_layer=self)
            self._layers[loop] = layer
            _wrap_close(self, loop)
            return layer


class _LoopLayer(RedisPubSubLoopLayer):
    def __init__(self, hosts=None, **kwargs):
        super().__init__(hosts, **kwargs)
        self._shards = [_ReconnectingShard(host, self) for host in decode_hosts(hosts)]

    def tell_every_channel(self, message: dict) -> None:
        data = self.channel_layer.serialize(message)
        for queue in self.channels.values():
            queue.put_nowait(data)


class _ReconnectingShard(RedisSingleShardConnection):
    async def _do_receiving(self):
        while True:
            try:
                if self._pubsub and self._pubsub.subscribed:
                    message = await self._pubsub.get_message(ignore_subscribe_messages=True, timeout=0.1)
                    self._receive_message(message)
                else:
                    await asyncio.sleep(0.1)
            except (RedisError, OSError):
                logger.warning("The channel layer lost its Redis subscriptions; every socket reconnects",
                               exc_info=True)
                await self._lose_subscriptions()
                self.channel_layer.tell_every_channel({"type": SUBSCRIPTIONS_LOST})
                await asyncio.sleep(RETRY_PAUSE)

    async def _lose_subscriptions(self) -> None:
        async with self._lock:
            broken, self._subscribed_to = self._pubsub, set()
            # A new PubSub: the broken one would replay its SUBSCRIBEs on reconnecting, for
            # sockets that are closing.
            self._pubsub = self._redis.pubsub() if self._redis is not None else None
        if broken is not None:
            with contextlib.suppress(Exception):
                await broken.aclose()
