"""The end user's side of the web widget: transport only.

The widget runs on the customer's site, so the origin is checked against the
connection's allowed origins instead of ALLOWED_HOSTS, and there is no staff session.
"""

import logging
import time
from urllib.parse import parse_qs, urlparse

from channels.db import database_sync_to_async

from channels_gateway.adapters.base import InboundMessage
from channels_gateway.adapters.widget import widget_group
from channels_gateway.models import ChannelConnection, Platform
from channels_gateway.selectors import active_connection, widget_conversation, widget_history
from channels_gateway.services import visitor_typing
from channels_gateway.visitor_tokens import new_visitor_token, visitor_from_token
from channels_gateway.widget_payloads import widget_message_payload
from conversations.services.messages import receive_inbound_message
from handoff_site.database_outage import read_database
from handoff_site.errors import DomainError
from handoff_site.json_socket import JsonSocketConsumer

logger = logging.getLogger(__name__)

CLOSE_NOT_FOUND = 4404
CLOSE_FORBIDDEN_ORIGIN = 4403
MAX_CLIENT_ID = 100
TYPING_EVERY_SECONDS = 2


def origin_allowed(connection: ChannelConnection, origin: str | None) -> bool:
    allowed = connection.config.get("allowed_origins") or ["*"]
    if "*" in allowed:
        return True
    if not origin:
        return False
    parsed = urlparse(origin)
    return f"{parsed.scheme}://{parsed.netloc}".lower() in {entry.rstrip("/").lower() for entry in allowed}


def _hello(connection: ChannelConnection, visitor_id: str) -> list[dict]:
    conversation = widget_conversation(connection=connection, visitor_id=visitor_id)
    return widget_history(conversation=conversation) if conversation else []


def _typing(connection: ChannelConnection, visitor_id: str) -> None:
    conversation = widget_conversation(connection=connection, visitor_id=visitor_id)
    if conversation is not None:
        visitor_typing(conversation=conversation)


def _receive(connection: ChannelConnection, visitor_id: str, text, client_id) -> dict:
    result = receive_inbound_message(
        connection=connection,
        inbound=InboundMessage(
            contact_external_id=visitor_id,
            thread_id=visitor_id,
            text=text if isinstance(text, str) else "",
            platform_message_id=str(client_id)[:MAX_CLIENT_ID] if client_id else None,
        ),
    )
    return widget_message_payload(result.message)


class WidgetConsumer(JsonSocketConsumer):
    group: str | None = None
    last_typing_at = float("-inf")

    async def connect(self):
        key = self.scope["url_route"]["kwargs"]["connection_key"]
        self.connection = await read_database(active_connection, key=key, platform=Platform.WIDGET)
        if self.connection is None:
            await self.close(code=CLOSE_NOT_FOUND)
            return
        headers = dict(self.scope.get("headers") or [])
        origin = headers.get(b"origin", b"").decode("latin-1") or None
        if not origin_allowed(self.connection, origin):
            await self.close(code=CLOSE_FORBIDDEN_ORIGIN)
            return
        query = parse_qs((self.scope.get("query_string") or b"").decode("latin-1"))
        token = (query.get("token") or [""])[0]
        self.visitor_id = visitor_from_token(token, key) if token else None
        if self.visitor_id is None:
            self.visitor_id, token = new_visitor_token(key)
        self.group = widget_group(self.connection.pk, self.visitor_id)
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()
        history = await read_database(_hello, self.connection, self.visitor_id)
        await self.send_json({
            "type": "hello",
            "token": token,
            "agent": {"name": self.connection.agent.name},
            "messages": history,
        })

    async def disconnect(self, code):
        if self.group:
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def receive_json(self, content, **kwargs):
        kind = content.get("type")
        if kind == "ping":
            await self.channel_layer.group_add(self.group, self.channel_name)  # renews its expiry
            await self.send_json({"type": "pong"})
            return
        if kind == "typing":
            now = time.monotonic()
            if now - self.last_typing_at >= TYPING_EVERY_SECONDS:  # a chatty client costs nothing
                self.last_typing_at = now
                await database_sync_to_async(_typing)(self.connection, self.visitor_id)
            return
        if kind != "message":
            await self.send_json({"type": "error", "code": "unknown_type", "message": f"Unknown type {kind!r}."})
            return
        client_id = content.get("client_id")
        try:
            message = await database_sync_to_async(_receive)(
                self.connection, self.visitor_id, content.get("text"), client_id
            )
        except DomainError as error:
            await self.send_json({"type": "error", "client_id": client_id, **error.as_dict()})
            return
        except Exception:
            logger.exception("Widget message could not be stored")
            await self.send_json({"type": "error", "client_id": client_id, "code": "server_error",
                                  "message": "Your message was not sent. Please try again."})
            return
        # As widget.js does: the next message's first keystroke shows as typing, however soon.
        self.last_typing_at = float("-inf")
        await self.send_json({"type": "ack", "client_id": client_id, "message": message})

    async def widget_frame(self, event):
        await self.send_json(event["frame"])
