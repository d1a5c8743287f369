"""The reliability table. A fault scenario (marker `faults`) records what it sent, what was
stored, delivered, duplicated and lost through the `fault_report` fixture; the run prints
one table at its end (`bench/faults.py` runs only these and can print JSON).

Rows travel from pytest-xdist workers to the controller as JSON lines in a directory the
controller hands each worker."""

import json
import os
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

import pytest

from bench.report import format_table

COLUMNS = ["scenario", "load", "faults", "sent", "stored", "delivered", "duplicated", "lost"]


@dataclass(frozen=True)
class FaultRow:
    scenario: str
    load: str
    faults: str
    sent: int
    stored: int
    delivered: int
    duplicated: int
    lost: int


def pytest_addoption(parser):
    parser.addoption("--faults-json", metavar="PATH", help="write the reliability table's rows to PATH as JSON")


def pytest_configure(config):
    config.addinivalue_line("markers", "faults: injects a real fault and reports a row of the reliability table")
    workerinput = getattr(config, "workerinput", None)
    if workerinput is not None:
        config._fault_rows_dir = Path(workerinput["fault_rows_dir"])
    else:
        config._fault_rows_dir = Path(tempfile.mkdtemp(prefix="handoff-faults-"))


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node):
    node.workerinput["fault_rows_dir"] = str(node.config._fault_rows_dir)


@pytest.fixture
def fault_report(request):
    """Call with the FaultRow fields; the test still asserts its own guarantees."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    rows_file = request.config._fault_rows_dir / f"{worker}.jsonl"

    def record(**fields) -> FaultRow:
        row = FaultRow(**fields)
        with rows_file.open("a") as rows:
            rows.write(json.dumps(asdict(row)) + "\n")
        return row

    return record


def recorded_rows(config) -> list[dict]:
    rows = []
    for rows_file in sorted(config._fault_rows_dir.glob("*.jsonl")):
        rows.extend(json.loads(line) for line in rows_file.read_text().splitlines() if line)
    return sorted(rows, key=lambda row: row["scenario"])


def pytest_terminal_summary(terminalreporter, config):
    if getattr(config, "workerinput", None) is not None:
        return
    rows = recorded_rows(config)
    if not rows:
        return
    terminalreporter.section("reliability: faults injected, messages lost")
    for line in format_table(rows, COLUMNS).splitlines():
        terminalreporter.write_line(line)
    if path := config.getoption("--faults-json"):
        Path(path).write_text(json.dumps(rows, indent=2))
