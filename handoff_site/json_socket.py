"""A JSON websocket that answers bad frames with an error frame instead of dying, closes
when the channel layer lost its subscriptions (its client reconnects and reloads), and
hands a message to its handler without a thread hop."""

from channels.consumer import get_handler_name
from channels.generic.websocket import AsyncJsonWebsocketConsumer

# The browser scripts reconnect on any code but their own 44xx ones. 4012 echoes 1012
# ("Service Restart"), which daphne refuses from an application (1000 or 3000-4999 only): it
# raised inside the consumer, and the socket closed with 1011 and an error in the log.
CLOSE_RECONNECT = 4012
INVALID_INPUT = {"type": "error", "code": "invalid_input", "message": "Send a JSON object with a string \"type\"."}


class DirectDispatch:
    """Channels' own dispatch first runs `close_old_connections` in the process's one sync
    thread, for every message: one event to 2,000 open inboxes queued 2,000 hand-overs to
    that thread behind whatever query it was running. Consumers with this mixin reach the
    database only through `database_sync_to_async`, which closes outdated connections before
    and after each call, in the thread that holds them."""

    async def dispatch(self, message):
        await self._handle(message)
        # What else the channel layer holds for this socket is handled now, in order, not one
        # message per turn of the event loop (ReconnectingPubSubChannelLayer.receive_ready).
        # Only after a message of the layer: one it has already handed to Channels' loop may
        # wait behind a frame from the browser, and must not be overtaken.
        receive_ready = getattr(self.channel_layer, "receive_ready", None)
        if receive_ready is not None and not message["type"].startswith("websocket."):
            for waiting in receive_ready(self.channel_name):
                await self._handle(waiting)

    async def _handle(self, message):
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)


class JsonSocketConsumer(DirectDispatch, AsyncJsonWebsocketConsumer):
    async def receive(self, text_data=None, bytes_data=None, **kwargs):
        if not text_data:  # binary or empty frames
            await self.send_json(INVALID_INPUT)
            return
        content = await self.decode_json(text_data)
        if not isinstance(content, dict) or not isinstance(content.get("type"), str):
            await self.send_json(INVALID_INPUT)
            return
        await self.receive_json(content, **kwargs)

    @classmethod
    async def decode_json(cls, text_data):
        try:
            return await super().decode_json(text_data)
        except (ValueError, RecursionError):  # RecursionError: nested deeper than json.loads follows
            return None

    async def subscriptions_lost(self, message):
        """From handoff_site.channel_layer: whatever was published since is not coming; a new
        socket subscribes again and starts from the database."""
        await self.close(code=CLOSE_RECONNECT)
