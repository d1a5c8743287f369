"""The one way a service reaches open websockets: a group message after the commit.

A *stream* is a group whose listeners must not silently miss a message: an organization's
open inboxes. A channel layer may drop a group message (channels-redis drops it, with only
a log line, when a listener's channel is full), so every message sent to a stream carries
its position `{"epoch", "seq"}`: `seq` grows by one per message, assigned after the commit;
`epoch` names the counter and changes when the counter is lost with Redis' data. A listener
that sees a gap in `seq`, or another epoch, reloads its state from the database; a snapshot
carries the position read *before* its queries, so every message at or below it is already
in the snapshot.
"""

import asyncio
import concurrent.futures
import itertools
import logging
import os
import secrets
from collections.abc import Awaitable, Callable
from typing import TypeVar

from asgiref.sync import SyncToAsync, async_to_sync
from channels.layers import InMemoryChannelLayer, get_channel_layer
from channels_redis.core import RedisChannelLayer
from channels_redis.pubsub import RedisPubSubChannelLayer
from django.db import transaction

from handoff_site.channel_layer import ReconnectingPubSubChannelLayer, count_in_stream, shard_client

logger = logging.getLogger(__name__)

# Streams this process failed to publish to (Redis unreachable): the next message it does
# publish skips a number, so every listener sees a gap and reloads.
_gap_owed: set[str] = set()


async def publish(group: str, message: dict, *, stream: bool = False) -> None:
    """From the event loop (a webhook taken there, channels_gateway/loop_webhooks.py); from a
    thread, `send_to_group`."""
    try:
        await _send(group, message, stream)
    except Exception:
        # The write is committed; an open socket resynchronises from the database on reconnect.
        if stream:
            _gap_owed.add(group)
        logger.exception("Could not send %s to %s", message.get("type"), group)


def send_to_group(group: str, message: dict, *, stream: bool = False) -> None:
    try:
        await_from_thread(publish, group, message, stream=stream)
    except EventLoopStopped:
        logger.warning("Not sent, the process is stopping: %s to %s", message.get("type"), group)


def group_send_from_thread(group: str, message: dict) -> None:
    """For a sender that retries: a failure to reach the channel layer raises."""
    await_from_thread(_send, group, message, False)


class EventLoopStopped(RuntimeError):
    pass


Result = TypeVar("Result")
# How often a thread waiting on the event loop checks that the loop still runs.
LOOP_CHECK_SECONDS = 0.5


def await_from_thread(function: Callable[..., Awaitable[Result]], *args, **kwargs) -> Result:
    """Run `function` on the event loop that handed this thread its work (a consumer's or the
    loop webhook path's database call), or on a loop of its own where there is none (a worker,
    a management command). asgiref's async_to_sync waits for the loop without end: when
    daphne stops on SIGTERM, its loop stops with the call still queued, the thread never
    returns, and the process, which joins its threads at exit, never exits (a deploy had to
    kill it). Here the wait ends when the loop stops. `function` must not call back into
    sync_to_async: this thread is not lent to it while it waits."""
    loop = _loop_that_lent_this_thread()
    if loop is None or loop.is_closed():
        return async_to_sync(function)(*args, **kwargs)
    future = asyncio.run_coroutine_threadsafe(function(*args, **kwargs), loop)
    while True:
        try:
            return future.result(timeout=LOOP_CHECK_SECONDS)
        except concurrent.futures.TimeoutError:
            if not loop.is_running():
                future.cancel()
                raise EventLoopStopped(f"the event loop stopped before {function.__qualname__} ran") from None


def _loop_that_lent_this_thread() -> asyncio.AbstractEventLoop | None:
    # Where async_to_sync itself looks (asgiref's SyncToAsync sets it in each thread it runs).
    if getattr(SyncToAsync.threadlocal, "main_event_loop_pid", None) != os.getpid():
        return None
    return getattr(SyncToAsync.threadlocal, "main_event_loop", None)


def send_to_group_on_commit(group: str, message: dict, *, stream: bool = False) -> None:
    transaction.on_commit(lambda: send_to_group(group, message, stream=stream))


async def _send(group: str, message: dict, stream: bool) -> None:
    layer = get_channel_layer()
    if not stream:
        await layer.group_send(group, message)
        return
    await _positions(layer).send(group, message, step=2 if group in _gap_owed else 1)
    _gap_owed.discard(group)


async def stream_position(group: str) -> dict | None:
    """Where the stream is now; None when nobody can tell (Redis unreachable, or a layer
    without positions), and then the listener simply does not look for gaps."""
    try:
        return await _positions(get_channel_layer()).current(group)
    except Exception:
        logger.warning("Could not read the position of %s", group, exc_info=True)
        return None


def _positions(layer):
    if isinstance(layer, ReconnectingPubSubChannelLayer):
        return _CountedByLayer(layer)
    if isinstance(layer, RedisChannelLayer):
        return _RedisPositions(layer.prefix, lambda key: layer.connection(layer.consistent_hash(key)))
    if isinstance(layer, RedisPubSubChannelLayer):
        return _RedisPositions(layer.prefix, lambda key: shard_client(layer, key))
    if isinstance(layer, InMemoryChannelLayer):
        return _PROCESS_POSITIONS
    return _NO_POSITIONS


def _counter_key(prefix: str, group: str) -> str:
    """One hash per stream, on the layer's own Redis, so the web process and the workers count
    together."""
    return f"{prefix}:stream:{group}"


class _CountedByLayer:
    """The product's layer counts and publishes in one Redis script (channel_layer.py)."""

    def __init__(self, layer: ReconnectingPubSubChannelLayer):
        self.layer = layer

    async def _count(self, group: str, message: dict, step: int) -> dict:
        return await self.layer.group_send_counted(group, message, counter=_counter_key(self.layer.prefix, group),
                                                   new_epoch=secrets.token_hex(6), step=step)

    async def send(self, group: str, message: dict, *, step: int) -> None:
        await self._count(group, message, step)

    async def current(self, group: str) -> dict:
        return await self._count(group, {}, 0)


class _PositionThenSend:
    async def send(self, group: str, message: dict, *, step: int) -> None:
        position = await self.advance(group, step)
        if position is not None:
            message = {**message, "position": position}
        await get_channel_layer().group_send(group, message)


class _RedisPositions(_PositionThenSend):
    """Positions for the other Redis layers: counted, then sent."""

    def __init__(self, prefix: str, client_for):
        self.prefix, self.client_for = prefix, client_for

    async def _run(self, group: str, step: int) -> dict:
        key = _counter_key(self.prefix, group)
        return await count_in_stream(self.client_for(key), key, new_epoch=secrets.token_hex(6), step=step)

    async def advance(self, group: str, step: int) -> dict:
        return await self._run(group, step)

    async def current(self, group: str) -> dict:
        return await self._run(group, 0)


class _ProcessPositions(_PositionThenSend):
    """For the in-memory layer, which only ever serves one process."""

    def __init__(self):
        self.epoch = secrets.token_hex(6)
        self.counters: dict[str, itertools.count] = {}
        self.last: dict[str, int] = {}

    async def advance(self, group: str, step: int) -> dict:
        counter = self.counters.setdefault(group, itertools.count(1))
        for _ in range(step):
            self.last[group] = next(counter)
        return {"epoch": self.epoch, "seq": self.last[group]}

    async def current(self, group: str) -> dict:
        return {"epoch": self.epoch, "seq": self.last.get(group, 0)}


class _NoPositions(_PositionThenSend):
    async def advance(self, group: str, step: int) -> None:
        return None

    async def current(self, group: str) -> None:
        return None


_PROCESS_POSITIONS = _ProcessPositions()
_NO_POSITIONS = _NoPositions()
