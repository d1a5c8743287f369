"""Run every fault scenario (pytest marker `faults`) against real PostgreSQL and Redis and
print the reliability table: scenario, load, faults injected, sent, stored, delivered,
duplicated, lost.

    .venv/bin/python bench/faults.py [--json] [pytest options, e.g. -k redis]

The same scenarios run in the default test run (`./bin/test`), which prints the table too.
"""

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.report import emit, format_table  # noqa: E402
from tests.fault_table import COLUMNS  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of the table")
    options, pytest_args = parser.parse_known_args()
    with tempfile.TemporaryDirectory() as scratch:
        rows_path = Path(scratch) / "rows.json"
        run = subprocess.run(
            [sys.executable, "-m", "pytest", "-m", "faults", "-q", "-n", "auto", "--faults-json", str(rows_path),
             *pytest_args],
            cwd=ROOT, stdout=subprocess.DEVNULL if options.json else None,
        )
        rows = json.loads(rows_path.read_text()) if rows_path.exists() else []
    lost = sum(row["lost"] for row in rows)
    emit({"scenarios": rows, "lost": lost, "tests_passed": run.returncode == 0}, as_json=options.json,
         table=format_table(rows, COLUMNS) + f"\n\nlost in all: {lost}")
    return run.returncode


if __name__ == "__main__":
    sys.exit(main())
