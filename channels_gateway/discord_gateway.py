"""The Discord Gateway worker: how a bot hears direct messages and channel messages.

`GatewayClient` holds one websocket for one bot token and follows Discord's documented
lifecycle: HELLO → heartbeat every `heartbeat_interval` (the first after a random jitter)
→ IDENTIFY with our intents → READY (keep `session_id`, `resume_gateway_url`, the bot's user
id) → dispatches. It resumes after RECONNECT (op 7), INVALID_SESSION (op 9, `d: true`), a
dropped socket, a resumable close code, or a zombie connection (a heartbeat not
acknowledged before the next one is due); it identifies afresh after INVALID_SESSION
`d: false` or close codes 4007/4009, and gives up on a bad token or disallowed intents
(4004, 4010–4014) instead of hammering Discord with IDENTIFYs.

Each MESSAGE_CREATE goes to an async handler. `GatewaySupervisor` runs one client per bot
token of the active Discord connections and stores what the adapter accepts through
`receive_inbound_message` (sync DB code, run in a thread). Discord does not deliver a
dispatch twice, so a database error while storing is retried a few times with a short
backoff (storing is idempotent on the message id) before the message is given up and
logged. `python manage.py discord_gateway` runs the supervisor.
"""

import asyncio
import json
import logging
import platform
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake

logger = logging.getLogger(__name__)

GATEWAY_VERSION = 10
GUILD_MESSAGES = 1 << 9
DIRECT_MESSAGES = 1 << 12
MESSAGE_CONTENT = 1 << 15  # privileged: switch it on in the Developer Portal
INTENTS = GUILD_MESSAGES | DIRECT_MESSAGES | MESSAGE_CONTENT

DISPATCH, HEARTBEAT, IDENTIFY, RESUME, RECONNECT, INVALID_SESSION, HELLO, HEARTBEAT_ACK = 0, 1, 2, 6, 7, 9, 10, 11
# A close code of our own that is not 1000/1001, so Discord keeps the session resumable.
RESUMABLE_CLOSE = 4000
# Invalid sequence, session timed out: the session is gone, identify again.
REIDENTIFY_CLOSE_CODES = {4007, 4009}
# Authentication failed, invalid shard, sharding required, invalid API version, invalid or
# disallowed intents: retrying cannot help until someone changes the bot's settings.
FATAL_CLOSE_CODES = {4004, 4010, 4011, 4012, 4013, 4014}

MessageHandler = Callable[[dict, str], Awaitable[None]]

# Storing a gateway message: attempts, and the wait before the second (doubled each time).
# Short, because the receive loop waits for it (heartbeats go on in their own task).
STORE_ATTEMPTS = 4
STORE_BACKOFF_SECONDS = 0.25


class FatalGatewayError(Exception):
    """The gateway refused this bot for good (bad token, intents not enabled)."""


@dataclass
class Session:
    session_id: str
    resume_url: str


def with_gateway_query(url: str) -> str:
    """The documented query string: API version and JSON encoding (no compression)."""
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query))
    query.update({"v": str(GATEWAY_VERSION), "encoding": "json"})
    return urlunsplit((parts.scheme, parts.netloc, parts.path or "/", urlencode(query), ""))


class GatewayClient:
    def __init__(
        self,
        *,
        token: str,
        gateway_url: str,
        on_message: MessageHandler,
        name: str = "discord",
        backoff_base: float = 1.0,
        backoff_max: float = 60.0,
        invalid_session_delay: tuple[float, float] = (1.0, 5.0),
        hello_timeout: float = 20.0,
    ) -> None:
        self._token = token
        self.gateway_url = gateway_url
        self.on_message = on_message
        self.name = name
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self.invalid_session_delay = invalid_session_delay
        self.hello_timeout = hello_timeout
        self.session: Session | None = None
        self.seq: int | None = None
        self.bot_user_id: str | None = None
        self.ready = asyncio.Event()
        self._failures = 0
        self._acked = True
        self._zombie = False
        self._hello_seen = False
        self._stopping = asyncio.Event()
        self._ws = None

    def __repr__(self) -> str:  # never the token
        return f"<GatewayClient {self.name}>"

    async def run(self) -> None:
        """Connect, and reconnect, until `stop()`; raises FatalGatewayError when Discord
        refuses the bot for good."""
        while not self._stopping.is_set():
            resuming, self._hello_seen = self.session is not None, False
            try:
                delay = await self._run_connection()
            except FatalGatewayError:
                raise
            except (OSError, InvalidHandshake, asyncio.TimeoutError, ConnectionClosed) as exc:
                logger.warning("Discord gateway %s: connection failed: %s", self.name, type(exc).__name__)
                if resuming and not self._hello_seen:
                    # Documented: when reconnecting to resume_gateway_url fails, start over
                    # on the Get Gateway Bot URL with a new IDENTIFY.
                    self.session, self.seq = None, None
                delay = self._backoff()
            except Exception:  # a payload we could not read: start a fresh connection
                logger.exception("Discord gateway %s: unexpected gateway payload", self.name)
                delay = self._backoff()
            if delay and not self._stopping.is_set():
                try:
                    await asyncio.wait_for(self._stopping.wait(), timeout=delay)
                except asyncio.TimeoutError:
                    pass

    async def stop(self) -> None:
        self._stopping.set()
        if self._ws is not None:
            await self._ws.close(code=1000, reason="shutting down")

    # --- One connection ---------------------------------------------------------------------

    async def _run_connection(self) -> float:
        """One websocket from open to close; returns how long to wait before the next."""
        resuming = self.session is not None
        url = with_gateway_query(self.session.resume_url if resuming else self.gateway_url)
        async with connect(url, ping_interval=None, compression=None, max_size=16 * 2**20,
                           open_timeout=self.hello_timeout, close_timeout=2) as ws:
            self._ws = ws
            try:
                if self._stopping.is_set():  # stop() came while connecting
                    await ws.close(code=1000, reason="shutting down")
                    return 0.0
                hello = await asyncio.wait_for(self._receive_payload(ws), timeout=self.hello_timeout)
                if hello.get("op") == RECONNECT:  # may come even before HELLO
                    await ws.close(code=RESUMABLE_CLOSE, reason="reconnect requested")
                    return 0.0
                if hello.get("op") != HELLO:
                    raise ValueError(f"expected HELLO, got op {hello.get('op')}")
                self._hello_seen = True
                interval = float(hello["d"]["heartbeat_interval"]) / 1000
                self._zombie = False
                heartbeat = asyncio.create_task(self._heartbeat(ws, interval))
                try:
                    await self._send(ws, self._resume_payload() if resuming else self._identify_payload())
                    return await self._receive_loop(ws)
                finally:
                    heartbeat.cancel()
            finally:
                self._ws = None

    async def _receive_loop(self, ws) -> float:
        while True:
            try:
                payload = await self._receive_payload(ws)
            except ConnectionClosed as closed:
                return self._after_close(closed)
            op = payload.get("op")
            if op == DISPATCH:
                if isinstance(payload.get("s"), int):
                    self.seq = payload["s"]
                await self._dispatch(payload.get("t"), payload.get("d"))
            elif op == HEARTBEAT:  # Discord asks for one now
                await self._send(ws, {"op": HEARTBEAT, "d": self.seq})
            elif op == HEARTBEAT_ACK:
                self._acked = True
            elif op == RECONNECT:
                logger.info("Discord gateway %s: asked to reconnect; resuming", self.name)
                await ws.close(code=RESUMABLE_CLOSE, reason="reconnect requested")
                return 0.0
            elif op == INVALID_SESSION:
                if not payload.get("d"):
                    logger.info("Discord gateway %s: session invalidated; identifying again", self.name)
                    self.session, self.seq = None, None
                await ws.close(code=RESUMABLE_CLOSE, reason="invalid session")
                return random.uniform(*self.invalid_session_delay)

    def _after_close(self, closed: ConnectionClosed) -> float:
        if self._stopping.is_set():
            return 0.0
        if self._zombie:
            logger.warning("Discord gateway %s: heartbeat not acknowledged; reconnecting", self.name)
            return 0.0
        code = closed.rcvd.code if closed.rcvd else None
        if code in FATAL_CLOSE_CODES:
            raise FatalGatewayError(f"Discord closed the gateway with {code}: {closed.rcvd.reason}")
        if code in REIDENTIFY_CLOSE_CODES:
            self.session, self.seq = None, None
        logger.info("Discord gateway %s: closed (%s); reconnecting", self.name, code)
        return self._backoff()

    async def _dispatch(self, event: str | None, data) -> None:
        if event == "READY" and isinstance(data, dict):
            self.session = Session(session_id=data["session_id"], resume_url=data["resume_gateway_url"])
            self.bot_user_id = str(data["user"]["id"])
            self._failures = 0
            self.ready.set()
            logger.info("Discord gateway %s: ready as %s", self.name, self.bot_user_id)
        elif event == "RESUMED":
            self._failures = 0
            logger.info("Discord gateway %s: resumed", self.name)
        elif event == "MESSAGE_CREATE" and isinstance(data, dict) and self.bot_user_id:
            try:
                await self.on_message(data, self.bot_user_id)
            except Exception:  # one bad message must not take the bot offline
                logger.exception("Discord gateway %s: could not take message %s", self.name, data.get("id"))

    async def _heartbeat(self, ws, interval: float) -> None:
        self._acked = True
        try:
            await asyncio.sleep(interval * random.random())
            while True:
                if not self._acked:
                    self._zombie = True
                    await ws.close(code=RESUMABLE_CLOSE, reason="heartbeat not acknowledged")
                    return
                self._acked = False
                await self._send(ws, {"op": HEARTBEAT, "d": self.seq})
                await asyncio.sleep(interval)
        except ConnectionClosed:
            return

    # --- Payloads ---------------------------------------------------------------------------

    def _identify_payload(self) -> dict:
        return {"op": IDENTIFY, "d": {
            "token": self._token,
            "intents": INTENTS,
            "properties": {"os": platform.system().lower() or "linux", "browser": "handoff", "device": "handoff"},
        }}

    def _resume_payload(self) -> dict:
        return {"op": RESUME, "d": {"token": self._token, "session_id": self.session.session_id, "seq": self.seq}}

    @staticmethod
    async def _send(ws, payload: dict) -> None:
        await ws.send(json.dumps(payload))

    @staticmethod
    async def _receive_payload(ws) -> dict:
        raw = await ws.recv()
        payload = json.loads(raw)
        if not isinstance(payload, dict):
            raise ValueError("gateway payload is not an object")
        return payload

    def _backoff(self) -> float:
        self._failures += 1
        delay = min(self.backoff_max, self.backoff_base * 2 ** (self._failures - 1))
        return delay * random.uniform(0.5, 1.0)


# --- The worker: every active Discord connection, stored through the inbox -------------------


def gateway_url_for(token: str) -> str:
    """The `DISCORD_GATEWAY_URL` setting if set, else Get Gateway Bot."""
    from django.conf import settings

    from channels_gateway.adapters.discord import PLATFORM_NAME, USER_AGENT, error_reason
    from channels_gateway.adapters.platform_http import call_platform, json_object

    override = settings.DISCORD_GATEWAY_URL
    if override:
        return override
    response = call_platform(PLATFORM_NAME, "GET", f"{settings.DISCORD_API_BASE_URL}/gateway/bot",
                             headers={"Authorization": f"Bot {token}", "User-Agent": USER_AGENT})
    if response.status_code != 200:
        raise FatalGatewayError(error_reason(response))
    url = json_object(response).get("url")
    if not isinstance(url, str) or not url:
        raise ValueError("Get Gateway Bot answered without a url")  # tried again at the next refresh
    return url


def store_gateway_message(connection_id: int, message: dict, bot_user_id: str) -> int:
    """Sync: store one MESSAGE_CREATE the adapter accepts; returns 1 if it was new. The AI
    turn is queued for the worker, exactly as for a webhook."""
    from channels_gateway.adapters.discord import inbound_from_gateway_message
    from channels_gateway.models import ChannelConnection, Platform
    from channels_gateway.services import receive_webhook_messages

    inbound = inbound_from_gateway_message(message, bot_user_id=bot_user_id)
    if inbound is None:
        return 0
    connection = ChannelConnection.objects.select_related("agent", "organization").filter(
        pk=connection_id, platform=Platform.DISCORD, is_active=True
    ).first()
    if connection is None:
        return 0
    return receive_webhook_messages(connection=connection, messages=[inbound])


def _store_in_worker(connection_id: int, message: dict, bot_user_id: str) -> int:
    from django.db import close_old_connections

    close_old_connections()  # a long-lived process: drop connections the database closed
    try:
        return store_gateway_message(connection_id, message, bot_user_id)
    finally:
        close_old_connections()  # after an error too: a broken connection is not reused


async def store_with_retries(connection_id: int, message: dict, bot_user_id: str, *,
                             attempts: int | None = None, backoff: float | None = None) -> int:
    """Store one gateway message; a database error (the database restarting, a dropped
    connection, a deadlock) is tried again after a short wait, up to `attempts` times, then
    the message is given up and logged. Returns 1 if the message was new."""
    from asgiref.sync import sync_to_async
    from django.db import DatabaseError

    attempts = STORE_ATTEMPTS if attempts is None else attempts
    backoff = STORE_BACKOFF_SECONDS if backoff is None else backoff
    message_id = message.get("id") if isinstance(message.get("id"), (str, int)) else None
    for attempt in range(1, attempts + 1):
        try:
            return await sync_to_async(_store_in_worker)(connection_id, message, bot_user_id)
        except DatabaseError as exc:
            # The type only: a database error's text can quote the message's content.
            if attempt == attempts:
                logger.error("Discord connection %s: gave up storing message %s after %s attempts (%s)",
                             connection_id, message_id, attempts, type(exc).__name__)
                return 0
            delay = backoff * 2 ** (attempt - 1)
            logger.warning("Discord connection %s: could not store message %s (%s); trying again in %.2fs",
                           connection_id, message_id, type(exc).__name__, delay)
            await asyncio.sleep(delay)
    return 0


def active_bots(*, include_demo: bool = False) -> dict[str, int]:
    """Bot token → connection id, for every active Discord connection with a token. Two
    connections sharing a token share one websocket; the older one receives."""
    from channels_gateway.models import ChannelConnection, Platform

    bots: dict[str, int] = {}
    for connection in ChannelConnection.objects.filter(platform=Platform.DISCORD, is_active=True).order_by("pk"):
        if not connection.secrets_readable:  # one wrong key must not keep the other bots offline
            logger.error("Discord connection %s: its credentials cannot be decrypted; not connecting", connection.pk)
            continue
        token = (connection.secrets or {}).get("bot_token")
        if not token or (connection.config.get("demo") and not include_demo):
            continue
        if token in bots:
            logger.warning("Discord connections %s and %s share a bot token; %s receives",
                           bots[token], connection.pk, bots[token])
            continue
        bots[token] = connection.pk
    return bots


class GatewaySupervisor:
    """One GatewayClient per bot token; the list of connections is read again every
    `refresh` seconds, so a connection added or switched off in the admin is picked up."""

    def __init__(self, *, refresh: float = 60.0, include_demo: bool = False, client_options: dict | None = None):
        self.refresh = refresh
        self.include_demo = include_demo
        self.client_options = client_options or {}
        self.clients: dict[str, tuple[int, GatewayClient, asyncio.Task]] = {}
        self._refused: set[str] = set()  # tokens Discord refused for good: not retried

    async def run(self, stop: asyncio.Event) -> None:
        from asgiref.sync import sync_to_async

        try:
            while not stop.is_set():
                try:
                    wanted = await sync_to_async(active_bots)(include_demo=self.include_demo)
                except Exception:  # the database is away: keep the bots running, look again later
                    logger.exception("Discord gateway: could not read the Discord connections")
                else:
                    await self._reconcile(wanted)
                try:
                    await asyncio.wait_for(stop.wait(), timeout=self.refresh)
                except asyncio.TimeoutError:
                    pass
        finally:
            await asyncio.gather(*(self._stop(token) for token in list(self.clients)), return_exceptions=True)

    async def _reconcile(self, wanted: dict[str, int]) -> None:
        from asgiref.sync import sync_to_async

        for token, (connection_id, _, task) in list(self.clients.items()):
            if task.done():
                if isinstance(task.exception(), FatalGatewayError):
                    self._refused.add(token)
                self.clients.pop(token)
            elif wanted.get(token) != connection_id:
                await self._stop(token)
        for token, connection_id in wanted.items():
            if token in self.clients or token in self._refused:
                continue
            try:
                url = await sync_to_async(gateway_url_for, thread_sensitive=False)(token)
            except FatalGatewayError as exc:
                logger.error("Discord connection %s: %s; not connecting", connection_id, exc)
                self._refused.add(token)
                continue
            except Exception as exc:  # rate limited or Discord down: try at the next refresh
                logger.warning("Discord connection %s: no gateway URL yet (%s)", connection_id, exc)
                continue
            client = GatewayClient(token=token, gateway_url=url, on_message=self._handler(connection_id),
                                   name=f"connection {connection_id}", **self.client_options)
            task = asyncio.create_task(self._run_client(client, connection_id))
            self.clients[token] = (connection_id, client, task)

    @staticmethod
    async def _run_client(client: GatewayClient, connection_id: int) -> None:
        try:
            await client.run()
        except FatalGatewayError as exc:
            logger.error("Discord connection %s: %s", connection_id, exc)
            raise

    @staticmethod
    def _handler(connection_id: int) -> MessageHandler:
        from channels_gateway.adapters.discord import inbound_from_gateway_message

        async def on_message(message: dict, bot_user_id: str) -> None:
            if inbound_from_gateway_message(message, bot_user_id=bot_user_id) is None:
                return  # not for us: no database work
            await store_with_retries(connection_id, message, bot_user_id)

        return on_message

    async def _stop(self, token: str) -> None:
        connection_id, client, task = self.clients.pop(token)
        await client.stop()
        try:
            await asyncio.wait_for(task, timeout=5)
        except (asyncio.TimeoutError, FatalGatewayError):
            task.cancel()
        except Exception:
            logger.exception("Discord connection %s: gateway client ended badly", connection_id)
