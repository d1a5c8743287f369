"""Figure 6, throughput: figure 1's sustained rate against two web processes (the client
sends to them in turn, as a round-robin front would) and one qcluster each, against one;
the teammate's inbox socket is on the first process, so every message posted to the second
crosses Redis. The relay's two processes against its one show what the machine allows.
"""

import psutil

from bench.perf import webhook_inbox
from bench.perf.rows import row

FIGURE = "6 scale-out"


def sustained(kind: str, web_processes: int, quick: bool, layer: str | None) -> tuple[webhook_inbox.Measured, str]:
    key = (kind, web_processes, quick)
    if key not in webhook_inbox.SUSTAINED:
        timing = webhook_inbox.durations(quick)
        if kind == "product":
            measured, layer = webhook_inbox.run_product(timing, web_processes=web_processes, rates=())
        else:
            measured = webhook_inbox.run_relay(timing, web_processes=web_processes, channel_layer_backend=layer,
                                               rates=())
        webhook_inbox.SUSTAINED[key] = (measured, layer)
    return webhook_inbox.SUSTAINED[key]


def _runs(product: webhook_inbox.Measured, relay: webhook_inbox.Measured) -> dict:
    """Every probe and hold of both searches, for the JSON: a rate reported as 0 says why there."""
    return {"product": [run.as_dict() for run in product.runs], "relay": [run.as_dict() for run in relay.runs]}


def _busy(measured: webhook_inbox.Measured) -> float | None:
    return measured.sustained_run.machine_busy_pct if measured.sustained_run else None


def run(quick: bool) -> list[dict]:
    product_one, layer = sustained("product", 1, quick, None)
    product_two, _ = sustained("product", 2, quick, layer)
    relay_one, _ = sustained("relay", 1, quick, layer)
    relay_two, _ = sustained("relay", 2, quick, layer)
    one, two = product_one.sustained, product_two.sustained
    product_scale = two / one if one else None
    relay_scale = relay_two.sustained / relay_one.sustained if relay_one.sustained else None
    return [
        row(FIGURE, "sustained, 1 web process (msg/s)", one, relay=relay_one.sustained,
            runs=_runs(product_one, relay_one)),
        row(FIGURE, "sustained, 2 web processes (msg/s)", two, relay=relay_two.sustained,
            runs=_runs(product_two, relay_two)),
        # How full the machine was while the held rate ran: with both cores full, the rate is the
        # machine's limit, not the web processes'.
        row(FIGURE, f"machine busy in the held run, 1 web process (% of {100 * psutil.cpu_count()})",
            _busy(product_one), relay=_busy(relay_one)),
        row(FIGURE, f"machine busy in the held run, 2 web processes (% of {100 * psutil.cpu_count()})",
            _busy(product_two), relay=_busy(relay_two)),
        row(FIGURE, "2 processes / 1 process", product_scale, relay=relay_scale, ratio=product_scale,
            target="≥ 1.6x", met=product_scale is not None and product_scale >= 1.6),
    ]
