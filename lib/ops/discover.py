"""`python -m lib discover`: one discovery pass per project, as the scheduled function runs it;
`--status` shows each project's discovery state without listing anything.

Exit status: 0 when every project's pass ended normally (done, stopped at the time budget, or
standing aside for a pass that holds the project), 1 when a page, a window, a write or a state
file failed, or the pass was interrupted (Ctrl-C or SIGTERM: the lease is released first), 2 for
a usage or configuration error. `--status` exits 1 when a state file cannot be read.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from datetime import datetime
from types import FrameType
from typing import Any

from lib.core.times import format_duration, format_second, now_utc, parse_utc
from lib.ops.flags import project_option
from lib.ops.output import counted, emit, format_option

BUDGET_S = 6 * 3600.0  # an operator's pass; the function's is its invocation's budget
STOPS = {
    "done": "complete",
    "time": "stopped at the time budget; the next pass continues",
    "held": "another pass holds this project; stood aside",
    "page_failed": "a page failed; the watermark stays before it",
    "incomplete": "a window could not be read completely; the watermark stays before it",
    "write_failed": "writing failed; the watermark stays before it",
    "lake_unreadable": "a lake file could not be read; the watermark stays before it",
    "follow_failed": "unfinished tasks could not be queued; the watermark stays before them",
    "state_refused": "its discovery state was refused; nothing was listed",
    "error": "the pass failed unexpectedly; the watermark stays where it was",
    "interrupted": "interrupted; the watermark stays where it was",
}


class Terminated(BaseException):
    """SIGTERM, raised where the pass is, so its `finally` blocks run and release the lease."""


def register(commands: Any, lake_option: Callable[[argparse.ArgumentParser], None]) -> None:
    parser = commands.add_parser(
        "discover",
        help="one discovery pass: list each project's new tasks into the lake (--status: state)",
        description="List each project's tasks from its watermark (less DISCOVER_LOOKBACK_H) up "
        "to now through the CBR list API, write the ones the lake lacks and move the watermark. "
        "Projects: --project (repeatable), else CBR_PROJECT_IDS, else CBR_PROJECT_ID. --status "
        "shows each project's watermark, last run, lag and lease instead, from the lake alone.",
    )
    lake_option(parser)
    project_option(parser)
    parser.add_argument(
        "--status", action="store_true", help="show each project's discovery state; list nothing"
    )
    format_option(parser)
    parser.set_defaults(run=discover_command)


def discover_command(args: argparse.Namespace) -> int:
    if args.status:
        from lib.ops.discover_status import status_command

        return status_command(args)
    return pass_command(args)


def pass_command(args: argparse.Namespace) -> int:
    from lib.aws.app import Root
    from lib.core.runtime import Deadline
    from lib.core.settings import Settings
    from lib.ingest.discover_run import ProjectRun, summarize

    root = Root(Settings.from_env(os.environ, lake_uri=args.lake))
    projects = root.discover_projects(args.project)
    discovery = root.discovery
    discovery.done_level = logging.DEBUG  # each pass is said below, in a sentence
    deadline = Deadline.after(BUDGET_S)
    runs: list[ProjectRun] = []
    try:
        with sigterm_raises():
            for project in projects:
                runs.append(discovery.run_project(project, deadline))
    except (KeyboardInterrupt, Terminated) as exc:
        print(interrupted(discovery.current, exc), file=sys.stderr)
        return 1
    now = now_utc()
    summary = summarize(runs, now)
    emit(args.format, summary, describe(summary["projects"], args.lake, now))
    return 1 if summary["discovery_failures"] else 0


@contextlib.contextmanager
def sigterm_raises() -> Iterator[None]:
    """Within the block, SIGTERM raises Terminated in the main thread (as Ctrl-C raises
    KeyboardInterrupt), so a stopped pass unwinds through its `finally` blocks."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def terminate(signum: int, frame: FrameType | None) -> None:
        raise Terminated()

    previous = signal.signal(signal.SIGTERM, terminate)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def interrupted(run: Any, exc: BaseException) -> str:
    """One sentence on what an interrupt left behind."""
    by = "SIGTERM" if isinstance(exc, Terminated) else "Ctrl-C"
    if run is None:
        return f"discover: stopped by {by} before any project was listed."
    mark = run.watermark_after
    where = f"its watermark stays at {format_second(mark)}" if mark else "it has no watermark yet"
    lease = (
        "its lease was released"
        if run.lease_released
        else "its lease could not be released and expires within 5 minutes"
    )
    return (
        f"discover: stopped by {by} during project {run.project_id}: {lease} and {where}; "
        "run discover again to continue."
    )


def describe(projects: list[dict[str, Any]], lake: str, now: datetime) -> str:
    return "\n".join(describe_run(run, lake, now) for run in projects)


def describe_run(run: dict[str, Any], lake: str, now: datetime) -> str:
    """One project's pass in sentences, times to the second."""
    if run["stopped_by"] == "held":
        return f"{run['project_id']}: {held(run, now)}"
    text = (
        f"{run['project_id']}: {STOPS.get(run['stopped_by'], run['stopped_by'])}. "
        f"Listed {_second(run['window_from'])} to {_second(run['window_to'])} in "
        f"{counted(run['pages'], 'page')}: {counted(run['listed'], 'task')} listed, "
        f"{run['new_rows']} new in {lake}, {run['known']} "
        f"already there, {run['duplicates']} listed twice (on a second two pieces share). "
        f"Watermark {_second(run['watermark_before'])} -> {_second(run['watermark_after'])}"
    )
    if run["listed_from"] and run["watermark_after"]:
        text += f"; listed whole from {_second(run['listed_from'])}"
    text += "."
    if run["followed"]:
        text += f" {counted(run['followed'], 'unfinished task')} queued to follow."
    if run["drift"]:
        text += f" Fields the schema does not know (kept in raw_json): {_fields(run['drift'])}."
    if run["error"]:
        text += f" Error: {run['error']}"
    return text


def held(run: dict[str, Any], now: datetime) -> str:
    if run["held_until"] is None:
        return "another pass took this project over; stood aside, the other pass continues."
    until = parse_utc(run["held_until"])
    return (
        f"another pass holds this project until {format_second(until)} (at most "
        f"{format_duration((until - now).total_seconds())} more); stood aside, nothing listed."
    )


def _second(value: str | None) -> str:
    return format_second(parse_utc(value)) if value else "none"


def _fields(drift: dict[str, int]) -> str:
    shown = sorted(drift.items(), key=lambda item: (-item[1], item[0]))
    return ", ".join(f"{path} ({count})" for path, count in shown[:10]) + (
        f" and {len(shown) - 10} more" if len(shown) > 10 else ""
    )
