"""The audit pack's index page: an executive summary first, then the evidence behind it.

Order: the period and completeness (discovery watermark, error rows), tiles (resources, each
control, failed backups, restores, deletions), the controls table with pass/fail marks, the
adherence heatmap, the non-compliant resources with their evidence, then every report in full.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from lib.core.times import format_utc
from lib.reports.html.heatmap import render_heatmap
from lib.reports.html.markup import attrs, escape
from lib.reports.html.page import frame, render_page, render_scope, render_table, status_mark
from lib.reports.result import ReportResult
from lib.reports.values import percent

Results = Mapping[str, ReportResult]
HEADINGS = (
    "verdict",
    "control",
    "parameters",
    "resources",
    "compliant",
    "non-compliant",
    "no data",
    "compliance",
)
SUMMARY_INPUTS = (
    "controls",
    "resource-compliance",
    "adherence",
    "restores",
    "deletions",
    "coverage",
)


def tile(value: str, label: str, state: str = "") -> str:
    return (
        f'<li class="tile {state}" {attrs(data_tile=label)}>'
        f'<span class="value">{escape(value)}</span><span class="label">{escape(label)}</span></li>'
    )


def control_state(row: dict[str, Any]) -> str:
    if row["non_compliant"]:
        return "fail"
    return "pass" if row["compliant"] else "unknown"


def rate_text(rate: Any) -> str:
    return "n/a" if rate is None else percent(float(rate))


def tiles(results: Results) -> str:
    resources = {r["resource_id"] for r in results["resource-compliance"].rows}
    failing = {
        r["resource_id"]
        for r in results["resource-compliance"].rows
        if r["status"] == "NON_COMPLIANT"
    }
    items = [
        tile(str(len(resources)), "resources evaluated"),
        tile(str(len(failing)), "resources failing a control", "fail" if failing else "pass"),
    ]
    for row in results["controls"].rows:
        items.append(tile(rate_text(row["compliance_rate"]), row["control"], control_state(row)))
    failed = sum(int(r["failures"] or 0) for r in results["adherence"].rows)
    restores = results["restores"].rows
    good = sum(1 for r in restores if r["status"] == "success")
    items.append(tile(str(failed), "failed backups", "fail" if failed else "pass"))
    items.append(tile(f"{good} of {len(restores)}", "restores succeeded"))
    items.append(tile(str(len(results["deletions"].rows)), "deletions"))
    return f'<ul class="tiles">{"".join(items)}</ul>'


def completeness(results: Results) -> str:
    """What the lake can vouch for: each project's discovery watermark and the error rows."""
    coverage = results["coverage"]
    until = coverage.scope.until if coverage.scope else None
    marks: dict[str, datetime | None] = {}
    for row in coverage.rows:
        if row["project_id"] is not None:
            marks[row["project_id"]] = row["watermark"]
    lines = [watermark_line(project, mark, until) for project, mark in sorted(marks.items())]
    if not marks:
        lines.append("The lake holds no task in the period and no discovery watermark.")
    lines.append(error_line(coverage.rows))
    return "".join(f"<p>{escape(line)}</p>" for line in lines)


def watermark_line(project: str, mark: datetime | None, until: datetime | None) -> str:
    if mark is None:
        return f"Project {project}: no discovery watermark, so completeness cannot be stated."
    covered = until is not None and mark >= until
    tail = "the whole period" if covered else "not the whole period"
    return f"Project {project}: the lake is complete up to {format_utc(mark)} ({tail})."


def error_line(rows: list[dict[str, Any]]) -> str:
    total = sum(int(r["error_rows"] or 0) for r in rows)
    if not total:
        return "No error rows (inputs that became no task row) in the period."
    reasons: dict[str, int] = {}
    for row in rows:
        for part in (row["error_reasons"] or "").split(", "):
            if part:
                reason, count = part.rsplit(": ", 1)
                reasons[reason] = reasons.get(reason, 0) + int(count)
    detail = ", ".join(f"{reason} {count}" for reason, count in sorted(reasons.items()))
    return f"{total} error rows in the period (inputs that became no task row): {detail}."


def headline(results: Results) -> str:
    rows = results["resource-compliance"].rows
    resources = {r["resource_id"] for r in rows}
    failing = {r["resource_id"] for r in rows if r["status"] == "NON_COMPLIANT"}
    controls = len(results["controls"].rows)
    return (
        f"<p><strong>{len(resources) - len(failing)} of {len(resources)} resources</strong> "
        f"met every one of the {controls} controls evaluated (or lacked the data to judge one); "
        f"<strong>{len(failing)}</strong> failed at least one.</p>"
    )


def controls_table(result: ReportResult) -> str:
    head = "".join(f'<th scope="col">{h}</th>' for h in HEADINGS)
    body = []
    for row in result.rows:
        worst = (
            "NON_COMPLIANT"
            if row["non_compliant"]
            else ("COMPLIANT" if row["compliant"] else "INSUFFICIENT_DATA")
        )
        cells = [
            status_mark(worst),
            f"{escape(row['title'])}<br><code>{escape(row['control'])}</code>",
            escape(row["parameters"] or "none"),
            *(
                str(row[c])
                for c in ("resources", "compliant", "non_compliant", "insufficient_data")
            ),
            rate_text(row["compliance_rate"]),
        ]
        labelled = zip(HEADINGS, cells, strict=True)
        body.append(
            "<tr>" + "".join(f"<td {attrs(data_label=h)}>{c}</td>" for h, c in labelled) + "</tr>"
        )
    return (
        f'<div class="table-wrap"><table data-report="controls-summary"><thead><tr>{head}</tr>'
        f"</thead><tbody>{''.join(body)}</tbody></table></div>"
    )


def failing_resources(result: ReportResult) -> str:
    """Each non-compliant resource once, with every control it failed, the reason and evidence."""
    by_resource: dict[str, list[dict[str, Any]]] = {}
    for row in result.rows:
        if row["status"] == "NON_COMPLIANT":
            by_resource.setdefault(row["resource_id"], []).append(row)
    if not by_resource:
        return '<p class="empty">No resource failed a control.</p>'
    blocks = []
    for resource, rows in sorted(by_resource.items()):
        first = rows[0]
        name = first["resource_name"] or resource
        about = f"{first['resource_type'] or ''} · vault {first['vault_name'] or ''}"
        items = "".join(
            f"<li><code>{escape(r['control'])}</code>: {escape(r['reason'] or '')}; evidence "
            f"<code>{escape(r['evidence_ids'] or 'none')}</code></li>"
            for r in rows
        )
        blocks.append(
            f'<div class="evidence" {attrs(data_resource=resource)}><h3>{escape(name)}</h3>'
            f'<p class="meta"><code>{escape(resource)}</code> · {escape(about)}</p>'
            f"<ul>{items}</ul></div>"
        )
    return "".join(blocks)


def detail(result: ReportResult) -> str:
    """A report in full; the adherence grid is drawn above and its rows are in its CSV."""
    table = render_table(result)
    if result.name == "adherence":
        table = (
            f"<p>{len(result.rows)} rows, one per resource and day: drawn in the heatmap above, "
            f"listed with their task IDs in <code>adherence.csv</code>.</p>"
        )
    return (
        f"<section {attrs(id='detail-' + result.name, data_report=result.name)}>"
        f"<h3>{escape(result.title)} <small>({escape(result.name)}.csv)</small></h3>"
        f'<p class="description">{escape(result.description)}</p>' + table + "</section>"
    )


def render_index(results: Results, *, lake: str, title: str) -> str:
    """The pack's index.html; every input comes from the pack's own reports."""
    controls = results["controls"]
    body = [
        f"<header><h1>{escape(title)}</h1>",
        render_scope(controls, lake),
        "</header>",
        '<section id="summary" data-section="summary"><h2>Summary</h2>',
        headline(results),
        completeness(results),
        tiles(results),
        "</section>",
        '<section id="controls" data-section="controls"><h2>Controls</h2>',
        f'<p class="description">{escape(controls.description)}</p>',
        controls_table(controls),
        "</section>",
        '<section id="adherence" data-section="adherence"><h2>Daily backup adherence</h2>',
        f'<p class="description">{escape(results["adherence"].description)}</p>',
        render_heatmap(results["adherence"]) or '<p class="empty">No resource to show.</p>',
        "</section>",
        '<section id="failing" data-section="failing"><h2>Non-compliant resources</h2>',
        failing_resources(results["resource-compliance"]),
        "</section>",
        '<section id="details" data-section="details"><h2>Details</h2>',
        *(detail(result) for result in results.values()),
        "</section>",
    ]
    return frame(title, "".join(body))


def render_report_page(results: list[ReportResult], *, lake: str) -> str:
    """Reports as one HTML page: their sections, led by the summary when the results
    hold everything it is made of (as `report all` does)."""
    by_name = {result.name: result for result in results}
    lead = ""
    if set(SUMMARY_INPUTS) <= set(by_name):
        lead = (
            '<section id="summary" data-section="summary"><h2>Summary</h2>'
            + headline(by_name)
            + completeness(by_name)
            + tiles(by_name)
            + "</section>"
        )
    return render_page(results, lake=lake, lead=lead)
