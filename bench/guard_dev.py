"""Dev loop for the local guard: figures on a split of a Bitext CSV, the misses, and latency.

    .venv/bin/python bench/guard_dev.py                          # dev split of customer_support_20k.csv
    .venv/bin/python bench/guard_dev.py --file 8k                # dev split of customer_service_8k.csv
    .venv/bin/python bench/guard_dev.py --file 8k --split heldout  # the held-out fifth (final check only)
    .venv/bin/python bench/guard_dev.py --file PATH --split all

`--file` takes a path or one of the short names 20k and 8k (the two files of
/work/shared/data/bitext/).

The split is fixed by a hash of the utterance, the same for every file: rows with
zlib.crc32(utterance) % 5 == 0 are held out, the others are the dev split. Since the second
round of work the dev rows of BOTH files are development data (the first round used the
20k file's dev rows only); the held-out rows of both files are for the final report. The
texts of held-out rows are never printed: with --split heldout or all, only the aggregate
figures are shown.

Calls `classify_local` directly (no Django settings, no model): the local stage alone,
as `eval_guard` measures it when no API key is set.
"""

from __future__ import annotations

import argparse
import csv
import statistics
import sys
import time
import zlib
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from conversations.ai.guard.local import classify_local  # noqa: E402

DATA = Path("/work/shared/data/bitext")
DEFAULT_FILE = DATA / "customer_support_20k.csv"
SHORT_NAMES = {"20k": DATA / "customer_support_20k.csv", "8k": DATA / "customer_service_8k.csv"}
POSITIVE, AMBIGUOUS = "contact_human_agent", "contact_customer_service"


def in_split(utterance: str, split: str) -> bool:
    held_out = zlib.crc32(utterance.encode()) % 5 == 0
    return split == "all" or (split == "heldout") == held_out


def load(path: Path, split: str) -> list[tuple[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        rows = [(row["utterance"] or "", (row["intent"] or "").strip()) for row in csv.DictReader(handle)]
    return [(utterance, intent) for utterance, intent in rows if in_split(utterance, split)]


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))] if ordered else 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--file", type=lambda value: SHORT_NAMES.get(value) or Path(value), default=DEFAULT_FILE,
                        help="A CSV path, or 20k / 8k.")
    parser.add_argument("--split", choices=["dev", "heldout", "all"], default="dev")
    parser.add_argument("--show", type=int, default=40, help="How many misses of each kind to print.")
    parser.add_argument("--ambiguous", action="store_true", help="Also list flagged contact_customer_service rows.")
    args = parser.parse_args()
    show_texts = args.split == "dev"  # held-out texts stay unseen: aggregate figures only

    rows = load(args.file, args.split)
    counts = {"tp": 0, "fn": 0, "fp": 0, "tn": 0, "amb": 0, "amb_flagged": 0}
    misses, false_alarms, ambiguous_flagged, latencies = [], [], [], []
    unsure = 0
    for utterance, intent in rows:
        started = time.perf_counter()
        verdict = classify_local(utterance)
        latencies.append((time.perf_counter() - started) * 1000)
        unsure += not verdict.confident
        if intent == AMBIGUOUS:
            counts["amb"] += 1
            if verdict.is_request:
                counts["amb_flagged"] += 1
                ambiguous_flagged.append((utterance, verdict.reason))
        elif intent == POSITIVE:
            counts["tp" if verdict.is_request else "fn"] += 1
            if not verdict.is_request:
                misses.append((utterance, verdict.reason))
        else:
            counts["fp" if verdict.is_request else "tn"] += 1
            if verdict.is_request:
                false_alarms.append((utterance, f"{intent}; {verdict.reason}"))

    # Latency is measured on this single pass, each message seen once (the word caches of the
    # module warm up as in production; no message is timed twice).
    def ratio(a: int, b: int) -> float:
        return a / b if b else 0.0

    print(f"{args.file.name} [{args.split}] {len(rows)} rows")
    print(f"  positives {counts['tp'] + counts['fn']}  negatives {counts['fp'] + counts['tn']}  "
          f"ambiguous {counts['amb']}  unsure verdicts {unsure}")
    print(f"  precision {ratio(counts['tp'], counts['tp'] + counts['fp']):.4f}  "
          f"recall {ratio(counts['tp'], counts['tp'] + counts['fn']):.4f}  "
          f"false-positive rate {ratio(counts['fp'], counts['fp'] + counts['tn']):.5f} ({counts['fp']})  "
          f"ambiguous flag rate {ratio(counts['amb_flagged'], counts['amb']):.4f}")
    print(f"  latency p50 {percentile(latencies, 0.5):.4f} ms  p99 {percentile(latencies, 0.99):.4f} ms  "
          f"max {max(latencies, default=0):.3f} ms  mean {statistics.fmean(latencies) if latencies else 0:.4f} ms")
    for title, items in (("misses (requests not flagged)", misses), ("false alarms", false_alarms)) + (
            (("ambiguous flagged", ambiguous_flagged),) if args.ambiguous else ()):
        if items and not show_texts:
            print(f"{title}: {len(items)} (texts not shown for the {args.split} split)")
        elif items:
            print(f"{title}: {len(items)}")
            for utterance, reason in items[:args.show]:
                print(f"  {utterance!r}  [{reason}]")


if __name__ == "__main__":
    main()
