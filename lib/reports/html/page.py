"""The HTML page: its frame (styles, offline policy), report sections and their tables."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import date
from typing import Any

from lib.core.times import format_second
from lib.reports.coverage import LakeCoverage
from lib.reports.coverage_text import coverage_sentences
from lib.reports.coverage_text import period_text as span_text
from lib.reports.html.bars import render_chart
from lib.reports.html.charts import build_chart
from lib.reports.html.exceptions import render_exceptions
from lib.reports.html.heatmap import render_heatmap
from lib.reports.html.markup import attrs, escape, header_label, id_codes, slug
from lib.reports.html.style import STYLE
from lib.reports.result import ReportResult
from lib.reports.values import display, is_numeric, period_text, scope_lines

# Belt and braces for "offline only": even injected markup could load nothing or run nothing.
CSP = "default-src 'none'; style-src 'unsafe-inline'"
WIDE = 8  # tables with more columns become cards on a phone and on paper
# Rows a report page shows of one table, and resources of the adherence grid: past it, a browser
# slows and paper runs out; every row is in the CSV and JSON, which the caption names.
ROW_LIMIT = 50
GRID_LIMIT = 40  # one figure, one printed page


def frame(title: str, body: str) -> str:
    """A whole page: no scripts, nothing loaded, readable on a phone and on paper."""
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{escape(CSP, quote=True)}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title><style>{STYLE}</style></head>\n<body>"
        + body
        + "</body></html>\n"
    )


def row_count(result: ReportResult) -> str:
    return f"{len(result.rows)} row" + ("" if len(result.rows) == 1 else "s")


def section_id(index: int, result: ReportResult) -> str:
    return f"r{index}-{slug(result.name)}"  # index keeps ids unique if names repeat


def is_id_column(column: str) -> bool:
    """`id`, `resource_id`, `evidence_ids`: IDs, shortened on the page."""
    return column == "id" or column.endswith(("_id", "_ids"))


def render_cell(column: str, value: Any, label: str | None = None) -> str:
    """One cell; `label` is the column's data-label attribute, made once per table. IDs are
    shortened (whole in their tooltip), a moment or a day never wraps."""
    label = label or attrs(data_label=column)
    text = display(column, value)
    if column == "status" and text in ("COMPLIANT", "NON_COMPLIANT", "INSUFFICIENT_DATA"):
        return f"<td {label}>{status_mark(text)}</td>"
    if is_numeric(value):
        return f'<td {label} class="num">{escape(text)}</td>'
    if is_id_column(column) and isinstance(value, str):
        return f'<td {label} class="ids">{id_codes(value)}</td>'
    if isinstance(value, date):  # datetimes too
        return f'<td {label} class="when">{escape(text)}</td>'
    return f"<td {label}>{escape(text)}</td>"


def status_mark(status: str) -> str:
    """A verdict people see at a glance, in colour and in words (for paper and screen readers)."""
    sign = {"COMPLIANT": "✓ pass", "NON_COMPLIANT": "✗ fail", "INSUFFICIENT_DATA": "? no data"}
    return f'<span class="mark {status}">{sign[status]}</span> <small>{status}</small>'


def render_table(
    result: ReportResult,
    rows: Sequence[dict[str, Any]] | None = None,
    *,
    columns: Sequence[str] | None = None,
    rest: str = "",
    limit: int = ROW_LIMIT,
) -> str:
    """A table of `rows` (default: the result's), at most `limit` of them; `rest` says where
    the others are ("every row is in x.csv")."""
    rows = result.rows if rows is None else rows
    columns = list(result.columns if columns is None else columns)
    if not rows:
        return '<p class="empty">No rows.</p>'
    shown = rows[:limit]
    head = "".join(f'<th scope="col">{header_label(column)}</th>' for column in columns)
    labels = [(column, attrs(data_label=column)) for column in columns]
    body = "".join(
        "<tr>" + "".join(render_cell(c, row.get(c), label) for c, label in labels) + "</tr>"
        for row in shown
    )
    wrap = "table-wrap wide" if len(columns) > WIDE else "table-wrap"
    count = f"{len(rows)} row" + ("" if len(rows) == 1 else "s")
    if len(shown) < len(rows):
        count = f"the first {len(shown)} of {len(rows)} rows; {rest or 'every row is in the CSV'}"
    return (
        f'<div class="{wrap}"><table {attrs(data_report=result.name)}>'
        f"<caption>{escape(count)}</caption><thead><tr>{head}</tr></thead>"
        f"<tbody>{body}</tbody></table></div>"
    )


def render_scope(result: ReportResult, lake: str) -> str:
    """Period, evaluation time, parameters and lake, then anything the reader must know."""
    notes = "".join(f'<p class="note">{escape(note)}</p>' for note in result.notes)
    if result.scope is None:
        return notes
    items = "".join(
        f"<dt>{escape(label)}</dt><dd>{escape(text)}</dd>"
        for label, text in scope_lines(result.scope, lake)
    )
    return f'<dl class="scope">{items}</dl>' + notes


def render_figure(result: ReportResult, limit: int | None = None) -> str:
    """The report's chart, or its adherence grid (of at most `limit` resources)."""
    chart = build_chart(result)
    return render_chart(chart) if chart else render_heatmap(result, limit)


def render_rows(result: ReportResult) -> str:
    """The rows of a report page: resource compliance as its exceptions (the compliant counted),
    any other report as a table of its first ROW_LIMIT rows."""
    rest = "is in this report's CSV and JSON formats"
    if result.name == "resource-compliance":
        return render_exceptions(result, f"every resource {rest}")
    return render_table(result, rest=f"every row {rest}")


def render_section(index: int, result: ReportResult, lake: str) -> str:
    return (
        f"<section {attrs(id=section_id(index, result), data_report=result.name)}>"
        f"<h2>{escape(result.title)}</h2>"
        f'<p class="description">{escape(result.description)}</p>'
        + render_scope(result, lake)
        + render_figure(result, GRID_LIMIT)
        + render_rows(result)
        + "</section>"
    )


def render_contents(results: Sequence[ReportResult]) -> str:
    items = "".join(
        f'<li><a href="#{section_id(i, r)}">{escape(r.title)}</a> ({row_count(r)})</li>'
        for i, r in enumerate(results)
    )
    return f'<nav aria-label="Reports"><ul>{items}</ul></nav>' if results else ""


def render_coverage(coverage: LakeCoverage, heading: str = "") -> str:
    """Where the period is proven complete: a paragraph per sentence, gaps in capitals."""
    lines = "".join(f"<p>{escape(line)}</p>" for line in coverage_sentences(coverage))
    head = f"<p><strong>{escape(heading)}</strong></p>" if heading else ""
    return f'<div class="coverage" data-coverage="{int(coverage.complete)}">{head}{lines}</div>'


def page_coverage(results: Sequence[ReportResult], stated: LakeCoverage | None) -> str:
    """Each distinct period's coverage once (the one a summary already states left out)."""
    seen: dict[tuple[object, ...], LakeCoverage] = {}
    for result in results:
        coverage = result.coverage
        if coverage is not None and coverage != stated:
            seen.setdefault((coverage.start, coverage.end), coverage)
    if len(seen) == 1:
        return render_coverage(next(iter(seen.values())), "Coverage")
    return "".join(render_coverage(c, f"Coverage of {span_text(*c.period)}") for c in seen.values())


def render_meta(results: Sequence[ReportResult], lake: str) -> str:
    """The page's period, evaluation time and lake; reports whose default periods differ
    (`report all` without a period) each have theirs, counted here and stated in their
    section."""
    scopes = [result.scope for result in results if result.scope is not None]
    lines = []
    if scopes:
        periods = Counter(period_text(scope) for scope in scopes)
        if len(periods) == 1:
            lines.append(("Period", next(iter(periods))))
        else:
            each = "; ".join(
                f"{text} ({count} report{'s' if count > 1 else ''})"
                for text, count in periods.items()
            )
            lines.append(("Periods", each))
        moments = sorted({format_second(scope.at) for scope in scopes})
        lines.append(("Evaluated at", ", ".join(moments)))
    lines.append(("Lake", lake))
    items = "".join(f"<dt>{escape(label)}</dt><dd>{escape(text)}</dd>" for label, text in lines)
    return f'<dl class="meta scope">{items}</dl>'


def render_page(
    results: Sequence[ReportResult],
    *,
    lake: str,
    lead: str = "",
    stated: LakeCoverage | None = None,
) -> str:
    """One self-contained page: the period, lake and coverage (but the coverage `stated` in
    `lead`), `lead` (a summary), then for each result its title, description, period and
    parameters, chart (when the report declares one) and table."""
    heading = "oplog-lake audit report"
    meta = render_meta(results, lake) + page_coverage(results, stated)
    body = (
        f"<header><h1>{escape(heading)}</h1>{meta}</header>"
        + lead
        + render_contents(results)
        + "\n".join(render_section(i, r, lake) for i, r in enumerate(results))
    )
    return frame(heading, body)
