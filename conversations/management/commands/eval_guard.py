"""Measure the handoff guard on a labelled CSV (Bitext format: `utterance`, `intent`).

Positive: intent `contact_human_agent`. Ambiguous, scored apart: `contact_customer_service`
(asking how to reach support). Everything else is a negative.
"""

import csv
import json
import statistics
import time
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from conversations.ai import guard
from conversations.ai.client import anthropic_client

POSITIVE = "contact_human_agent"
AMBIGUOUS = "contact_customer_service"


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return 0.0
    index = min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))
    return ordered[index]


def ratio(numerator: int, denominator: int) -> float:
    return numerator / denominator if denominator else 0.0


class Command(BaseCommand):
    help = "Precision, recall, false-positive rate and latency of the configured guard on a labelled CSV."

    def add_arguments(self, parser):
        parser.add_argument("path", type=Path)
        parser.add_argument("--json", action="store_true", dest="as_json",
                            help="End with one JSON object on the last line.")
        parser.add_argument("--limit", type=int, default=0, help="Only the first N rows.")
        parser.add_argument("--worst", type=int, default=10, help="How many misses of each kind to show.")

    def handle(self, *args, path: Path, as_json: bool, limit: int, worst: int, **options):
        rows = self._rows(path, limit)
        backend = "local" if anthropic_client() is None else f"local+model ({settings.ANTHROPIC_FAST_MODEL})"
        counts = {"tp": 0, "fp": 0, "fn": 0, "tn": 0, "ambiguous": 0, "ambiguous_flagged": 0}
        latencies, misses_fn, misses_fp, stages = [], [], [], {}
        for utterance, intent in rows:
            started = time.perf_counter()
            decision = guard.decide(utterance, asked_by_model=True)
            latencies.append((time.perf_counter() - started) * 1000)
            stages[decision.backend] = stages.get(decision.backend, 0) + 1
            if intent == AMBIGUOUS:
                counts["ambiguous"] += 1
                counts["ambiguous_flagged"] += decision.confirmed
            elif intent == POSITIVE:
                counts["tp" if decision.confirmed else "fn"] += 1
                if not decision.confirmed:
                    misses_fn.append((decision.score, utterance, decision.reason))
            else:
                counts["fp" if decision.confirmed else "tn"] += 1
                if decision.confirmed:
                    misses_fp.append((decision.score, utterance, f"{intent}; {decision.reason}"))

        report = {
            "file": str(path),
            "backend": backend,
            "n": len(rows),
            "positives": counts["tp"] + counts["fn"],
            "negatives": counts["fp"] + counts["tn"],
            "ambiguous": counts["ambiguous"],
            "precision": round(ratio(counts["tp"], counts["tp"] + counts["fp"]), 4),
            "recall": round(ratio(counts["tp"], counts["tp"] + counts["fn"]), 4),
            "false_positive_rate": round(ratio(counts["fp"], counts["fp"] + counts["tn"]), 5),
            "ambiguous_flag_rate": round(ratio(counts["ambiguous_flagged"], counts["ambiguous"]), 4),
            "false_negatives": counts["fn"],
            "false_positives": counts["fp"],
            "p50_ms": round(percentile(latencies, 0.50), 4),
            "p99_ms": round(percentile(latencies, 0.99), 4),
            "mean_ms": round(statistics.fmean(latencies), 4) if latencies else 0.0,
            "decided_by": stages,
        }
        self._print_table(report, sorted(misses_fn)[:worst], sorted(misses_fp, reverse=True)[:worst])
        if as_json:
            self.stdout.write(json.dumps(report, ensure_ascii=False))

    def _rows(self, path: Path, limit: int) -> list[tuple[str, str]]:
        if not path.exists():
            raise CommandError(f"No such file: {path}")
        with path.open(encoding="utf-8-sig", newline="") as handle:
            reader = csv.DictReader(handle)
            if not reader.fieldnames or not {"utterance", "intent"} <= set(reader.fieldnames):
                raise CommandError("The CSV needs the columns `utterance` and `intent`.")
            rows = [(row["utterance"] or "", (row["intent"] or "").strip()) for row in reader]
        return rows[:limit] if limit else rows

    def _print_table(self, report: dict, misses_fn: list, misses_fp: list) -> None:
        write = self.stdout.write
        write(f"Guard evaluation of {report['file']} ({report['n']} rows, backend: {report['backend']})")
        for label, key in [
            ("positives (contact_human_agent)", "positives"), ("negatives", "negatives"),
            ("ambiguous (contact_customer_service)", "ambiguous"), ("precision", "precision"),
            ("recall", "recall"), ("false-positive rate", "false_positive_rate"),
            ("ambiguous flag rate", "ambiguous_flag_rate"), ("p50 latency (ms)", "p50_ms"),
            ("p99 latency (ms)", "p99_ms"),
        ]:
            write(f"  {label:<40} {report[key]}")
        write(f"  {'decided by':<40} {report['decided_by']}")
        if misses_fn:
            write("Worst misses (requests for a person the guard let through):")
            for score, utterance, reason in misses_fn:
                write(f"  {score:.2f}  {utterance!r}  [{reason}]")
        if misses_fp:
            write("Worst false alarms (not a request, flagged anyway):")
            for score, utterance, reason in misses_fp:
                write(f"  {score:.2f}  {utterance!r}  [{reason}]")
