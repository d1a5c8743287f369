"""Figure 4, fan-out and connections: N idle inbox websockets (2,000; the owner's log-in, each
pinging every 25 s as inbox.js does) held by one web process. Memory per connection: the daphne process's RSS with them open minus its
RSS before (warmed up: one tab opened and closed), over N. Fan-out: one queue event (a
Telegram user's "human please" queues a new session, announced as `handoff.queued`) until
each of the N sockets has it: first, p50, p99 and last socket, from the webhook POST, and the
spread (last − first), which is the fan-out proper. The bare relay holds the same N sockets in
the same run, and one POST to it reaches them all: the same figures, for the ratio.

The client holds 2N file descriptors at most (N sockets per stack, one stack at a time), the
web process N: the soft RLIMIT_NOFILE is raised to the hard limit, which the stacks' processes
inherit. If the hard limit is below what N needs, raise it first (`ulimit -Hn`, or
LimitNOFILE= for a service); the run says so instead of failing half-way.
"""

import asyncio
import gc
import random
import resource
import secrets
import time
from urllib.parse import urlsplit

import psutil
import requests
from websockets.asyncio.client import connect

from bench.perf.load import percentile
from bench.perf.platform_clients import TelegramUser, TimedTelegram, contact_name
from bench.perf.rows import row
from bench.perf.stack import product_stack, relay_stack

FIGURE = "4 fan-out"
# Sockets opened at once: a browser-like trickle, not a SYN flood on the listen backlog.
OPENING_CONCURRENCY = 20
# After the last socket opened, before RSS is read: the connects' garbage is collected.
SETTLE_SECONDS = 3.0


def raise_fd_limit(needed: int) -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < needed:
        wanted = needed if hard == resource.RLIM_INFINITY else min(needed, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
        soft = wanted
    if soft < needed:
        raise SystemExit(f"fan-out needs {needed} file descriptors, the hard limit is {hard}: "
                         f"raise it (ulimit -Hn) and run again")
    return soft


# inbox.js pings every 25 s (the pong carries the stream's position; the web process's
# heartbeat, not the ping, keeps the tab's presence row fresh).
PING_EVERY_SECONDS = 25.0


class Sockets:
    """N open websockets; `until(marker)` times when each sees a text frame containing it.
    With `ping`, each sends the inbox's application ping as a browser tab would."""

    def __init__(self) -> None:
        self.connections = []
        self.pingers: list[asyncio.Task] = []

    async def _keep_pinging(self, connection) -> None:
        await asyncio.sleep(random.uniform(0, PING_EVERY_SECONDS))
        while True:
            await connection.send('{"type": "ping"}')
            await asyncio.sleep(PING_EVERY_SECONDS)

    async def open(self, url: str, count: int, *, headers: dict | None = None, ready: str | None = None,
                   ping: bool = False) -> float:
        """Open `count` sockets (each waits for a frame containing `ready`, if given); returns seconds."""
        gate = asyncio.Semaphore(OPENING_CONCURRENCY)

        async def one():
            async with gate:
                connection = await connect(url, additional_headers=headers or {}, open_timeout=120,
                                           ping_interval=None, max_size=None, compression=None)
                if ready is not None:
                    async with asyncio.timeout(120):
                        while ready not in await connection.recv():
                            pass
                self.connections.append(connection)
                if ping:
                    self.pingers.append(asyncio.ensure_future(self._keep_pinging(connection)))

        started = time.perf_counter()
        await asyncio.gather(*(one() for _ in range(count)))
        return time.perf_counter() - started

    async def until(self, *markers: str, timeout: float = 60) -> list[float]:
        """When (perf_counter) each socket received a frame containing every marker."""

        async def one(connection) -> float:
            async with asyncio.timeout(timeout):
                while True:
                    frame = await connection.recv()
                    if all(marker in frame for marker in markers):
                        return time.perf_counter()

        return await asyncio.gather(*(one(connection) for connection in self.connections))

    async def close(self) -> None:
        for pinger in self.pingers:
            pinger.cancel()
        self.pingers.clear()
        await asyncio.gather(*(connection.close() for connection in self.connections), return_exceptions=True)
        self.connections.clear()


def _rss(pid: int) -> int:
    return psutil.Process(pid).memory_info().rss


def _spread(sent: float, arrivals: list[float]) -> dict:
    ms = sorted((at - sent) * 1000 for at in arrivals)
    return {"first": ms[0], "p50": percentile(ms, 0.50), "p99": percentile(ms, 0.99), "last": ms[-1],
            "spread": ms[-1] - ms[0]}


def _median_of(events: list[dict], key: str) -> float:
    return sorted(event[key] for event in events)[len(events) // 2]


async def _product(stack, count: int, events: int) -> dict:
    web_url = stack.web_urls[0]
    netloc = urlsplit(web_url).netloc
    headers = {"Cookie": stack.login("admin"), "Origin": f"http://{netloc}"}
    url = f"ws://{netloc}/ws/inbox/"
    warm = Sockets()
    await warm.open(url, 1, headers=headers, ready='"snapshot"')
    await warm.close()
    await asyncio.sleep(SETTLE_SECONDS)
    pid = stack.web_pids[0]
    before = _rss(pid)
    sockets = Sockets()
    opening = await sockets.open(url, count, headers=headers, ready='"snapshot"', ping=True)
    await asyncio.sleep(SETTLE_SECONDS)
    after = _rss(pid)
    results = []
    try:
        # The first escalation warms the worker (the guard's and the summary's first use) and is
        # not counted: 2.2 s cold, 0.3 s warm with 300 sockets.
        for attempt in range(events + 1):
            chat_id = 900_000_000 + secrets.randbelow(90_000_000)
            user = TelegramUser(web_url, stack.seed, chat_id)
            arrivals = asyncio.ensure_future(
                sockets.until('"handoff.queued"', f'"name": "{contact_name(chat_id)}"'))
            await asyncio.sleep(0.05)  # every socket is listening
            sent = time.perf_counter()
            await asyncio.to_thread(user.say, "human please")
            spread = _spread(sent, await arrivals)
            if attempt:
                results.append(spread)
            await asyncio.sleep(0.5)
    finally:
        await sockets.close()
    return {"rss_before": before, "rss_after": after, "opening_seconds": opening, "events": results}


async def _relay(relay, count: int, events: int) -> dict:
    pid = relay.web_pids[0]
    warm = Sockets()
    await warm.open(relay.socket_urls[0], 1)
    await warm.close()
    await asyncio.sleep(SETTLE_SECONDS)
    before = _rss(pid)
    sockets = Sockets()
    opening = await sockets.open(relay.socket_urls[0], count)
    await asyncio.sleep(SETTLE_SECONDS)
    after = _rss(pid)
    results = []
    http = requests.Session()
    try:
        for index in range(events):
            marker = f"relay-{secrets.token_hex(4)}-{index}"
            arrivals = asyncio.ensure_future(sockets.until(marker))
            await asyncio.sleep(0.05)
            sent = time.perf_counter()
            await asyncio.to_thread(http.post, relay.post_urls[0], data=marker, timeout=30)
            results.append(_spread(sent, await arrivals))
            await asyncio.sleep(0.5)
    finally:
        await sockets.close()
    return {"rss_before": before, "rss_after": after, "opening_seconds": opening, "events": results}


def run(quick: bool) -> list[dict]:
    count, events = (300, 2) if quick else (2000, 5)
    limit = raise_fd_limit(count * 2 + 256)
    with TimedTelegram() as telegram:
        with product_stack(extra_env={"TELEGRAM_API_BASE_URL": telegram.url}) as stack:
            product = asyncio.run(_product(stack, count, events))
    gc.collect()
    with relay_stack() as relay:
        bare = asyncio.run(_relay(relay, count, events))
    per_connection = {name: (result["rss_after"] - result["rss_before"]) / count / 1024
                      for name, result in (("product", product), ("relay", bare))}
    extra = {"sockets": count, "events": events, "fd_limit": limit,
             "product_runs": product["events"], "relay_runs": bare["events"]}
    last_p, last_r = _median_of(product["events"], "last"), _median_of(bare["events"], "last")
    worst_last = max(event["last"] for event in product["events"])
    return [
        row(FIGURE, f"memory per idle connection, {count} sockets (KB)", per_connection["product"],
            relay=per_connection["relay"], target="< 100 KB", met=per_connection["product"] < 100, **extra),
        row(FIGURE, f"open {count} sockets (s)", product["opening_seconds"], relay=bare["opening_seconds"]),
        row(FIGURE, "one event → first socket (ms)", _median_of(product["events"], "first"),
            relay=_median_of(bare["events"], "first")),
        row(FIGURE, f"one event → p50 of {count} sockets (ms)", _median_of(product["events"], "p50"),
            relay=_median_of(bare["events"], "p50")),
        row(FIGURE, f"one event → p99 of {count} sockets (ms)", _median_of(product["events"], "p99"),
            relay=_median_of(bare["events"], "p99")),
        row(FIGURE, f"one event → all {count} sockets (ms)", last_p, relay=last_r, target="< 1000 ms",
            met=worst_last < 1000, worst_ms=worst_last),
        row(FIGURE, "fan-out spread, last − first socket (ms)", _median_of(product["events"], "spread"),
            relay=_median_of(bare["events"], "spread")),
    ]
