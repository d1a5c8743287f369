"""Issue 8's figures, the product beside the bare relay in the same run.

    .venv/bin/python -m bench.perf [figure ...] [--json] [--quick] [--layer core|pubsub|product]

With no figure names every figure runs, in the order of FIGURES. `--quick` runs each for a
few seconds (a smoke run, figures meaningless); `--json` prints one JSON object instead of
the table: {"quick": bool, "figures": [...], "rows": [row, ...], "skipped": {name: why}}.

A figure is a module `bench.perf.<module>` with

    def run(quick: bool) -> list[dict]

returning rows made with `bench.perf.rows.row(...)`, i.e. dicts with these keys:

    figure   str            "1 webhook→inbox", "2 reply→platform", …: the issue's number first
    metric   str            what was measured, with its unit: "p99 at 100/s (ms)", "lost at 100/s"
    product  float|int|None the product's value
    relay    float|int|None the bare relay's value in the same run (None when there is no
                            relay counterpart)
    ratio    float|None     product / relay by default; a figure may set its own (scale-out:
                            two processes / one)
    target   str            the issue's target as text ("≤ 2x relay", "< 50 ms", "0"); "" if none
    met      bool|None      whether the target is met; None when there is no target
    …        anything else  (e.g. "runs": [...]) appears in the JSON only

Harness for figures: bench.perf.stack (product_stack, relay_stack) and bench.perf.load
(open_loop, Arrivals, listening, round_robin_poster, find_sustained).
"""

import argparse
import importlib
import os
import sys
import time
import traceback

from bench.perf.rows import COLUMNS
from bench.perf.stack import CORE_LAYER, LAYER_VARIABLE, PRODUCT_LAYER, PUBSUB_LAYER
from bench.report import emit, format_table

LAYERS = {"core": CORE_LAYER, "pubsub": PUBSUB_LAYER, "product": PRODUCT_LAYER}
# name on the command line → module; run in this order.
FIGURES = {
    "webhook": "bench.perf.webhook_inbox",          # 1 webhook → inbox (perf-stack)
    "cpu": "bench.perf.cpu_per_message",            # 1, what a message costs each process
    "reply": "bench.perf.reply_to_platform",        # 2 teammate → platform (perf-paths)
    "escalation": "bench.perf.escalation",          # 3 escalation (perf-paths)
    "fanout": "bench.perf.fanout",                  # 4 fan-out and connections (perf-paths)
    "datascale": "bench.perf.data_scale",           # 5 data at scale (a scratch database, in process)
    "scaleout": "bench.perf.scale_out",             # 6 throughput, two web processes vs one (perf-stack)
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.perf", description=__doc__.split("\n\n")[0])
    parser.add_argument("figures", nargs="*", metavar="figure",
                        help=f"any of {', '.join(FIGURES)} (default: all)")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of the table")
    parser.add_argument("--quick", action="store_true", help="a few seconds per figure: a smoke run")
    parser.add_argument("--layer", choices=sorted(LAYERS), default=None,
                        help="run product and relay on this channel layer (default: the product's settings)")
    options = parser.parse_args(argv)
    unknown = [name for name in options.figures if name not in FIGURES]
    if unknown:
        parser.error(f"unknown figure(s): {', '.join(unknown)}")
    chosen = options.figures or list(FIGURES)
    if options.layer:
        os.environ[LAYER_VARIABLE] = LAYERS[options.layer]

    rows, skipped, started = [], {}, time.monotonic()
    for name in chosen:
        module = importlib.import_module(FIGURES[name])
        print(f"[bench.perf] running {name}…", file=sys.stderr, flush=True)
        try:
            figure_rows = module.run(options.quick)
        except Exception as failure:  # the other figures still run; the table says what broke
            traceback.print_exc()
            skipped[name] = f"failed: {type(failure).__name__}: {failure}"
            continue
        rows.extend(figure_rows)
        # As it goes, so a long run that fails late keeps what it measured.
        print(format_table(figure_rows, COLUMNS), file=sys.stderr, flush=True)
    result = {"quick": options.quick, "figures": chosen, "rows": rows, "skipped": skipped,
              "seconds": round(time.monotonic() - started)}
    table = format_table(rows, COLUMNS)
    if skipped:
        table += "\n" + "\n".join(f"skipped {name}: {why}" for name, why in skipped.items())
    emit(result, as_json=options.json, table=table)
    return 0 if not skipped and all(row.get("met") is not False for row in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
