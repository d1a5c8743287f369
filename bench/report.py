"""How every bench prints its figures: an aligned table for people, one JSON object for machines."""

import json
from collections.abc import Sequence


def format_table(rows: Sequence[dict], columns: Sequence[str]) -> str:
    cells = [[_cell(row.get(column)) for column in columns] for row in rows]
    widths = [max([len(column), *(len(line[index]) for line in cells)]) for index, column in enumerate(columns)]
    lines = ["  ".join(column.ljust(width) for column, width in zip(columns, widths))]
    lines.append("  ".join("-" * width for width in widths))
    for line in cells:
        lines.append("  ".join(
            value.rjust(width) if _is_number(value) else value.ljust(width)
            for value, width in zip(line, widths)
        ))
    return "\n".join(lines)


def emit(result: dict, *, as_json: bool, table: str) -> None:
    print(json.dumps(result, sort_keys=True) if as_json else table)


def _cell(value) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.2f}" if abs(value) < 100 else f"{value:.0f}"
    return str(value)


def _is_number(text: str) -> bool:
    try:
        float(text.replace(",", ""))
    except ValueError:
        return False
    return True
