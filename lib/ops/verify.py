"""`python -m lib verify`: prove the lake complete for a period, against the API's own list.

Independent of discovery: for each project the period is read by `lib.ingest.census` in
whole-second windows that include its last instant, each window's answered count checked
against the tasks received, and the tasks compared with the lake's latest state of each: tasks
the lake lacks are missing, tasks whose latest state in the lake is older than the API's are
stale. `--repair` writes them, then compares again. A period found complete (every count agreed,
nothing missing or stale) is recorded in `_state/verify/{project}.json` (`lib.ingest.coverage`).

Only what the API still lists can be compared: a period later than now is compared up to now,
and the part older than the list API surely keeps tasks is not compared; both are said.

Exit status: 0 complete, 1 something missing or stale, 2 could not compare (usage, API failure,
a window whose count disagrees with the tasks received, nothing of the period still listed).
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from lib.core.errors import FetchError
from lib.core.times import format_second, format_utc, now_utc, parse_day_or_moment
from lib.ops.flags import project_option
from lib.ops.output import emit, format_option
from lib.ops.verify_check import ProjectCheck, check_project, describe_check

BUDGET_S = 6 * 3600.0


class CannotCompare(ValueError):
    """The API could not be listed: nothing can be said about the lake."""


@dataclass(frozen=True)
class Period:
    """The period asked for, and the part of it that can be compared."""

    since: datetime
    until: datetime
    start: datetime
    end: datetime
    notes: tuple[str, ...] = ()

    @classmethod
    def of(
        cls, since: datetime, until: datetime, now: datetime, listable: timedelta, asked: str
    ) -> Period:
        """`asked`: how the end was given (the --until text), for the sentence about it."""
        notes = []
        end = min(until, now)
        if until > now:
            notes.append(
                f"--until {asked} is later than now: compared up to now ({format_second(now)})."
            )
        start = max(since, now - listable)
        if start > since:
            notes.append(
                f"The list API keeps tasks about 30 days: {format_second(since)} to "
                f"{format_second(min(start, end))} was not compared (only what it lists can be)."
            )
        if start >= end:
            raise CannotCompare(
                "nothing of the period can be compared: it is older than the list API keeps "
                f"tasks (about 30 days) or later than now ({format_second(now)})"
            )
        return cls(since, until, start, end, tuple(notes))


def register(commands: Any, lake_option: Callable[[argparse.ArgumentParser], None]) -> None:
    parser = commands.add_parser(
        "verify",
        help="compare the API's task list for a period with the lake (--repair fills the gaps)",
        description="List the period's tasks through the CBR list API, check each window's count "
        "and compare the tasks with the lake's latest state of each: missing and stale tasks are "
        "named. Exit 0: complete (recorded as proven); 1: missing or stale tasks; 2: could not "
        "compare.",
    )
    parser.add_argument("--since", required=True, help="first UTC day (ISO date or datetime)")
    parser.add_argument("--until", help="last UTC day, included (default: now)")
    lake_option(parser)
    project_option(parser)
    parser.add_argument("--repair", action="store_true", help="write what is missing or stale")
    format_option(parser)
    parser.set_defaults(run=verify_command)


def verify_command(args: argparse.Namespace) -> int:
    from lib.aws.app import Root
    from lib.core.settings import CBR_ENDPOINT, Settings
    from lib.ingest.discover_run import LISTABLE

    since, until = period_flags(args.since, args.until)
    now = now_utc()
    if since >= now:
        raise ValueError(f"--since {args.since} is later than now: there is nothing to compare yet")
    root = Root(Settings.from_env(os.environ, lake_uri=args.lake))
    if root.settings.replay_dir is not None:
        raise ValueError(f"verify lists tasks from the API: set {CBR_ENDPOINT} to it")
    period = Period.of(since, until, now, LISTABLE, args.until or "now")
    try:
        checks = [
            check_project(root, project, period.start, period.end, repair=args.repair)
            for project in root.discover_projects(args.project)
        ]
    except FetchError as exc:
        raise CannotCompare(f"could not list the tasks to compare: {exc}") from None
    for check in checks:
        if check.proven:
            check.recorded = record_proof(root, check, period, now)
    emit(args.format, document(args, period, checks), describe(checks, period, args.lake))
    if any(check.missing or check.stale for check in checks):
        return 1
    return 0 if all(check.proven for check in checks) else 2


def period_flags(since_text: str, until_text: str | None) -> tuple[datetime, datetime]:
    """--since and --until as moments; ValueError names the flag."""
    since = _flag("--since", since_text)
    until = _flag("--until", until_text, end_of_day=True) if until_text else now_utc()
    if since >= until:
        raise ValueError("--since must be before --until")
    return since, until


def _flag(flag: str, text: str, *, end_of_day: bool = False) -> datetime:
    try:
        return parse_day_or_moment(text, end_of_day=end_of_day)
    except ValueError as exc:
        if end_of_day and _readable(text):  # a real date whose next day leaves the calendar
            raise ValueError(
                f"{flag} {text}: the day after it is past the year 9999; give an earlier date, "
                "or leave --until out to compare up to now"
            ) from None
        raise ValueError(f"{flag}: {exc}") from None


def _readable(text: str) -> bool:
    try:
        parse_day_or_moment(text)
    except ValueError:
        return False
    return True


def record_proof(root: Any, check: ProjectCheck, period: Period, now: datetime) -> str:
    from lib.ingest.coverage import Proof, VerifyProofs, verify_key

    VerifyProofs(root.store).record(check.project_id, Proof(period.start, period.end, now), now)
    return verify_key(check.project_id)


def document(
    args: argparse.Namespace, period: Period, checks: list[ProjectCheck]
) -> dict[str, Any]:
    return {
        "since": format_utc(period.since),
        "until": format_utc(period.until),
        "compared_from": format_utc(period.start),
        "compared_to": format_utc(period.end),
        "notes": list(period.notes),
        "lake": args.lake,
        "complete": all(check.proven for check in checks),
        "projects": [check.as_dict() for check in checks],
    }


def describe(checks: list[ProjectCheck], period: Period, lake: str) -> str:
    lines = [f"Compared {format_second(period.start)} to {format_second(period.end)} with {lake}:"]
    lines += list(period.notes)
    for check in checks:
        lines += describe_check(check)
    return "\n".join(lines)
