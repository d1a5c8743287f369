"""A fake Discord: the REST API, the Gateway websocket, and the signing side of interactions.

REST (`FakeDiscordAPI`, HTTP on 127.0.0.1) answers as Discord documents:
- `POST /channels/{id}/messages` with `Authorization: Bot <token>` → 200 and a message object;
  a wrong token → 401 `{"message": "401: Unauthorized", "code": 0}`; content over 2000
  characters, or a nonce over 25 → 400 `{"code": 50035, "message": "Invalid Form Body", …}`.
  With `enforce_nonce: true`, a nonce this bot already used in the channel returns the
  message it created then, and nothing new is posted (Discord keeps nonces a few minutes).
- `GET /gateway/bot` → `{"url": …, "shards": 1, "session_start_limit": …}`.
- Scripted failures in front: `rate_limit(retry_after)` (429 with `Retry-After` and the JSON
  body `{"message", "retry_after", "global"}`), `fail(status, code, message)` (403 50013
  Missing Permissions, 403 50007 Cannot send messages to this user, 404 10003 Unknown
  Channel, 5xx); `lose_reply(delay)` posts the message but answers only after `delay`
  seconds, as when the answer is lost to a client's time-out.

Gateway (`FakeGateway`, websockets on 127.0.0.1): HELLO, answers heartbeats with ACKs (unless
told not to), IDENTIFY with READY (session id + a `resume_gateway_url` on its own path),
RESUME with the missed dispatches then RESUMED (or INVALID_SESSION for an unknown session),
and lets a test dispatch events, send any opcode or close with any code.

`signed_headers(private_key_hex, body)` signs an interaction as Discord does.
"""

import asyncio
import itertools
import json
import re
import time
from collections import deque
from dataclasses import dataclass, field

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from websockets.asyncio.server import serve

from tests.fakes.http_server import FakeServer, RecordedRequest, Reply

_snowflakes = itertools.count(1_100_000_000_000_000_000)
BOT_USER = {"id": "1000000000000000001", "username": "handoff-bot", "discriminator": "0", "bot": True,
            "global_name": None, "avatar": None}
_CHANNEL_MESSAGES = re.compile(r"^/api/v10/channels/(\d+)/messages$")
_CHANNEL_TYPING = re.compile(r"^/api/v10/channels/(\d+)/typing$")


def snowflake() -> str:
    return str(next(_snowflakes))


def signed_headers(private_key_hex: str, body: bytes, *, timestamp: str | None = None) -> dict:
    """What Discord sends with an interaction: Ed25519 over timestamp + raw body."""
    timestamp = timestamp if timestamp is not None else str(int(time.time()))
    key = Ed25519PrivateKey.from_private_bytes(bytes.fromhex(private_key_hex))
    return {
        "X-Signature-Ed25519": key.sign(timestamp.encode() + body).hex(),
        "X-Signature-Timestamp": timestamp,
    }


def error_body(code: int, message: str) -> dict:
    return {"message": message, "code": code}


class FakeDiscordAPI(FakeServer):
    def __init__(self, *, bot_token: str, gateway_url: str = "wss://gateway.discord.gg") -> None:
        super().__init__()
        self.bot_token = bot_token
        self.gateway_url = gateway_url
        self.scripted: deque[Reply] = deque()
        self.application = {"id": BOT_USER["id"], "name": "Handoff test app", "bot_public": True,
                            "interactions_endpoint_url": None, "flags": 0}
        self.commands: list[dict] = []
        # Discord PINGs a new Interactions Endpoint URL at once; False plays a failed check.
        self.endpoint_reachable = True
        self.posted: list[dict] = []  # the messages created, in order (a repeated nonce adds none)
        self.typing_in: list[str] = []  # channels where Trigger Typing Indicator was called
        self._by_nonce: dict[tuple[str, str], dict] = {}

    def reset(self) -> "FakeDiscordAPI":
        """Forget the messages and nonces (a module-scoped fake, reused by each test)."""
        with self._lock:
            self.requests.clear()
            self.scripted.clear()
            self.posted.clear()
            self._by_nonce.clear()
        return self

    @property
    def base_url(self) -> str:
        """What DISCORD_API_BASE_URL points at."""
        return f"{self.url}/api/v10"

    def rate_limit(self, retry_after: float, *, is_global: bool = False) -> "FakeDiscordAPI":
        self.scripted.append(Reply(
            status=429,
            body={"message": "You are being rate limited.", "retry_after": retry_after, "global": is_global},
            headers={"Retry-After": str(int(retry_after) if float(retry_after).is_integer() else int(retry_after) + 1),
                     "X-RateLimit-Scope": "global" if is_global else "user",
                     **({"X-RateLimit-Global": "true"} if is_global else {})},
        ))
        return self

    def fail(self, status: int, code: int = 0, message: str = "", times: int = 1) -> "FakeDiscordAPI":
        body = error_body(code, message) if message else {"message": f"{status}: Server Error", "code": 0}
        for _ in range(times):
            self.scripted.append(Reply(status=status, body=body))
        return self

    def ok(self, times: int = 1) -> "FakeDiscordAPI":
        """Let the next `times` message calls through before a scripted failure."""
        for _ in range(times):
            self.scripted.append(Reply(status=0))
        return self

    def lose_reply(self, delay: float) -> "FakeDiscordAPI":
        """The next message call is posted, but its answer comes `delay` seconds late."""
        self.scripted.append(Reply(status=0, delay=delay))
        return self

    def respond(self, request: RecordedRequest) -> Reply:
        if request.headers.get("authorization") != f"Bot {self.bot_token}":
            return Reply(status=401, body=error_body(0, "401: Unauthorized"))
        if request.method == "GET" and request.path.split("?")[0] == "/api/v10/gateway/bot":
            return Reply(body={"url": self.gateway_url, "shards": 1, "session_start_limit": {
                "total": 1000, "remaining": 999, "reset_after": 14400000, "max_concurrency": 1}})
        if request.path == "/api/v10/applications/@me":
            return self._application(request)
        if request.method == "PUT" and request.path == f"/api/v10/applications/{self.application['id']}/commands":
            self.commands = [{**command, "id": snowflake(), "application_id": self.application["id"], "version": "1"}
                             for command in request.json()]
            return Reply(body=self.commands)
        typing = _CHANNEL_TYPING.match(request.path)
        if request.method == "POST" and typing:
            self.typing_in.append(typing.group(1))
            return Reply(status=204, body=b"")
        match = _CHANNEL_MESSAGES.match(request.path)
        if request.method != "POST" or not match:
            return Reply(status=404, body=error_body(0, "404: Not Found"))
        delay = 0.0
        if self.scripted:
            scripted = self.scripted.popleft()
            if scripted.status:
                return scripted
            delay = scripted.delay
        body = request.json()
        content = body.get("content", "")
        if len(content) > 2000:
            return _invalid_form_body("content", "BASE_TYPE_MAX_LENGTH", "Must be 2000 or fewer in length.")
        nonce = body.get("nonce")
        if nonce is not None and len(str(nonce)) > 25:
            return _invalid_form_body("nonce", "BASE_TYPE_MAX_LENGTH", "Must be 25 or fewer in length.")
        with self._lock:
            key = (match.group(1), str(nonce))
            if nonce is not None and body.get("enforce_nonce") and key in self._by_nonce:
                return Reply(body=self._by_nonce[key], delay=delay)  # the message created the first time
            message = {
                "id": snowflake(), "channel_id": match.group(1), "content": content, "type": 0,
                "author": BOT_USER, "tts": False, "mention_everyone": False, "mentions": [], "mention_roles": [],
                "attachments": [], "embeds": [], "pinned": False,
                "timestamp": "2017-07-11T17:27:07.299000+00:00", "edited_timestamp": None,
                **({"nonce": nonce} if nonce is not None else {}),
            }
            self.posted.append(message)
            if nonce is not None:
                self._by_nonce[key] = message
        return Reply(body=message, delay=delay)

    def _application(self, request: RecordedRequest) -> Reply:
        if request.method == "PATCH":
            url = request.json().get("interactions_endpoint_url")
            if url and not self.endpoint_reachable:
                return Reply(status=400, body={"code": 50035, "message": "Invalid Form Body", "errors": {
                    "interactions_endpoint_url": {"_errors": [{
                        "code": "APPLICATION_INTERACTIONS_ENDPOINT_URL_INVALID",
                        "message": "The specified interactions endpoint url could not be verified."}]}}})
            self.application["interactions_endpoint_url"] = url
        return Reply(body=self.application)

    def message_calls(self, channel_id: str | None = None) -> list[RecordedRequest]:
        calls = []
        for request in list(self.requests):
            match = _CHANNEL_MESSAGES.match(request.path)
            if request.method == "POST" and match and (channel_id is None or match.group(1) == channel_id):
                calls.append(request)
        return calls

    def delivered(self, channel_id: str | None = None) -> list[str]:
        """Texts that went out to a channel (every call, including refused ones, is in `requests`)."""
        return [call.json()["content"] for call in self.message_calls(channel_id)]

    def shown(self, channel_id: str | None = None) -> list[str]:
        """Texts of the messages the channel shows: each created message once."""
        return [message["content"] for message in list(self.posted)
                if channel_id is None or message["channel_id"] == channel_id]


def _invalid_form_body(field_name: str, code: str, message: str) -> Reply:
    return Reply(status=400, body={"code": 50035, "message": "Invalid Form Body", "errors": {
        field_name: {"_errors": [{"code": code, "message": message}]}}})


# --- The Gateway ---------------------------------------------------------------------------------


@dataclass
class GatewayPeer:
    """One websocket the client opened, and every payload it sent on it."""

    path: str
    socket: object
    received: list[dict] = field(default_factory=list)

    def ops(self) -> list[int]:
        return [frame.get("op") for frame in self.received]


class FakeGateway:
    def __init__(self, *, heartbeat_interval_ms: int = 45000, bot_user: dict | None = None) -> None:
        self.heartbeat_interval_ms = heartbeat_interval_ms
        self.bot_user = bot_user or BOT_USER
        self.ack_heartbeats = True
        self.resume_url_in_ready: str | None = None  # READY's resume_gateway_url, if not ours
        self.session_id = "fake-session-" + snowflake()
        self.peers: list[GatewayPeer] = []
        self.sent: list[dict] = []  # dispatches, for replay on RESUME
        self.seq = 0
        self._changed: asyncio.Condition | None = None
        self._server = None

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self._port}/"

    @property
    def resume_url(self) -> str:
        return f"ws://127.0.0.1:{self._port}/resume"

    async def __aenter__(self) -> "FakeGateway":
        self._changed = asyncio.Condition()
        self._server = await serve(self._serve, "127.0.0.1", 0, compression=None, ping_interval=None)
        self._port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc) -> None:
        self._server.close()
        await self._server.wait_closed()

    async def _serve(self, socket) -> None:
        peer = GatewayPeer(path=socket.request.path, socket=socket)
        await self._record(lambda: self.peers.append(peer))
        await socket.send(json.dumps({"op": 10, "d": {"heartbeat_interval": self.heartbeat_interval_ms}}))
        try:
            async for raw in socket:
                frame = json.loads(raw)
                await self._record(lambda: peer.received.append(frame))
                await self._answer(socket, frame)
        except Exception:
            pass

    async def _answer(self, socket, frame: dict) -> None:
        op, data = frame.get("op"), frame.get("d")
        if op == 1 and self.ack_heartbeats:
            await socket.send(json.dumps({"op": 11}))
        elif op == 2:
            await self._dispatch_to(socket, "READY", {
                "v": 10, "user": self.bot_user, "guilds": [], "session_id": self.session_id,
                "resume_gateway_url": self.resume_url_in_ready or self.resume_url,
                "application": {"id": self.bot_user["id"], "flags": 0},
            })
        elif op == 6:
            if data.get("session_id") != self.session_id:
                await socket.send(json.dumps({"op": 9, "d": False}))
                return
            for event in self.sent:
                if event["s"] > (data.get("seq") or 0):
                    await socket.send(json.dumps(event))
            await self._dispatch_to(socket, "RESUMED", {})

    async def _dispatch_to(self, socket, event: str, data: dict) -> None:
        self.seq += 1
        payload = {"op": 0, "s": self.seq, "t": event, "d": data}
        self.sent.append(payload)
        await socket.send(json.dumps(payload))

    async def _record(self, change) -> None:
        async with self._changed:
            change()
            self._changed.notify_all()

    # --- What a test does -------------------------------------------------------------------

    @property
    def current(self) -> GatewayPeer:
        return self.peers[-1]

    async def dispatch(self, event: str, data: dict) -> None:
        """A dispatch on the newest connection; kept for replay if the client resumes."""
        await self._dispatch_to(self.current.socket, event, data)

    async def send_op(self, op: int, data=None) -> None:
        await self.current.socket.send(json.dumps({"op": op, "d": data}))

    async def close_current(self, code: int, reason: str = "") -> None:
        await self.current.socket.close(code=code, reason=reason)

    def forget_session(self) -> None:
        """The next RESUME gets INVALID_SESSION (d: false), as after a long outage."""
        self.session_id = "fake-session-" + snowflake()

    async def wait_for(self, predicate, timeout: float = 5.0):
        """Wait until `predicate(self)` is truthy; returns its value."""
        async def check():
            async with self._changed:
                await self._changed.wait_for(lambda: predicate(self))
            return predicate(self)
        return await asyncio.wait_for(check(), timeout)

    def frames(self, op: int) -> list[dict]:
        return [frame for peer in self.peers for frame in peer.received if frame.get("op") == op]
