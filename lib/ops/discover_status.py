"""`python -m lib discover --status`: each project's discovery state, read from the lake alone.

Per project: the watermark, where the listing that reached it began, the lag behind now (from
DISCOVER_START or the first attempt while there is no watermark), the last pass (when it ended and
how) and the lease (who works on the project now, until when). Projects: --project, else every
project with a state file in the lake and those configured (CBR_PROJECT_IDS, CBR_PROJECT_ID).
"""

from __future__ import annotations

import argparse
import os
from datetime import datetime
from typing import Any

from lib.core.times import format_duration, format_second, format_utc, now_utc, parse_utc
from lib.ingest.watermark import ProjectState, StateUnreadable, Watermarks, run_json
from lib.ops.output import emit, format_rows

COLUMNS = ["project", "watermark", "lag", "last run", "outcome", "lease"]


def status_command(args: argparse.Namespace) -> int:
    from lib.aws.app import Root
    from lib.core.settings import Settings

    settings = Settings.for_discovery_state(os.environ, lake_uri=args.lake)
    watermarks = Watermarks(Root(settings).store)
    projects = args.project or sorted({*watermarks.projects(), *settings.discover_projects})
    if not projects:
        raise ValueError(
            f"no discovery state in {args.lake} and no project named: pass --project or set "
            "CBR_PROJECT_IDS"
        )
    now = now_utc()
    rows, unreadable = [], 0
    for project_id in projects:
        try:
            state = watermarks.read(project_id, now)
        except StateUnreadable as exc:
            rows.append({"project_id": project_id, "error": str(exc)})
            unreadable += 1
            continue
        rows.append(status(project_id, state, settings.discover_start, now))
    document = {"lake": args.lake, "now": format_utc(now), "projects": rows}
    emit(args.format, document, describe(rows, now))
    return 1 if unreadable else 0


def status(
    project_id: str, state: ProjectState, start: datetime | None, now: datetime
) -> dict[str, Any]:
    """One project's state as a JSON-ready document (full precision)."""
    since = state.watermark or start or state.first_attempt_at
    lease = state.lease
    run = state.last_run
    return {
        "project_id": project_id,
        "watermark": _utc(state.watermark),
        "listed_from": _utc(state.listed_from),
        "lag_s": None if since is None else round((now - since).total_seconds(), 1),
        "lag_from": "watermark"
        if state.watermark
        else ("DISCOVER_START" if start else "first attempt"),
        "first_attempt_at": _utc(state.first_attempt_at),
        "last_run": None if run is None else run_json(run),
        "lease": None
        if lease is None
        else {"owner": lease.owner, "until": format_utc(lease.until), "active": lease.until > now},
        "error": None,
    }


def describe(rows: list[dict[str, Any]], now: datetime) -> str:
    table = [_row(row, now) for row in rows]
    lines = [f"Discovery state at {format_second(now)}:", format_rows(COLUMNS, table, width=60)]
    lines += [f"{row['project_id']}: {row['error']}" for row in rows if row.get("error")]
    return "\n".join(lines)


def _row(row: dict[str, Any], now: datetime) -> dict[str, Any]:
    if row.get("error"):
        return {"project": row["project_id"], "watermark": "unreadable (below)"}
    run, lease = row["last_run"], row["lease"]
    lag = "" if row["lag_s"] is None else format_duration(row["lag_s"])
    if row["watermark"] is None and lag:
        lag += f" (from {row['lag_from']})"
    return {
        "project": row["project_id"],
        "watermark": _second(row["watermark"]) or "none",
        "lag": lag,
        "last run": _second(run["ended_at"]) if run else "never",
        "outcome": (run["outcome"] + (f": {run['error']}" if run["error"] else "")) if run else "",
        "lease": _lease(lease, now),
    }


def _lease(lease: dict[str, Any] | None, now: datetime) -> str:
    if lease is None:
        return "free"
    until = parse_utc(lease["until"])
    if not lease["active"]:
        return f"expired at {format_second(until)} (free)"
    left = format_duration((until - now).total_seconds())
    return f"held until {format_second(until)} ({left} left)"


def _utc(moment: datetime | None) -> str | None:
    return None if moment is None else format_utc(moment)


def _second(value: str | None) -> str | None:
    if value is None:
        return None
    return format_second(parse_utc(value))
