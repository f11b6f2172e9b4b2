"""`python -m lib verify`: prove the lake complete for a period, against the API's own list.

For each project, the window is listed through ListOpLogs (the same robust listing discovery
uses) and compared with the lake's latest state of each listed task: tasks the lake lacks are
missing, tasks whose latest state in the lake is older than the API's are stale. `--repair`
writes them, then compares again.

Exit status: 0 complete, 1 something missing or stale, 2 could not compare (usage, API failure).
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import pyarrow.dataset as ds

from lib.cbr.answers import LogPage
from lib.core.errors import FetchError
from lib.core.ids import ID_RULE, is_valid_id
from lib.core.schema import DATA_TABLE, PARTITION_KEY
from lib.core.times import EPOCH, format_utc, now_utc, parse_day_or_moment, parse_utc, utc_day
from lib.ops.output import counted, emit, format_option

BUDGET_S = 6 * 3600.0
Log = dict[str, Any]


@dataclass
class ProjectCheck:
    """One project's comparison."""

    project_id: str
    api: int = 0  # tasks the API lists in the window
    lake: int = 0  # of those, tasks the lake holds
    missing: list[str] = field(default_factory=list)
    stale: list[str] = field(default_factory=list)
    repaired: int = 0

    @property
    def complete(self) -> bool:
        return not self.missing and not self.stale


class CannotCompare(ValueError):
    """The API could not be listed: nothing can be said about the lake."""


def register(commands: Any, lake_option: Callable[[argparse.ArgumentParser], None]) -> None:
    parser = commands.add_parser(
        "verify",
        help="compare the API's task list for a period with the lake (--repair fills the gaps)",
        description="List the period's tasks through the CBR list API and compare them with the "
        "lake's latest state of each: missing and stale tasks are named. Exit 0: complete; 1: "
        "missing or stale tasks; 2: could not compare.",
    )
    parser.add_argument("--since", required=True, help="first UTC day (ISO date or datetime)")
    parser.add_argument("--until", help="last UTC day, included (default: now)")
    lake_option(parser)
    parser.add_argument("--project", action="append", default=[], help="a project ID")
    parser.add_argument("--repair", action="store_true", help="write what is missing or stale")
    format_option(parser)
    parser.set_defaults(run=verify_command)


def verify_command(args: argparse.Namespace) -> int:
    from lib.aws.app import Root
    from lib.core.settings import CBR_ENDPOINT, Settings

    since = parse_day_or_moment(args.since)
    until = parse_day_or_moment(args.until, end_of_day=True) if args.until else now_utc()
    if since >= until:
        raise ValueError("--since must be before --until")
    bad = [project for project in args.project if not is_valid_id(project)]
    if bad:
        raise ValueError(f"--project must be {ID_RULE}, got {bad[0]!r}")
    root = Root(Settings.from_env(os.environ, lake_uri=args.lake))
    if root.settings.replay_dir is not None:
        raise ValueError(f"verify lists tasks from the API: set {CBR_ENDPOINT} to it")
    try:
        checks = [
            check_project(root, project, since, until, repair=args.repair)
            for project in root.discover_projects(args.project)
        ]
    except FetchError as exc:
        raise CannotCompare(f"could not list the tasks to compare: {exc}") from None
    document = {
        "since": format_utc(since),
        "until": format_utc(until),
        "lake": args.lake,
        "complete": all(check.complete for check in checks),
        "projects": [{**check.__dict__, "complete": check.complete} for check in checks],
    }
    emit(args.format, document, describe(checks, since, until, args.lake))
    return 0 if document["complete"] else 1


def check_project(
    root: Any, project_id: str, since: datetime, until: datetime, *, repair: bool
) -> ProjectCheck:
    texts: dict[str, bytes | None] = {}
    api = list_api(root, project_id, since, until, texts)
    check = compare(project_id, api, lake_latest(root.settings.lake, project_id, since, until))
    if repair and not check.complete:
        from lib.ingest.known import KnownRows, LakeLogSink

        sink = LakeLogSink(root.lake, KnownRows(root.settings.lake), scrub=root.scrub)
        gaps = [*check.missing, *check.stale]
        listed = [texts.get(i) for i in gaps]
        sink.add_logs(
            [api[i] for i in gaps],
            project_id,
            None if None in listed else listed,  # type: ignore[arg-type]
        )
        sink.flush()
        again = compare(project_id, api, lake_latest(root.settings.lake, project_id, since, until))
        again.repaired = sink.totals.written
        return again
    return check


def list_api(
    root: Any, project_id: str, since: datetime, until: datetime, texts: dict[str, bytes | None]
) -> dict[str, Log]:
    """Every task the API lists in the window: its latest listed state, by id (and its original
    text, into `texts`)."""
    from lib.core.runtime import Deadline
    from lib.ingest.listing import Lister, Window

    latest: dict[str, Log] = {}

    def keep(page: LogPage) -> None:
        for n, log in enumerate(page.logs):
            key = str(log.get("id"))
            if key not in latest or _order(log) >= _order(latest[key]):
                latest[key] = log
                texts[key] = page.texts[n] if page.texts is not None else None

    lister = Lister(root.client, project_id, keep, Deadline.after(BUDGET_S))
    # The API takes whole seconds with an inclusive end: stop one second before `until`.
    lister.list(Window.covering(since, max(since, until - timedelta(seconds=1))))
    return {key: log for key, log in latest.items() if _in(log, since, until)}


def lake_latest(
    lake: Any, project_id: str, since: datetime, until: datetime
) -> dict[str, datetime | None]:
    """The latest `updated_at` of each task of the project the lake holds around the window."""
    from lib.lake.reader import LakeNotFound, scan

    days = (ds.field(PARTITION_KEY) >= utc_day(since - timedelta(days=1))) & (
        ds.field(PARTITION_KEY) <= utc_day(until + timedelta(days=1))
    )
    rows = days & (ds.field("project_id") == project_id)
    try:
        table = scan(
            lake, DATA_TABLE, lambda d: d.to_table(columns=["id", "updated_at"], filter=rows)
        )
    except LakeNotFound:
        return {}
    latest: dict[str, datetime | None] = {}
    for row in table.to_pylist():
        seen, updated = latest.get(row["id"]), row["updated_at"]
        if row["id"] not in latest or (updated is not None and (seen is None or updated > seen)):
            latest[row["id"]] = updated
    return latest


def compare(project_id: str, api: dict[str, Log], lake: dict[str, datetime | None]) -> ProjectCheck:
    check = ProjectCheck(project_id, api=len(api), lake=sum(key in lake for key in api))
    for key in sorted(api):
        if key not in lake:
            check.missing.append(key)
        elif (api_updated := _updated(api[key])) is not None and (
            lake[key] is None or lake[key] < api_updated  # type: ignore[operator]
        ):
            check.stale.append(key)
    return check


def _updated(log: Log) -> datetime | None:
    return _moment(log.get("updated_at"))


def _order(log: Log) -> datetime:
    """A log's place among its task's states: by updated_at, one without it first."""
    return _updated(log) or EPOCH


def _in(log: Log, since: datetime, until: datetime) -> bool:
    created = _moment(log.get("created_at"))
    return created is None or since <= created < until


def _moment(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return parse_utc(value)
    except ValueError:
        return None


def describe(checks: Sequence[ProjectCheck], since: datetime, until: datetime, lake: str) -> str:
    lines = [f"Compared {format_utc(since)} to {format_utc(until)} with {lake}:"]
    for check in checks:
        verdict = "complete" if check.complete else "INCOMPLETE"
        lines.append(
            f"{check.project_id}: {verdict}: the API lists {counted(check.api, 'task')}, "
            f"the lake holds {check.lake}; {len(check.missing)} missing, {len(check.stale)} stale"
            + (f" (repaired {check.repaired})" if check.repaired else "")
            + "."
        )
        lines += [f"  missing {key}" for key in check.missing[:50]]
        lines += [f"  stale   {key}" for key in check.stale[:50]]
        if len(check.missing) + len(check.stale) > 100:
            lines.append("  ... (--format json lists them all)")
    return "\n".join(lines)
