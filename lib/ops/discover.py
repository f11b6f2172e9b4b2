"""`python -m lib discover`: one discovery pass per project, as the scheduled function runs it.

Exit status: 0 when every project's pass ended normally (done, stopped at the time budget, or
standing aside for a pass that holds the project), 1 when a page or a write failed, 2 for a usage
or configuration error.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable
from typing import Any

from lib.core.ids import ID_RULE, is_valid_id
from lib.ops.output import counted, emit, format_option

BUDGET_S = 6 * 3600.0  # an operator's pass; the function's is its invocation's budget
STOPS = {
    "done": "complete",
    "time": "stopped at the time budget; the next pass continues",
    "held": "another pass holds this project; stood aside",
    "page_failed": "a page failed; the watermark stays before it",
    "write_failed": "writing failed; the watermark stays before it",
    "follow_failed": "unfinished tasks could not be queued; the watermark stays before them",
}


def register(commands: Any, lake_option: Callable[[argparse.ArgumentParser], None]) -> None:
    parser = commands.add_parser(
        "discover",
        help="one discovery pass: list each project's new tasks into the lake",
        description="List each project's tasks from its watermark (less DISCOVER_LOOKBACK_H) up "
        "to now through the CBR list API, write the ones the lake lacks and move the watermark. "
        "Projects: --project (repeatable), else CBR_PROJECT_IDS, else CBR_PROJECT_ID.",
    )
    lake_option(parser)
    parser.add_argument("--project", action="append", default=[], help="a project ID")
    format_option(parser)
    parser.set_defaults(run=discover_command)


def discover_command(args: argparse.Namespace) -> int:
    from lib.aws.app import Root
    from lib.core.runtime import Deadline
    from lib.core.settings import Settings
    from lib.core.times import now_utc
    from lib.ingest.discover import summarize

    bad = [project for project in args.project if not is_valid_id(project)]
    if bad:
        raise ValueError(f"--project must be {ID_RULE}, got {bad[0]!r}")
    root = Root(Settings.from_env(os.environ, lake_uri=args.lake))
    projects = root.discover_projects(args.project)
    runs = root.discovery.run(projects, Deadline.after(BUDGET_S))
    summary = summarize(runs, now_utc())
    emit(args.format, summary, describe(summary["projects"], args.lake))
    return 1 if summary["discovery_failures"] else 0


def describe(projects: list[dict[str, Any]], lake: str) -> str:
    lines = []
    for run in projects:
        lines.append(
            f"{run['project_id']}: {STOPS.get(run['stopped_by'], run['stopped_by'])}. "
            f"Listed {run['window_from'] or '-'} to {run['window_to'] or '-'} in "
            f"{counted(run['pages'], 'page')}: {counted(run['listed'], 'task')}, "
            f"{run['new_rows']} new in {lake}, {run['known']} "
            f"already there. Watermark {run['watermark_before'] or 'none'} -> "
            f"{run['watermark_after'] or 'none'}."
            + (
                f" {counted(run['followed'], 'unfinished task')} queued to follow."
                if run["followed"]
                else ""
            )
            + (f" Error: {run['error']}" if run["error"] else "")
        )
    return "\n".join(lines)
