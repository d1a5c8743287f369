"""The bare Channels relay: the limit the product is measured against.

`POST /relay` hands its body to `group_send`; every websocket on `/ws/relay/` is in that
group and sends the body on as a text frame. No auth, no ORM (not even Channels' database
connection check before each message), no logic: the same daphne, Channels and
channels-redis as the product (CHANNEL_LAYER_BACKEND, REDIS_URL and CHANNEL_LAYER_PREFIX
read like handoff_site/settings.py), so whatever the product adds on top is what the ratio
shows. `GET /healthz` answers for the harness.

    daphne bench.perf.relay:application
"""

import os

import django
from django.conf import settings

settings.configure(
    INSTALLED_APPS=["channels"],
    CHANNEL_LAYERS={
        "default": {
            # relay_stack() sets the product's layer; the pub/sub one, handoff_site/channel_layer.py,
            # is the stock layer plus what happens when Redis is lost (nothing on the hot path).
            "BACKEND": os.environ.get("CHANNEL_LAYER_BACKEND", "handoff_site.channel_layer.ReconnectingPubSubChannelLayer"),
            "CONFIG": {
                # As the product's settings: with the core layer, redis-py's default 5 s read
                # timeout equals its 5 s blocking pop, and an idle consumer would time out.
                "hosts": [{"address": os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"),
                           "socket_timeout": 15, "socket_connect_timeout": 5}],
                "prefix": os.environ.get("CHANNEL_LAYER_PREFIX", "relay"),
                "capacity": int(os.environ.get("CHANNEL_LAYER_CAPACITY", "1000")),
                "expiry": 60,
            },
        }
    },
)
django.setup()

from channels.generic.websocket import AsyncWebsocketConsumer  # noqa: E402
from channels.layers import get_channel_layer  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.urls import path  # noqa: E402

from handoff_site import daphne_requests  # noqa: E402
from handoff_site.json_socket import DirectDispatch  # noqa: E402

# The product's daphne skips Twisted's form parsing: the relay must not pay for it either.
daphne_requests.install()

GROUP = "relay"


class RelayConsumer(DirectDispatch, AsyncWebsocketConsumer):
    """Without Channels' per-message database hop, as the product's consumers: no ORM."""

    async def connect(self):
        await self.channel_layer.group_add(GROUP, self.channel_name)
        await self.accept()

    async def disconnect(self, code):
        await self.channel_layer.group_discard(GROUP, self.channel_name)

    async def relay_message(self, message):
        await self.send(text_data=message["text"])


async def _respond(send, status: int, body: bytes) -> None:
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


async def relay_http(scope, receive, send):
    if scope["type"] != "http":
        return
    body = b""
    while True:
        event = await receive()
        body += event.get("body", b"")
        if not event.get("more_body"):
            break
    if scope["method"] == "POST" and scope["path"] == "/relay":
        await get_channel_layer().group_send(GROUP, {"type": "relay.message", "text": body.decode("utf-8")})
        await _respond(send, 200, b'{"ok": true}')
    elif scope["path"] == "/healthz":
        await _respond(send, 200, b'{"ok": true}')
    else:
        await _respond(send, 404, b'{"error": "not_found"}')


application = ProtocolTypeRouter({
    "http": relay_http,
    "websocket": URLRouter([path("ws/relay/", RelayConsumer.as_asgi())]),
})
