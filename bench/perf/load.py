"""Open-loop load and latency statistics.

Open loop: request n is fired at start + n/rate whether or not earlier ones were answered,
as real platforms deliver; latency is counted from that scheduled instant, so a server (or
a load generator) falling behind shows up as latency instead of silently lowering the rate.

Every message carries a token `perf-<run>-<n>` in its text; whatever observes the far end
(a websocket, a fake platform server) hands what it saw to `Arrivals.see(text)`.
"""

import asyncio
import contextlib
import gc
import math
import re
import secrets
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import asdict, dataclass, field

import aiohttp
import psutil
from websockets.asyncio.client import connect

TOKEN = re.compile(r"perf-([0-9a-f]{8})-(\d+)")
P99_LIMIT_MS = 100.0


def percentile(sorted_values: Sequence[float], q: float) -> float | None:
    """Nearest rank: the smallest value with at least q of the values at or below it."""
    if not sorted_values:
        return None
    return sorted_values[max(0, math.ceil(q * len(sorted_values)) - 1)]


@dataclass
class Arrivals:
    """When each message of one run was scheduled, and when it first arrived."""

    run: str = field(default_factory=lambda: secrets.token_hex(4))
    scheduled: dict[int, float] = field(default_factory=dict)
    arrived: dict[int, float] = field(default_factory=dict)
    # Close codes of the listening socket during the run (it reconnects, as a browser tab does).
    socket_closes: list[int | None] = field(default_factory=list)
    # When the socket last brought a frame, of this run or of an earlier one.
    last_frame_at: float = field(default_factory=time.perf_counter)

    def token(self, sequence: int) -> str:
        return f"perf-{self.run}-{sequence}"

    def see(self, text: str, at: float | None = None) -> None:
        now = time.perf_counter() if at is None else at
        self.last_frame_at = now
        for run, sequence in TOKEN.findall(text):
            if run == self.run:
                self.arrived.setdefault(int(sequence), now)

    def pending(self) -> int:
        return len(self.scheduled.keys() - self.arrived.keys())


@dataclass
class RunResult:
    rate: float
    duration: float
    sent: int
    delivered: int
    lost: int
    errors: int  # requests refused or failed (anything but 2xx)
    p50_ms: float | None
    p99_ms: float | None
    max_ms: float | None
    # How late the generator itself fired its worst request: a busy client shows here.
    worst_send_lag_ms: float
    # The whole machine's CPU while the requests were fired, in % of one core (200 = both
    # cores full): a rate at the machine's limit shows here, whichever process spent it.
    machine_busy_pct: float | None = None
    socket_closes: list[int | None] = field(default_factory=list)

    def sustained(self, p99_limit_ms: float = P99_LIMIT_MS) -> bool:
        return self.lost == 0 and self.errors == 0 and self.p99_ms is not None and self.p99_ms < p99_limit_ms

    def as_dict(self) -> dict:
        return asdict(self)


def machine_busy_seconds() -> float:
    """CPU seconds every core of the machine has spent so far (not idle, not waiting on I/O)."""
    times = psutil.cpu_times()
    return sum(getattr(times, field) for field in ("user", "nice", "system", "irq", "softirq"))


def summarise(arrivals: Arrivals, *, rate: float, duration: float, errors: int, send_lag: float) -> RunResult:
    latencies = sorted((arrivals.arrived[n] - at) * 1000 for n, at in arrivals.scheduled.items()
                       if n in arrivals.arrived)
    return RunResult(
        rate=rate, duration=duration, sent=len(arrivals.scheduled), delivered=len(latencies),
        lost=len(arrivals.scheduled) - len(latencies), errors=errors,
        p50_ms=percentile(latencies, 0.50), p99_ms=percentile(latencies, 0.99),
        max_ms=latencies[-1] if latencies else None, worst_send_lag_ms=send_lag * 1000,
        socket_closes=list(arrivals.socket_closes),
    )


# How long a run waits, after its figures are taken, for the requests still unanswered.
BACKLOG_SECONDS = 300.0


async def open_loop(*, rate: float, duration: float, fire: Callable[[int, str], Awaitable[bool]],
                    arrivals: Arrivals, drain: float = 5.0, first: int = 0) -> RunResult:
    """Fire `fire(n, token)` at `rate` per second for `duration` seconds, then wait up to
    `drain` seconds for the stragglers. `fire` returns False (or raises) for a refused request.
    Sequence numbers start at `first` (platform message ids must not repeat within a stack)."""
    with _generator_not_paused_by_earlier_runs():
        return await _open_loop(rate=rate, duration=duration, fire=fire, arrivals=arrivals, drain=drain, first=first)


@contextlib.contextmanager
def _generator_not_paused_by_earlier_runs():
    """What earlier runs left in this process (a run past capacity leaves thousands of client
    connections) is collected, and what survives is frozen out of the collector's reach. Without
    it, after an overloaded run the client's full collections paused it for 150-350 ms and it
    fired requests up to 0.8 s late: the relay's 60 s holds failed at every rate from 1,419 down
    to 629 msg/s, though 900 held for 60 s from a fresh client (p99 42 ms, the client never more
    than 4 ms late). With it, the client was at most 13 ms late in the holds after an overload."""
    gc.collect()
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


async def _open_loop(*, rate: float, duration: float, fire: Callable[[int, str], Awaitable[bool]],
                     arrivals: Arrivals, drain: float, first: int) -> RunResult:
    count = max(1, round(rate * duration))
    errors = 0
    tasks: set[asyncio.Task] = set()
    worst_lag = 0.0

    async def one(sequence: int) -> None:
        nonlocal errors
        try:
            if not await fire(sequence, arrivals.token(sequence)):
                errors += 1
        except Exception:
            errors += 1

    start = time.perf_counter() + 0.05
    busy_before = machine_busy_seconds()
    for index in range(count):
        sequence = first + index
        at = start + index / rate
        delay = at - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        worst_lag = max(worst_lag, time.perf_counter() - at)
        arrivals.scheduled[sequence] = at
        task = asyncio.create_task(one(sequence))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
    fired_for, busy = time.perf_counter() - start, machine_busy_seconds() - busy_before
    deadline = time.perf_counter() + drain
    while arrivals.pending() and time.perf_counter() < deadline:
        await asyncio.sleep(0.02)
    if tasks:
        await asyncio.wait(tasks, timeout=max(0.1, deadline - time.perf_counter()))
    result = summarise(arrivals, rate=rate, duration=duration, errors=errors, send_lag=worst_lag)
    result.machine_busy_pct = round(100 * busy / fired_for, 1) if fired_for > 0 else None
    if tasks:
        # A run past the server's capacity leaves a backlog of requests: the next run starts
        # once every one is answered, or it would measure this run's queue, not its own rate.
        await asyncio.wait(tasks, timeout=BACKLOG_SECONDS)
    # And a backlog of messages on their way to the socket (the channel layer's, the
    # consumer's): the next run starts once they stop coming, or its first seconds deliver
    # this run's messages, and a collapse at one rate failed the runs at lower rates after it.
    await _until_arrivals_stop(arrivals, timeout=BACKLOG_SECONDS)
    return result


async def _until_arrivals_stop(arrivals: Arrivals, *, timeout: float, quiet: float = 1.0) -> None:
    """Until every message of the run arrived, or the socket has brought no frame at all, of
    this run or an earlier one, for `quiet` seconds. Quiet for this run's messages only was not
    enough: a 60 s run far past capacity left tens of thousands of its messages on their way
    (and requests the client had given up on, still served), and the five holds after it, at
    rates its probes had passed, delivered none of their own within their time."""
    deadline = time.perf_counter() + timeout
    while arrivals.pending() and time.perf_counter() < deadline:
        await asyncio.sleep(0.1)
        if time.perf_counter() - arrivals.last_frame_at >= quiet:
            return  # lost, not late


def http_session() -> aiohttp.ClientSession:
    # No connection limit: an open loop must not queue requests on the client side.
    return aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0),
                                 timeout=aiohttp.ClientTimeout(total=30))


def round_robin_poster(session: aiohttp.ClientSession, urls: Sequence[str],
                       request: Callable[[int, str], tuple[bytes, dict]]) -> Callable[[int, str], Awaitable[bool]]:
    """`fire` for open_loop: POST `request(n, token)` (body, headers) to the urls in turn."""

    async def fire(sequence: int, token: str) -> bool:
        body, headers = request(sequence, token)
        async with session.post(urls[sequence % len(urls)], data=body, headers=headers) as response:
            await response.read()
            return 200 <= response.status < 300

    return fire


@contextlib.asynccontextmanager
async def listening(url: str, see: Callable[[str], None], *, headers: dict | None = None,
                    ready: Callable[[dict | str], bool] | None = None,
                    closed: Callable[[int | None], None] | None = None):
    """A websocket whose every text frame goes to `see`, from inside this context. `ready`
    (optional) is called on each frame, decoded, until it returns True (e.g. the snapshot).
    A socket the server closes is opened again, as the inbox page does, and `closed` hears
    its close code: the runs after a lost listener measure again, and say what happened."""
    import json

    async def opened():
        socket = await connect(url, additional_headers=headers or {}, max_size=None, open_timeout=20)
        if ready is not None:
            while True:
                frame = await asyncio.wait_for(socket.recv(), 20)
                with contextlib.suppress(ValueError):
                    frame = json.loads(frame)
                if ready(frame):
                    break
        return socket

    socket = await opened()

    async def pump() -> None:
        nonlocal socket
        while True:
            with contextlib.suppress(Exception):
                async for frame in socket:
                    if isinstance(frame, str):
                        see(frame)
            if closed is not None:
                closed(socket.close_code)
            while True:
                try:
                    socket = await opened()
                    break
                except Exception:
                    await asyncio.sleep(1)

    task = asyncio.create_task(pump())
    try:
        yield socket
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task
        with contextlib.suppress(Exception):
            await socket.close()


class Listeners:
    """Sockets that all report to the current run's Arrivals (swapped between runs)."""

    def __init__(self) -> None:
        self.arrivals = Arrivals()

    def see(self, text: str) -> None:
        self.arrivals.see(text, time.perf_counter())

    def closed(self, code: int | None) -> None:
        self.arrivals.socket_closes.append(code)

    def next_run(self) -> Arrivals:
        self.arrivals = Arrivals()
        return self.arrivals


async def find_sustained(measure: Callable[[float, float], Awaitable[RunResult]], *, start: float,
                         probe_seconds: float, hold_seconds: float, max_rate: float = 1000,
                         step: float = 1.25) -> tuple[float, RunResult | None, list[RunResult]]:
    """The highest rate that holds for `hold_seconds` with nothing lost and p99 under the limit.

    Short probes climb by `step` until one fails twice in a row at the same rate (a single
    stall of a few hundred milliseconds puts a 10 s probe's p99 over the limit, and ended the
    climb far below what then held for 60 s), one probe halves the last gap, then the best
    passing rate must hold for the full time (15% lower each time it does not, HOLD_TRIES tries).
    `measure(rate, seconds)` runs one open-loop run. Returns (rate, its run, every run).
    """
    runs: list[RunResult] = []

    async def probe(rate: float, seconds: float) -> RunResult:
        result = await measure(rate, seconds)
        runs.append(result)
        return result

    passing, failing = 0.0, None
    rate = start
    while rate <= max_rate:
        if (await probe(rate, probe_seconds)).sustained() or (await probe(rate, probe_seconds)).sustained():
            passing, rate = rate, round(rate * step)
        else:
            failing = rate
            break
    if passing == 0:
        # Not even the first rate: walk down instead.
        rate = start
        while rate > 5:
            rate = round(rate * 0.7)
            if (await probe(rate, probe_seconds)).sustained():
                passing = rate
                break
    elif failing is not None:
        middle = round((passing + failing) / 2)
        if middle not in (passing, failing) and (await probe(middle, probe_seconds)).sustained():
            passing = middle
    for _ in range(HOLD_TRIES):
        if passing <= 0:
            break
        held = await probe(passing, hold_seconds)
        if held.sustained():
            return passing, held, runs
        passing = round(passing * 0.85)
    return 0.0, None, runs


# A 10 s probe passes rates a 60 s hold does not (the relay's probes passed 1,277-1,419 msg/s
# and its holds failed at 1,277, 1,085 and 922, so three tries reported no rate at all): the
# hold steps down until one holds, to 0.85^5, 44% of the probes' rate.
HOLD_TRIES = 6
