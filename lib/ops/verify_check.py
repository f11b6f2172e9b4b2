"""One project's comparison for `verify`: the API's list, counted window by window, against the
lake's latest state of each task, and the repair of what is missing or stale."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import pyarrow as pa
import pyarrow.dataset as ds

from lib.cbr.answers import LogPage
from lib.core.errors import SinkError
from lib.core.schema import DATA_TABLE, PARTITION_KEY
from lib.core.times import EPOCH, format_second, parse_utc, utc_day
from lib.ingest.census import WindowCount
from lib.ingest.listing import Window
from lib.ops.output import agree, counted

BUDGET_S = 6 * 3600.0
SHOWN = 50  # IDs listed per kind in the text output (JSON lists them all)
Log = dict[str, Any]


@dataclass
class LakeTask:
    updated_at: datetime | None
    created_at: datetime | None


@dataclass
class ProjectCheck:
    """One project's comparison."""

    project_id: str
    api: int = 0  # tasks the API lists, created in the period
    lake: int = 0  # of those, tasks the lake holds
    missing: list[str] = field(default_factory=list)
    stale: list[str] = field(default_factory=list)
    repaired: int = 0
    windows: list[WindowCount] = field(default_factory=list)
    lake_only: int = 0  # tasks of the period in the lake that the API no longer lists
    recorded: str | None = None  # the proofs file the period was recorded in

    @property
    def could_compare(self) -> bool:
        """Every window's answered count agreed with the tasks received."""
        return all(window.agrees for window in self.windows)

    @property
    def complete(self) -> bool:
        return not self.missing and not self.stale

    @property
    def proven(self) -> bool:
        return self.complete and self.could_compare

    def as_dict(self) -> dict[str, Any]:
        return {
            "project_id": self.project_id,
            "api": self.api,
            "lake": self.lake,
            "missing": self.missing,
            "stale": self.stale,
            "repaired": self.repaired,
            "lake_only": self.lake_only,
            "could_compare": self.could_compare,
            "complete": self.proven,
            "recorded": self.recorded,
            "windows": [window.as_dict() for window in self.windows],
        }


def day_windows(start: datetime, end: datetime) -> list[Window]:
    """[start, end] in whole-second windows of a UTC day at most; the last one includes `end`
    (a task created in the period's last fraction of a second is listed)."""
    edges = [start]
    midnight = datetime(start.year, start.month, start.day, tzinfo=start.tzinfo)
    while (midnight := midnight + timedelta(days=1)) < end:
        edges.append(midnight)
    edges.append(end)
    return [Window.covering(a, b) for a, b in itertools.pairwise(edges)]


def check_project(
    root: Any, project_id: str, start: datetime, end: datetime, *, repair: bool
) -> ProjectCheck:
    from lib.core.runtime import Deadline
    from lib.ingest.census import Census

    latest: dict[str, Log] = {}
    texts: dict[str, bytes | None] = {}

    def keep(page: LogPage) -> None:
        for n, log in enumerate(page.logs):
            key = str(log.get("id"))
            if key not in latest or _order(log) >= _order(latest[key]):
                latest[key] = log
                texts[key] = page.texts[n] if page.texts is not None else None

    census = Census(root.client, project_id, keep, Deadline.after(BUDGET_S))
    windows = [census.read(window) for window in day_windows(start, end)]
    api = {key: log for key, log in latest.items() if _in(log, start, end)}
    lake = lake_latest(root.settings.lake, project_id, start, end)
    check = compare(project_id, api, lake, start, end)
    check.windows = windows
    if repair and not check.complete:
        check = _repair(root, check, api, texts, start, end)
    return check


def _repair(
    root: Any,
    check: ProjectCheck,
    api: dict[str, Log],
    texts: dict[str, bytes | None],
    start: datetime,
    end: datetime,
) -> ProjectCheck:
    from lib.ingest.known import KnownRows, LakeLogSink, log_drift

    sink = LakeLogSink(root.lake, KnownRows(root.store), scrub=root.scrub)
    gaps = [*check.missing, *check.stale]
    listed = [texts.get(i) for i in gaps]
    sink.add_logs(
        [api[i] for i in gaps],
        check.project_id,
        None if None in listed else listed,  # type: ignore[arg-type]
    )
    sink.flush()
    log_drift(sink.totals, project_id=check.project_id)
    lake = lake_latest(root.settings.lake, check.project_id, start, end)
    again = compare(check.project_id, api, lake, start, end)
    again.windows, again.repaired = check.windows, sink.totals.written
    return again


def lake_latest(lake: Any, project_id: str, start: datetime, end: datetime) -> dict[str, LakeTask]:
    """The latest state of each task of the project the lake holds around the period; a lake
    file that cannot be read is a SinkError naming it."""
    from lib.lake.reader import LakeNotFound, scan

    days = (ds.field(PARTITION_KEY) >= utc_day(start - timedelta(days=1))) & (
        ds.field(PARTITION_KEY) <= utc_day(end + timedelta(days=1))
    )
    rows = days & (ds.field("project_id") == project_id)
    columns = ["id", "updated_at", "created_at"]
    try:
        table = scan(lake, DATA_TABLE, lambda d: d.to_table(columns=columns, filter=rows))
    except LakeNotFound:
        return {}
    except (pa.ArrowException, OSError) as exc:
        raise SinkError(f"a lake file could not be read: {exc}") from None
    latest: dict[str, LakeTask] = {}
    for row in table.to_pylist():
        seen, updated = latest.get(row["id"]), row["updated_at"]
        if seen is None or (
            updated is not None and (seen.updated_at is None or updated > seen.updated_at)
        ):
            latest[row["id"]] = LakeTask(updated, row["created_at"])
    return latest


def compare(
    project_id: str, api: dict[str, Log], lake: dict[str, LakeTask], start: datetime, end: datetime
) -> ProjectCheck:
    check = ProjectCheck(project_id, api=len(api), lake=sum(key in lake for key in api))
    for key in sorted(api):
        if key not in lake:
            check.missing.append(key)
        elif (api_updated := _moment(api[key].get("updated_at"))) is not None:
            held = lake[key].updated_at
            if held is None or held < api_updated:
                check.stale.append(key)
    check.lake_only = sum(
        1
        for key, task in lake.items()
        if key not in api and task.created_at is not None and start <= task.created_at < end
    )
    return check


def _order(log: Log) -> datetime:
    """A log's place among its task's states: by updated_at, one without it first."""
    return _moment(log.get("updated_at")) or EPOCH


def _in(log: Log, start: datetime, end: datetime) -> bool:
    created = _moment(log.get("created_at"))
    return created is None or start <= created < end


def _moment(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return parse_utc(value)
    except ValueError:
        return None


def describe_check(check: ProjectCheck) -> list[str]:
    """A project's comparison in lines: the verdict, the IDs, then every window read."""
    if not check.could_compare:
        verdict = "COULD NOT COMPARE (a window's count disagrees with the tasks received)"
    else:
        verdict = "complete" if check.complete else "INCOMPLETE"
    lines = [
        f"{check.project_id}: {verdict}: the API lists {counted(check.api, 'task')}, "
        f"the lake holds {check.lake}; {len(check.missing)} missing, {len(check.stale)} stale"
        + (f" (repaired {check.repaired})" if check.repaired else "")
        + "."
    ]
    if check.recorded:
        lines.append(f"  Recorded as proven complete in {check.recorded}.")
    if check.lake_only:
        lines.append(
            f"  {counted(check.lake_only, 'task')} in the lake "
            f"{agree(check.lake_only, 'is', 'are')} no longer listed by the API."
        )
    lines += [f"  missing {key}" for key in check.missing[:SHOWN]]
    lines += [f"  stale   {key}" for key in check.stale[:SHOWN]]
    if len(check.missing) > SHOWN or len(check.stale) > SHOWN:
        lines.append("  ... (--format json lists them all)")
    lines.append(f"  Windows read ({len(check.windows)}):")
    lines += [f"    {_window(window)}" for window in check.windows]
    return lines


def _window(window: WindowCount) -> str:
    span = f"{format_second(window.window.start)} to {format_second(window.window.end)}"
    pieces = f" in {len(window.pieces)} pieces" if len(window.pieces) > 1 else ""
    text = (
        f"{span}: {counted(len(window.tasks), 'task')}{pieces}, {counted(window.pages, 'request')}"
    )
    disagreements = window.disagreements
    for piece in disagreements[:3]:
        counts = ", ".join("none" if c is None else str(c) for c in piece.counts)
        text += (
            f"; COUNT DISAGREES from {format_second(piece.window.start)} to "
            f"{format_second(piece.window.end)}: the API counted {counts}, gave {piece.received}"
        )
    if len(disagreements) > 3:
        text += f"; and {len(disagreements) - 3} more pieces disagree (--format json)"
    return text
