"""Where figure 1's CPU goes: the product and the relay at the same fixed rate (below either's
capacity), with the CPU time of every process involved sampled over the run (psutil: user +
system, children included) and divided by the messages sent. The product's web process, its
worker, PostgreSQL (every postgres process on the machine), Redis and this client, which is
the load generator; the relay's web process, Redis and the client. Together they say what a
message costs the machine, so what rate the two cores can carry at all.
"""

import asyncio
import time
from collections.abc import Callable

import psutil

from bench.perf import load
from bench.perf.rows import row
from bench.perf.stack import product_stack, relay_stack
from bench.perf.webhook_inbox import product_feed, relay_feed

FIGURE = "1 webhook→inbox"
RATE, SECONDS = 300, 15
QUICK_RATE, QUICK_SECONDS = 50, 3


def _cpu_seconds(processes: list[psutil.Process]) -> dict[int, float]:
    seconds = {}
    for process in processes:
        try:
            times = process.cpu_times()
        except psutil.Error:
            continue
        seconds[process.pid] = times.user + times.system + times.children_user + times.children_system
    return seconds


def _named(prefix: str) -> list[psutil.Process]:
    return [process for process in psutil.process_iter(["name"]) if (process.info["name"] or "").startswith(prefix)]


def _with_children(pid: int) -> list[psutil.Process]:
    process = psutil.Process(pid)
    return [process, *process.children(recursive=True)]


async def _measure(fire, listeners: load.Listeners, groups: dict[str, Callable[[], list[psutil.Process]]],
                   rate: float, seconds: float) -> tuple[dict[str, float], load.RunResult, float]:
    await load.open_loop(rate=20, duration=2, fire=fire, arrivals=listeners.next_run(), first=1)
    before = {name: _cpu_seconds(find()) for name, find in groups.items()}
    machine_before, started = load.machine_busy_seconds(), time.monotonic()
    result = await load.open_loop(rate=rate, duration=seconds, fire=fire, arrivals=listeners.next_run(),
                                  first=1000)
    elapsed, busy = time.monotonic() - started, load.machine_busy_seconds() - machine_before
    # Found again: a process started during the run (a PostgreSQL backend for another of the web
    # process's pool threads) counts from its start.
    after = {name: _cpu_seconds(find()) for name, find in groups.items()}
    per_message = {name: 1000 * sum(used - before[name].get(pid, 0.0) for pid, used in after[name].items())
                   / result.sent for name in groups}
    return per_message, result, 100 * busy / elapsed


async def _product(rate: float, seconds: float):
    with product_stack() as stack:
        groups = {"web process": lambda: _with_children(stack.web_pids[0]),
                  "worker": lambda: _with_children(stack.worker_pids[0]),
                  "PostgreSQL": lambda: _named("postgres"), "Redis": lambda: _named("redis-server"),
                  "load generator": lambda: [psutil.Process()]}
        async with product_feed(stack) as (fire, listeners):
            return await _measure(fire, listeners, groups, rate, seconds)


async def _relay(rate: float, seconds: float):
    with relay_stack() as relay:
        groups = {"web process": lambda: _with_children(relay.web_pids[0]),
                  "Redis": lambda: _named("redis-server"), "load generator": lambda: [psutil.Process()]}
        async with relay_feed(relay) as (fire, listeners):
            return await _measure(fire, listeners, groups, rate, seconds)


def run(quick: bool) -> list[dict]:
    rate, seconds = (QUICK_RATE, QUICK_SECONDS) if quick else (RATE, SECONDS)
    product, product_run, product_busy = asyncio.run(_product(rate, seconds))
    relay, relay_run, relay_busy = asyncio.run(_relay(rate, seconds))
    rows = [row(FIGURE, f"CPU per message at {rate}/s: {name} (ms)", round(cost, 3),
                relay=round(relay[name], 3) if name in relay else None) for name, cost in product.items()]
    rows.append(row(FIGURE, f"CPU per message at {rate}/s: all of these (ms)", round(sum(product.values()), 3),
                    relay=round(sum(relay.values()), 3)))
    rows.append(row(FIGURE, f"machine busy at {rate}/s (% of one core, of {100 * psutil.cpu_count()})",
                    round(product_busy), relay=round(relay_busy), lost=product_run.lost + product_run.errors,
                    relay_lost=relay_run.lost + relay_run.errors))
    return rows
