"""A JSON websocket that answers bad frames with an error frame instead of dying, and closes
when the channel layer lost its subscriptions (its client reconnects and reloads)."""

from channels.generic.websocket import AsyncJsonWebsocketConsumer

# "Service Restart": the browser scripts reconnect on any code but their own 44xx ones.
CLOSE_RECONNECT = 1012
INVALID_INPUT = {"type": "error", "code": "invalid_input", "message": "Send a JSON object with a string \"type\"."}


class JsonSocketConsumer(AsyncJsonWebsocketConsumer):
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
