import json
import subprocess
import sys
import textwrap


def test_rows_recorded_in_workers_are_printed_once_by_the_controller(tmp_path):
    scenario = tmp_path / "test_scenario.py"
    scenario.write_text(textwrap.dedent("""
        import pytest

        @pytest.mark.faults
        @pytest.mark.parametrize("n", [1, 2])
        def test_scenario(fault_report, n):
            fault_report(scenario=f"demo {n}", load="n", faults="none", sent=n, stored=n,
                         delivered=n, duplicated=0, lost=0)
    """))
    rows_json = tmp_path / "rows.json"
    result = subprocess.run(
        [sys.executable, "-m", "pytest", str(scenario), "-n", "2", "-p", "tests.fault_table",
         "--faults-json", str(rows_json), "-q", "-o", "addopts=", "-o", "testpaths=", "--rootdir", str(tmp_path),
         "-p", "no:django"],
        capture_output=True, text=True, cwd=".",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "reliability: faults injected, messages lost" in result.stdout
    assert result.stdout.count("demo 1") == 1 and result.stdout.count("demo 2") == 1
    assert [row["scenario"] for row in json.loads(rows_json.read_text())] == ["demo 1", "demo 2"]
