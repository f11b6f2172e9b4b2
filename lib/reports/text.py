"""Report results as text: an aligned table for people, CSV and JSON for scripts.

CSV holds the raw values (seconds, fractions, ISO 8601 UTC timestamps) and nothing else, so its
shape is stable (a text cell that a spreadsheet would run as a formula starts with an
apostrophe). JSON holds each report as an object: its period, evaluation time, parameters,
coverage (where the period is proven complete, per project), notes and rows (raw values). The
table states the period, evaluation time, parameters, lake and coverage first and shows
durations and rates in their units.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from typing import Any

from lib.core.times import format_utc
from lib.reports.coverage_text import coverage_json, coverage_sentences
from lib.reports.result import ReportResult
from lib.reports.values import display, is_numeric, plain_row, scope_lines

# A spreadsheet runs a cell that starts with one of these as a formula: such cells get a leading
# apostrophe in CSV (shown as text, the usual neutralisation); JSON keeps every value as it is.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
CELL_WIDTH = 40
WIDER = {"reason": 100, "description": 100, "why": 100}  # sentences a reader needs whole


def render_json(results: Sequence[ReportResult]) -> str:
    """One report: its document (report_document); several: an object of them by name."""
    documents = {r.name: report_document(r) for r in results}
    document: Any = documents[results[0].name] if len(results) == 1 else documents
    return json.dumps(document, ensure_ascii=False, indent=2) + "\n"


def report_document(result: ReportResult) -> dict[str, Any]:
    """A report as scripts read it: what it was computed over, what is proven, its rows."""
    document: dict[str, Any] = {"report": result.name}
    if result.scope is not None:
        since, until = result.scope.since, result.scope.until
        document["period"] = {
            "since": format_utc(since) if since else None,
            "until": format_utc(until) if until else None,
        }
        document["evaluated_at"] = format_utc(result.scope.at)
        document["parameters"] = dict(result.scope.values)
    if result.coverage is not None:
        document["coverage"] = coverage_json(result.coverage)
    document["notes"] = list(result.notes)
    document["rows"] = [plain_row(row) for row in result.rows]
    return document


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
    if result.coverage is not None:
        lines += [f"  coverage: {line}" for line in coverage_sentences(result.coverage)]
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
