"""The exceptions to the controls, as people read and print them: per control, the resources
that failed it (NON_COMPLIANT) and those it could not judge (INSUFFICIENT_DATA), with the reason
and the evidence; the compliant resources only counted (every row is in the report's CSV and JSON).

Resources that share a reason share a paragraph: the reason said once, then the resources, each
as its name and shortened ID (the whole ID and the vault in its tooltip) and its evidence task
IDs (shortened, the first few, the rest counted). A month of 600 resources that
all fail two controls then prints in a few dozen pages rather than hundreds.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from lib.reports.controls import all_controls
from lib.reports.html.markup import attrs, escape, id_codes
from lib.reports.result import ReportResult
from lib.reports.values import short_id

EXCEPTIONS = ("NON_COMPLIANT", "INSUFFICIENT_DATA")
HEADINGS = {"NON_COMPLIANT": "✗ Non-compliant", "INSUFFICIENT_DATA": "? Not enough data"}
EVIDENCE_SHOWN = 3  # evidence IDs shown per resource; the rest counted (all in the CSV)
Row = dict[str, Any]


@dataclass(frozen=True)
class Group:
    """The resources one control gave the same verdict for the same reason."""

    status: str
    reason: str
    rows: list[Row]


def groups_of(rows: Sequence[Row]) -> list[Group]:
    """A control's exceptions grouped by verdict and reason: non-compliant first, then larger
    groups first, then by reason; resources in the report's order within a group."""
    found: dict[tuple[str, str], list[Row]] = {}
    for row in rows:
        if row["status"] in EXCEPTIONS:
            found.setdefault((row["status"], row["reason"] or ""), []).append(row)
    ordered = sorted(
        found.items(), key=lambda item: (EXCEPTIONS.index(item[0][0]), -len(item[1]), item[0][1])
    )
    return [Group(status, reason, members) for (status, reason), members in ordered]


def resource_item(row: Row) -> str:
    """ "name (59ce5116…): 3d5427ce…, 58156005…" with the whole ID and the vault as its
    tooltip."""
    resource = row["resource_id"] or ""
    about = resource + (f" · vault {row['vault_name']}" if row["vault_name"] else "")
    name = escape(row["resource_name"]) + " " if row["resource_name"] else ""
    evidence = id_codes(row["evidence_ids"], EVIDENCE_SHOWN)
    return (
        f"<span {attrs(class_='item', title=about)}>{name}"
        f"(<code>{escape(short_id(resource))}</code>)"
        + (f": {evidence}" if evidence else "")
        + "</span>"
    )


def group_item(group: Group) -> str:
    """One reason, said once, then every resource given it, in one paragraph that fills the
    line (a table with a column per part would leave most of each printed line empty)."""
    items = "; ".join(resource_item(row) for row in group.rows)
    count = f"{len(group.rows)} resource" + ("s" if len(group.rows) > 1 else "")
    return (
        f"<li {attrs(data_status=group.status, data_resources=len(group.rows))}>"
        f'<span class="reason">{escape(group.reason)}</span> <small>({count})</small>: '
        f"{items}</li>"
    )


def exception_list(control: str, groups: list[Group]) -> str:
    """The groups under a heading per verdict, non-compliant first."""
    parts = []
    for status in EXCEPTIONS:
        mine = [group for group in groups if group.status == status]
        if mine:
            total = sum(len(group.rows) for group in mine)
            parts.append(
                f'<p class="status"><span class="mark {status}">{HEADINGS[status]}</span>: '
                f"{total} resource{'s' if total > 1 else ''}</p>"
                f'<ul class="groups">{"".join(group_item(group) for group in mine)}</ul>'
            )
    return f"<div {attrs(class_='exceptions', data_control=control)}>{''.join(parts)}</div>"


def counts_text(counts: Counter[str], rest: str) -> str:
    return (
        f"{counts['NON_COMPLIANT']} non-compliant, {counts['INSUFFICIENT_DATA']} without enough "
        f"data, {counts['COMPLIANT']} compliant (counted here; {rest})"
    )


def control_title(control: str) -> str:
    known = all_controls().get(control)
    return known.title if known else control


def render_exceptions(result: ReportResult, rest: str) -> str:
    """Every control of a resource-compliance result in its order: its exceptions grouped by
    reason, or one line when it has none; `rest` says where every row is."""
    by_control: dict[str, list[Row]] = {}
    for row in result.rows:
        by_control.setdefault(row["control"], []).append(row)
    parts, clean = [], []
    for control, rows in by_control.items():
        counts = Counter(row["status"] for row in rows)
        if not counts["NON_COMPLIANT"] and not counts["INSUFFICIENT_DATA"]:
            clean.append(f"{control} ({counts['COMPLIANT']} compliant)")
            continue
        parts.append(
            f"<section {attrs(class_='control', data_control=control)}>"
            f"<h3>{escape(control_title(control))} <code>{escape(control)}</code></h3>"
            f'<p class="counts">{escape(counts_text(counts, rest))}</p>'
            + exception_list(control, groups_of(rows))
            + "</section>"
        )
    if clean:
        parts.append(f"<p>No exception to {escape(', '.join(clean))}.</p>")
    if not by_control:
        parts.append('<p class="empty">No resource was evaluated.</p>')
    return "".join(parts)
