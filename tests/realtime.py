"""Listening on the real channel layer, the way an open inbox or widget does."""

import asyncio
import queue
import threading

from channels import DEFAULT_CHANNEL_LAYER
from channels.layers import channel_layers


class GroupListener:
    """Joins a group on the real channel layer and collects what is published to it.

    The layer's receive buffers are bound to one event loop, so the listener keeps its
    own layer instance and its own loop on a thread for its whole life.
    """

    def __init__(self, group: str) -> None:
        self.group = group
        self.received: queue.Queue = queue.Queue()
        self._ready = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=lambda: asyncio.run(self._listen()), daemon=True)
        self._thread.start()
        if not self._ready.wait(5):
            raise RuntimeError("the channel layer did not answer")

    async def _listen(self) -> None:
        layer = channel_layers.make_backend(DEFAULT_CHANNEL_LAYER)
        channel = await layer.new_channel()
        await layer.group_add(self.group, channel)
        self._ready.set()
        # One receive at a time, never cancelled until the end: the pub/sub layer takes a
        # cancelled receive for its consumer leaving and forgets the channel.
        receiving = asyncio.ensure_future(layer.receive(channel))
        try:
            while not self._stop.is_set():
                done, _ = await asyncio.wait({receiving}, timeout=0.1)
                if done:
                    message = receiving.result()
                    self.received.put(message.get("event") or message.get("frame") or message)
                    receiving = asyncio.ensure_future(layer.receive(channel))
        finally:
            receiving.cancel()
            await layer.group_discard(self.group, channel)

    def events(self, timeout: float = 0.5) -> list[dict]:
        """Everything received so far, waiting until nothing new came for `timeout` seconds."""
        collected = []
        while True:
            try:
                collected.append(self.received.get(timeout=timeout))
            except queue.Empty:
                return collected

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
