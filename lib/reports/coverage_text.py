"""A period's coverage in words (to the second, for people) and as data (full precision, JSON).

The words name every part of the period nothing proves: "NOT LISTED: A to B". The part after a
current watermark is not a gap but work in progress, and reads so: "complete up to 14:32:05 UTC
today, 8 min 10 s ago (proven by discovery); discovery continues". Projects without any state,
and a lake without state, are said once, not per project or per row.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from lib.core.times import format_second, format_utc
from lib.reports.coverage import (
    LAKE_START,
    NO_STATE,
    NOT_YET_LISTED,
    STATED,
    UNREADABLE,
    Gap,
    LakeCoverage,
    ProjectCoverage,
)
from lib.reports.values import duration


def coverage_sentences(coverage: LakeCoverage) -> list[str]:
    """One sentence per project with state, one for all projects without, one per project
    whose state cannot be read."""
    if coverage.start is not None and coverage.start >= coverage.end:
        return ["The period has not begun: nothing in it can be listed yet."]
    stated = [p for p in coverage.projects if p.status == STATED]
    missing = [p.project_id for p in coverage.projects if p.status == NO_STATE]
    unreadable = [p.project_id for p in coverage.projects if p.status == UNREADABLE]
    whole = period_text(coverage.period[0], coverage.end)
    if not stated and not unreadable:
        return [
            f"The lake holds no discovery or verify state: nothing in the period is proven "
            f"complete (NOT LISTED: {whole}, the whole period)."
        ]
    lines = [project_sentence(p, coverage) for p in stated]
    if missing:
        lines.append(
            f"NOT LISTED: {whole}, the whole period, for project(s) {', '.join(missing)}: they "
            "have tasks in the lake but no discovery or verify state, so nothing is proven."
        )
    lines += [
        f"Project {p}: its state cannot be read (see the note), so nothing is claimed complete."
        for p in unreadable
    ]
    return lines


def project_sentence(project: ProjectCoverage, coverage: LakeCoverage) -> str:
    """ "Project p1: NOT LISTED: A to B; the rest of the period is complete (proven by
    discovery)." and the like."""
    head = f"Project {project.project_id}: "
    proven_by = f"proven by {' and '.join(project.sources)}"
    if project.complete:
        return head + f"complete over the whole period ({proven_by})."
    tail = _continuing(project, coverage.end)
    clauses = [_gap_text(gap, project, coverage) for gap in project.gaps if gap is not tail]
    if tail is not None and project.watermark is not None:
        reached = tail.start if project.proven else project.watermark  # where listing stands
        moment = moment_text(reached, coverage.now)
        age = duration((coverage.now - reached).total_seconds())
        if project.proven:
            lead = "complete" if not clauses else "otherwise complete"
            clauses.append(f"{lead} up to {moment}, {age} ago ({proven_by}); discovery continues")
        else:  # the period begins after the watermark
            clauses.append(
                f"not listed yet: discovery listed up to {moment}, {age} ago, and continues"
            )
    elif project.proven:
        clauses.append(f"the rest of the period is complete ({proven_by})")
    elif (why := _nothing_proven(project, coverage.end)) is not None:
        clauses.append(why)
    return head + "; ".join(clauses) + "."


def _nothing_proven(project: ProjectCoverage, end: datetime) -> str | None:
    """Why nothing in the period is proven, unless its gaps say it (all after the watermark)."""
    if all(gap.reason == NOT_YET_LISTED for gap in project.gaps):
        return None
    if project.proven_from is None:
        return "nothing is proven for it yet"
    if project.proven_from >= end:
        return f"the lake is proven complete only from {format_second(project.proven_from)}"
    return "nothing in the period is proven"


def _continuing(project: ProjectCoverage, end: datetime) -> Gap | None:
    """The last gap when it is what follows a current watermark up to the period's end:
    discovery's work in progress, not a gap."""
    if not project.gaps or not project.continues:
        return None
    last = project.gaps[-1]
    return last if last.reason == NOT_YET_LISTED and last.end == end else None


def _gap_text(gap: Gap, project: ProjectCoverage, coverage: LakeCoverage) -> str:
    text = f"NOT LISTED: {period_text(gap.start, gap.end)}"
    if (gap.start, gap.end) == coverage.period:
        text += ", the whole period"
    if gap.reason == NOT_YET_LISTED and project.watermark is not None:
        age = duration((coverage.now - project.watermark).total_seconds())
        text += f" (after discovery's watermark, {age} old: discovery is behind)"
    return text


def period_text(start: datetime, end: datetime) -> str:
    first = "the start of the lake" if start == LAKE_START else format_second(start)
    return f"{first} to {format_second(end)}"


def moment_text(moment: datetime, now: datetime) -> str:
    """To the second; a moment of today as its time: "14:32:05 UTC today"."""
    if moment.date() == now.date():
        return f"{moment:%H:%M:%S} UTC today"
    return format_second(moment)


def coverage_json(coverage: LakeCoverage) -> dict[str, Any]:
    """The coverage as data: per project the proven spans with what proves them and the parts
    not proven with why, every time in full precision."""
    return {
        "from": None if coverage.start is None else format_utc(coverage.start),
        "to": format_utc(coverage.end),
        "complete": coverage.complete,
        "projects": {p.project_id: project_json(p) for p in coverage.projects},
    }


def project_json(project: ProjectCoverage) -> dict[str, Any]:
    return {
        "state": project.status,
        "complete": project.complete,
        "watermark": None if project.watermark is None else format_utc(project.watermark),
        "discovery_continues": project.continues,
        "proven": [
            {"from": _moment(s.start), "to": format_utc(s.end), "sources": list(s.sources)}
            for s in project.proven
        ],
        "not_proven": [
            {"from": _moment(g.start), "to": format_utc(g.end), "reason": g.reason}
            for g in project.gaps
        ],
    }


def _moment(moment: datetime) -> str | None:
    return None if moment == LAKE_START else format_utc(moment)
