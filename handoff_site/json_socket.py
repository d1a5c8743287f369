"""A JSON websocket that answers bad frames with an error frame instead of dying."""

from channels.generic.websocket import AsyncJsonWebsocketConsumer

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
