"""Websocket clients for tests: Channels' communicator on the real ASGI application, and a
real client (`websockets`) on a real web process."""

import contextlib
import json
import time

from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.test import Client
from websockets.sync.client import connect

from handoff_site.asgi import application


def logged_in_cookie(user, organization=None) -> str:
    """A real session cookie, as the browser would send it."""
    client = Client()
    client.force_login(user)
    if organization is not None:
        session = client.session
        session["organization_id"] = organization.pk
        session.save()
    return f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"


def inbox_socket(cookie: str | None = None, origin: str = "http://localhost") -> WebsocketCommunicator:
    headers = [(b"origin", origin.encode()), (b"host", b"localhost")]
    if cookie:
        headers.append((b"cookie", cookie.encode()))
    return WebsocketCommunicator(application, "/ws/inbox/", headers=headers)


def widget_socket(key: str, token: str | None = None, origin: str = "https://shop.example") -> WebsocketCommunicator:
    path = f"/ws/widget/{key}/" + (f"?token={token}" if token else "")
    return WebsocketCommunicator(application, path, headers=[(b"origin", origin.encode())])


async def receive_until(communicator: WebsocketCommunicator, predicate, timeout: float = 5) -> dict:
    """The next frame matching `predicate`, skipping others (events arrive in any order)."""
    import asyncio

    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        remaining = deadline - asyncio.get_running_loop().time()
        if remaining <= 0:
            raise AssertionError("no matching frame arrived in time")
        frame = await communicator.receive_json_from(timeout=remaining)
        if predicate(frame):
            return frame


async def open_inbox(user, org=None):
    cookie = await database_sync_to_async(logged_in_cookie)(user, org)
    socket = inbox_socket(cookie)
    connected, _ = await socket.connect()
    assert connected
    snapshot = await socket.receive_json_from()
    assert snapshot["type"] == "snapshot"
    # Opening a tab makes its teammate online, for every inbox of the org, this one included.
    await receive_until(socket, lambda frame: frame["type"] == "presence.changed"
                        and frame["teammate"]["id"] == user.pk)
    return socket, snapshot


async def visitor_asks_for_a_human(widget):
    visitor = widget_socket(widget.key)
    await visitor.connect()
    await visitor.receive_json_from()
    await visitor.send_json_to({"type": "message", "text": "can I talk to a human please?", "client_id": "h1"})
    notice = await receive_until(visitor, lambda f: f["type"] == "message" and f["message"]["author_kind"] == "system")
    assert notice["message"]["text"] == widget.agent.queued_message
    return visitor


class Tab:
    """One browser tab's inbox websocket on a real web process."""

    def __init__(self, socket):
        self.socket = socket
        self.snapshot = self.next(lambda frame: frame["type"] == "snapshot")

    def next(self, matches, timeout: float = 10) -> dict:
        deadline = time.monotonic() + timeout
        while (remaining := deadline - time.monotonic()) > 0:
            frame = json.loads(self.socket.recv(timeout=remaining))
            if matches(frame):
                return frame
        raise AssertionError("no matching frame arrived in time")

    def send(self, frame: dict) -> None:
        self.socket.send(json.dumps(frame))


@contextlib.contextmanager
def live_inbox_tab(web_url: str, cookie: str):
    with connect(web_url.replace("http://", "ws://") + "/ws/inbox/", origin=web_url, proxy=None,
                 additional_headers={"Cookie": cookie}) as socket:
        yield Tab(socket)
