"""Figure 1, webhook → inbox: a Telegram update POSTed to the product's webhook, for a
conversation a teammate has accepted (human mode), until that teammate's `/ws/inbox/`
socket receives the message; beside the bare relay (the same update POSTed to it, until its
websocket receives it). Open loop at 50 and 100 messages/s, then the highest rate that holds
for 60 s with nothing lost and p99 under 100 ms.

Both run with the product's default channel layer (settings.py), one after the other, in
the same run: the ratios are what the targets are about.
"""

import asyncio
import contextlib
from dataclasses import dataclass, field

from bench.perf import load, scenario
from bench.perf.rows import row
from bench.perf.stack import Relay, Stack, product_stack, relay_stack

FIGURE = "1 webhook→inbox"
RATES = (50, 100)
# Messages are spread over this many conversations, each accepted by the one teammate.
CHATS = 20


@dataclass(frozen=True)
class Durations:
    warmup: float
    fixed: float
    probe: float
    hold: float
    max_rate: float
    step: float


FULL = Durations(warmup=3, fixed=20, probe=10, hold=60, max_rate=2000, step=1.25)
QUICK = Durations(warmup=1, fixed=3, probe=2, hold=4, max_rate=120, step=1.5)


def durations(quick: bool) -> Durations:
    return QUICK if quick else FULL


@dataclass
class Measured:
    at: dict[int, load.RunResult] = field(default_factory=dict)
    sustained: float = 0.0
    sustained_run: load.RunResult | None = None
    runs: list[load.RunResult] = field(default_factory=list)


async def drive(fire, listeners: load.Listeners, timing: Durations, *, rates=RATES, sustained: bool = True,
                start_rate: float = 50) -> Measured:
    """Warm up, run each fixed rate, then search for the sustained rate."""
    sequence = 1

    async def measure(rate: float, seconds: float) -> load.RunResult:
        nonlocal sequence
        result = await load.open_loop(rate=rate, duration=seconds, fire=fire, arrivals=listeners.next_run(),
                                      first=sequence)
        sequence += result.sent + 1
        await asyncio.sleep(1)  # whatever is still queued drains before the next run
        return result

    measured = Measured()
    await measure(20, timing.warmup)
    for rate in rates:
        measured.at[rate] = await measure(rate, timing.fixed)
    if sustained:
        measured.sustained, measured.sustained_run, measured.runs = await load.find_sustained(
            measure, start=start_rate, probe_seconds=timing.probe, hold_seconds=timing.hold,
            max_rate=timing.max_rate, step=timing.step,
        )
    return measured


@contextlib.asynccontextmanager
async def product_feed(stack: Stack):
    """(fire, listeners): Telegram updates POSTed round robin to the stack's web processes for
    CHATS conversations a teammate has accepted, and that teammate's inbox socket listening."""
    sessions, cookie = await scenario.telegram_chats_with_teammate(stack, chats=CHATS)
    telegram = stack.channel("telegram")
    chats = [int(session["thread_id"]) for session in sessions]

    def update(sequence: int, token: str):
        return scenario.telegram_update(chat_id=chats[sequence % len(chats)], message_id=sequence,
                                        text=f"{token} where is my order?", secret_token=telegram["secret_token"],
                                        header=telegram["header"])

    listeners = load.Listeners()
    web = stack.web_urls[0]
    async with load.http_session() as session, load.listening(
        scenario.socket_url(web), listeners.see, headers=scenario.inbox_headers(web, cookie),
        ready=scenario.is_snapshot, closed=listeners.closed,
    ):
        yield load.round_robin_poster(session, stack.webhook_urls("telegram"), update), listeners


@contextlib.asynccontextmanager
async def relay_feed(relay: Relay):
    """(fire, listeners): the same updates POSTed to the relay, and its socket listening."""
    def update(sequence: int, token: str):
        # The same bytes as the product gets: the relay forwards them as they are.
        return scenario.telegram_update(chat_id=scenario.FIRST_CHAT + sequence % CHATS, message_id=sequence,
                                        text=f"{token} where is my order?", secret_token="relay")

    listeners = load.Listeners()
    async with load.http_session() as session, load.listening(relay.socket_urls[0], listeners.see,
                                                                   closed=listeners.closed):
        yield load.round_robin_poster(session, relay.post_urls, update), listeners


async def measure_product(stack: Stack, timing: Durations, **options) -> Measured:
    async with product_feed(stack) as (fire, listeners):
        return await drive(fire, listeners, timing, **options)


async def measure_relay(relay: Relay, timing: Durations, **options) -> Measured:
    async with relay_feed(relay) as (fire, listeners):
        return await drive(fire, listeners, timing, **options)


def product_layer(stack: Stack) -> str:
    """The channel layer the product's settings chose (the relay must use the same one)."""
    return stack.manage("shell", "-c", "from django.conf import settings; "
                                       "print(settings.CHANNEL_LAYERS['default']['BACKEND'])").strip().splitlines()[-1]


def run_product(timing: Durations, *, web_processes: int = 1, channel_layer_backend: str | None = None,
                extra_env: dict | None = None, **options) -> tuple[Measured, str]:
    # One qcluster per web process, as the Procfile scales them together.
    with product_stack(web_processes=web_processes, workers=web_processes,
                       channel_layer_backend=channel_layer_backend, extra_env=extra_env) as stack:
        layer = product_layer(stack)
        return asyncio.run(measure_product(stack, timing, **options)), layer


def run_relay(timing: Durations, *, web_processes: int = 1, channel_layer_backend: str | None = None,
              **options) -> Measured:
    with relay_stack(web_processes=web_processes, channel_layer_backend=channel_layer_backend) as relay:
        return asyncio.run(measure_relay(relay, timing, **options))


# Sustained-rate searches measured in this process, so figure 6 reuses figure 1's one-process
# runs: (kind, web processes, quick) → (what was measured, the channel layer).
SUSTAINED: dict[tuple[str, int, bool], tuple[Measured, str]] = {}


def comparison_rows(figure: str, product: Measured, relay: Measured, *, layer: str) -> list[dict]:
    rows = []
    for rate in product.at:
        mine, limit = product.at[rate], relay.at[rate]
        rows.append(row(figure, f"p50 at {rate}/s (ms)", mine.p50_ms, relay=limit.p50_ms, target="≤ 2x relay",
                        met=_ratio_within(mine.p50_ms, limit.p50_ms, 2), layer=layer,
                        runs={"product": mine.as_dict(), "relay": limit.as_dict()}))
        rows.append(row(figure, f"p99 at {rate}/s (ms)", mine.p99_ms, relay=limit.p99_ms, target="≤ 3x relay",
                        met=_ratio_within(mine.p99_ms, limit.p99_ms, 3)))
        rows.append(row(figure, f"lost at {rate}/s", mine.lost + mine.errors, relay=limit.lost + limit.errors,
                        ratio=None, target="0", met=mine.lost + mine.errors == 0, sent=mine.sent))
    if product.sustained_run is not None or relay.sustained_run is not None or product.runs:
        hold = (product.sustained_run or relay.sustained_run)
        seconds = int(hold.duration) if hold else 0
        rows.append(row(figure, f"sustained {seconds} s, p99<100 ms, 0 lost (msg/s)", product.sustained,
                        relay=relay.sustained, target="≥ 0.6x relay",
                        met=bool(relay.sustained) and product.sustained >= 0.6 * relay.sustained,
                        runs={"product": [run.as_dict() for run in product.runs],
                              "relay": [run.as_dict() for run in relay.runs]}))
    return rows


def _ratio_within(value: float | None, limit: float | None, factor: float) -> bool | None:
    if value is None or not limit:
        return False if value is None else None
    return value <= factor * limit


def run(quick: bool) -> list[dict]:
    timing = durations(quick)
    product, layer = run_product(timing)
    relay = run_relay(timing, channel_layer_backend=layer)
    SUSTAINED[("product", 1, quick)] = (product, layer)
    SUSTAINED[("relay", 1, quick)] = (relay, layer)
    return comparison_rows(FIGURE, product, relay, layer=layer.rsplit(".", 1)[-1])
