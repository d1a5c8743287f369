import json

import pytest
from django.core.management import CommandError, call_command

pytestmark = pytest.mark.django_db

ROWS = [
    ("I want to talk to a human", "contact_human_agent"),
    ("can I speak with a person please", "contact_human_agent"),
    ("I need to cancel my order", "cancel_order"),
    ("I work in human resources, where is my invoice", "get_invoice"),
    ("what are your customer service hours", "contact_customer_service"),
]


def write_csv(path, rows, header="flags,utterance,category,intent"):
    lines = [header] + [f'B,"{utterance}",X,{intent}' for utterance, intent in rows]
    path.write_text("\ufeff" + "\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_eval_guard_reports_the_figures_as_json(tmp_path, capsys):
    call_command("eval_guard", str(write_csv(tmp_path / "sample.csv", ROWS)), "--json")
    output = capsys.readouterr().out.strip().splitlines()
    report = json.loads(output[-1])
    assert report["n"] == 5 and report["positives"] == 2 and report["ambiguous"] == 1
    assert report["recall"] == 1.0 and report["precision"] == 1.0 and report["false_positive_rate"] == 0.0
    assert report["p99_ms"] >= report["p50_ms"] >= 0
    assert report["decided_by"] == {"local": 5}
    assert any("false-positive rate" in line for line in output)


def test_eval_guard_names_the_misses(tmp_path, capsys):
    rows = [("I work in human resources", "contact_human_agent")]  # mislabelled on purpose
    call_command("eval_guard", str(write_csv(tmp_path / "miss.csv", rows)))
    out = capsys.readouterr().out
    assert "Worst misses" in out and "I work in human resources" in out


def test_eval_guard_explains_a_wrong_file(tmp_path):
    with pytest.raises(CommandError, match="utterance"):
        call_command("eval_guard", str(write_csv(tmp_path / "bad.csv", ROWS, header="a,b,c,d")))
    with pytest.raises(CommandError, match="No such file"):
        call_command("eval_guard", str(tmp_path / "missing.csv"))
