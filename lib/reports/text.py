"""Report results as text: an aligned table for people, CSV and JSON for scripts.

CSV and JSON hold the raw values (seconds, fractions, ISO 8601 UTC timestamps) and nothing else,
so their shape is stable (a CSV text cell that a spreadsheet would run as a formula starts with
an apostrophe); the table states the period, evaluation time, parameters and lake first
and shows durations and rates in their units.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from typing import Any

from lib.reports.result import ReportResult
from lib.reports.values import display, is_numeric, plain_row, scope_lines

# A spreadsheet runs a cell that starts with one of these as a formula: such cells get a leading
# apostrophe in CSV (shown as text, the usual neutralisation); JSON keeps every value as it is.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
CELL_WIDTH = 40
WIDER = {"reason": 100, "description": 100}  # sentences a reader needs whole


def render_json(results: Sequence[ReportResult]) -> str:
    """One report: an array of row objects; several: an object of arrays by report name."""
    rows = {r.name: [plain_row(row) for row in r.rows] for r in results}
    document: Any = rows[results[0].name] if len(results) == 1 else rows
    return json.dumps(document, ensure_ascii=False, indent=2) + "\n"


def render_csv(result: ReportResult) -> str:
    buffer = io.StringIO()
    # Rows end in CRLF (RFC 4180), which also makes the writer quote a cell holding a lone CR: a
    # name with one cannot split its row.
    writer = csv.DictWriter(buffer, fieldnames=result.columns, lineterminator="\r\n")
    writer.writeheader()
    writer.writerows({k: csv_cell(v) for k, v in plain_row(row).items()} for row in result.rows)
    return buffer.getvalue()


def csv_cell(value: Any) -> Any:
    """A text that a spreadsheet would run as a formula, made plain text; numbers unchanged."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def render_text(results: Sequence[ReportResult], lake: str) -> str:
    return "\n".join(text_section(result, lake) for result in results)


def text_section(result: ReportResult, lake: str) -> str:
    lines = [f"{result.title} [{result.name}]", result.description]
    if result.scope is not None:
        lines += [f"  {label}: {text}" for label, text in scope_lines(result.scope, lake)]
    lines += [f"  note: {note}" for note in result.notes]
    lines.append("")
    lines.append(aligned(result.columns, result.rows) if result.rows else "(no rows)")
    return "\n".join(lines) + "\n"


def aligned(columns: list[str], rows: list[dict[str, Any]], width: int = CELL_WIDTH) -> str:
    """Columns padded to their widest cell, numbers to the right; long cells cut to `width`."""
    cells = [[_cut(display(c, row.get(c)), WIDER.get(c, width)) for c in columns] for row in rows]
    widths = [max([len(c)] + [len(r[i]) for r in cells]) for i, c in enumerate(columns)]
    numeric = [any(is_numeric(row.get(c)) for row in rows) for c in columns]

    def line(values: list[str]) -> str:
        padded = (
            v.rjust(w) if right else v.ljust(w)
            for v, w, right in zip(values, widths, numeric, strict=True)
        )
        return "  ".join(padded).rstrip()

    return "\n".join([line(list(columns)), *(line(r) for r in cells)])


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"
