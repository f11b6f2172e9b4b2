"""The audit pack's index page: an executive summary first, then the evidence behind it.

Order, on screen and on paper: the period and completeness (where each project's tasks are
proven complete, every part not proven named; error rows),
tiles (resources, each control, failed backups, restores, deletions), the controls table with
pass/fail marks, the exceptions to the controls with their evidence (html/exceptions.py), then a
section per pack report (html/sections.py): its rows counted, its exceptions listed. Every row
is in the pack's CSV and JSON; the adherence grid is a page of its own. So the page stays small
enough to open at once and to print in a few dozen pages for a month of hundreds of resources.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from lib.core.times import format_second
from lib.reports.html.exceptions import render_exceptions
from lib.reports.html.markup import attrs, escape, header_label
from lib.reports.html.page import frame, render_coverage, render_page, render_scope, status_mark
from lib.reports.html.sections import Section, render_report_section
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
EXCEPTIONS_TEXT = (
    "Per control, the resources it found non-compliant and those it lacked the data to judge, "
    "with the reason and the evidence task IDs (shortened: the whole ID is in the tooltip and "
    "the CSV); resources given the same reason share a line. Compliant resources are counted."
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
    items = []
    if "unprotected" in results:
        unprotected = len(results["unprotected"].rows)
        items.append(tile(str(unprotected), "unprotected resources", state(not unprotected)))
    items += [
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


def state(good: bool) -> str:
    return "pass" if good else "fail"


def snapshots_by_project(results: Results) -> dict[str, tuple[str | None, datetime | None]]:
    """Each project's inventory snapshot the reports judged by, (None, None) for a project with
    none: those with an inventory state, and those of the operation logs in the period."""
    found: dict[str, tuple[str | None, datetime | None]] = {}
    for result in results.values():
        for project, snapshot_id, taken in result.snapshots:
            found[project] = (snapshot_id, taken)
    if found:  # the lake has an inventory: a project of the logs without one says so too
        for row in results["coverage"].rows if "coverage" in results else []:
            if row["project_id"] is not None:
                found.setdefault(row["project_id"], (None, None))
    return dict(sorted(found.items()))


def inventory_lead(results: Results) -> str:
    """What leads the summary: the resources under no protection at all (in no vault, or in a
    vault without an enabled backup policy), and the snapshot each project was judged by."""
    if "unprotected" not in results:
        return (
            "<p>No inventory snapshot: resources that were never put under protection cannot be "
            "shown (the inventory, <code>python -m lib inventory</code>, lists them).</p>"
        )
    rows = results["unprotected"].rows
    kinds: dict[str, int] = {}
    for row in rows:
        kind = "in no vault" if row["vault_name"] is None else "without an enabled policy"
        kinds[kind] = kinds.get(kind, 0) + 1
    detail = ", ".join(f"{count} {kind}" for kind, count in sorted(kinds.items()))
    lines = [
        f"<p><strong>{len(rows)} resources are unprotected</strong> in the inventory snapshot "
        f"in force (in no vault, or in a vault without an enabled backup policy)"
        + (f": {escape(detail)}.</p>" if rows else ".</p>")
    ]
    for project, (snapshot_id, taken) in snapshots_by_project(results).items():
        said = (
            f"inventory snapshot {snapshot_id} taken at {format_second(taken)}"
            if snapshot_id and taken
            else "no inventory snapshot taken by the evaluation time"
        )
        lines.append(f"<p>Project {escape(project)}: {escape(said)}.</p>")
    return "".join(lines)


def completeness(results: Results) -> str:
    """What the lake can vouch for: where the period is proven complete, per project (every
    part not proven named), then the error rows."""
    coverage = results["coverage"]
    proven = render_coverage(coverage.coverage) if coverage.coverage else ""
    return proven + f"<p>{escape(error_line(coverage.rows))}</p>"


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
    head = "".join(f'<th scope="col">{header_label(h)}</th>' for h in HEADINGS)
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


def contents(sections: Sequence[Section], results: Results) -> str:
    """Links to the index's sections (on screen; paper has no use for them)."""
    links = [("summary", "Summary"), ("controls", "Controls"), ("exceptions", "Exceptions")]
    links += [(f"section-{s.report}", results[s.report].title) for s in sections]
    items = "".join(f'<li><a href="#{escape(i)}">{escape(text)}</a></li>' for i, text in links)
    return f'<nav aria-label="Sections"><ul>{items}</ul></nav>'


def pack_files_line(names: Sequence[str]) -> str:
    links = ", ".join(f'<a href="{escape(name)}">{escape(name)}</a>' for name in names)
    return f'<p class="files">Every row, in this pack: {links}.</p>'


def render_index(results: Results, sections: Sequence[Section], *, lake: str, title: str) -> str:
    """The pack's index.html: summary, controls, the exceptions to them with their evidence,
    then a section per pack report (`sections`); every input comes from the pack's reports."""
    controls, compliance = results["controls"], results["resource-compliance"]
    body = [
        f"<header><h1>{escape(title)}</h1>",
        render_scope(controls, lake),
        '<p class="meta">manifest.json lists every file of this pack with its SHA-256.</p>',
        "</header>",
        contents(sections, results),
        '<section id="summary" data-section="summary"><h2>Summary</h2>',
        inventory_lead(results),
        headline(results),
        completeness(results),
        tiles(results),
        "</section>",
        '<section id="controls" data-section="controls"><h2>Controls</h2>',
        f'<p class="description">{escape(controls.description)}</p>',
        controls_table(controls),
        pack_files_line(["controls.csv", "controls.json"]),
        "</section>",
        '<section id="exceptions" data-section="exceptions"><h2>Exceptions</h2>',
        f'<p class="description">{escape(EXCEPTIONS_TEXT)}</p>',
        render_exceptions(compliance, "every resource is in resource-compliance.csv"),
        pack_files_line(["resource-compliance.csv", "resource-compliance.json"]),
        "</section>",
        *(render_report_section(section, results[section.report]) for section in sections),
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
            + (inventory_lead(by_name) if "unprotected" in by_name else "")
            + headline(by_name)
            + completeness(by_name)
            + tiles(by_name)
            + "</section>"
        )
    stated = by_name["coverage"].coverage if lead else None
    return render_page(results, lake=lake, lead=lead, stated=stated)
