"""Audit reports: the `.sql` files in lib/sql run by DuckDB over the lake's pyarrow datasets.

Each report file starts with `-- key: value` lines (title, description, window_days, hours).
Reports read the `latest` view (lib/sql/latest_view.sql: one row per id, greatest updated_at then
ingested_at). `{since}`, `{until}`, `{now}` and `{hours}` in the SQL are replaced with literals
here, or with Athena expressions when the SAM template is generated, so both run the same SQL.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

from lib.core.schema import DATA_TABLE, PARTITION_KEY
from lib.lake.reader import LakeNotFound, open_table
from lib.reports.html import ReportResult

SQL_DIR = Path(__file__).resolve().parent / "sql"
LATEST_VIEW = "latest_view"
# Presentation order (the CLI list, `report all`, the HTML page); every .sql file must appear here.
ORDER = (
    "latest",
    "daily",
    "failures",
    "stale-resources",
    "app-consistency",
    "replication",
    "durations",
    "stuck",
)
_TOKEN = re.compile(r"\{(since|until|now|hours)\}")
_HEADER = re.compile(r"--\s*(\w+):\s*(.*)")


class ReportError(ValueError):
    """A report cannot run as asked (unknown name, bad window, empty lake)."""


@dataclass(frozen=True)
class Report:
    """One report as declared by its .sql file."""

    name: str
    title: str
    description: str
    sql: str
    window_days: int | None  # default window; None = the report is not windowed
    default_hours: int | None

    @property
    def windowed(self) -> bool:
        return self.window_days is not None


@cache
def all_reports() -> dict[str, Report]:
    """Every report, by its CLI name (file name with `-` for `_`), in presentation order."""
    reports = {}
    for path in SQL_DIR.glob("*.sql"):
        if path.stem != LATEST_VIEW:
            report = _parse(path.stem.replace("_", "-"), path.read_text(encoding="utf-8"))
            reports[report.name] = report
    if set(reports) != set(ORDER):
        raise RuntimeError(
            f"lib/sql and reports.ORDER disagree: {sorted(set(reports) ^ set(ORDER))}"
        )
    return {name: reports[name] for name in ORDER}


def latest_view_sql() -> str:
    return (SQL_DIR / f"{LATEST_VIEW}.sql").read_text(encoding="utf-8")


def _parse(name: str, text: str) -> Report:
    header = {m[1]: m[2].strip() for line in text.splitlines() if (m := _HEADER.fullmatch(line))}
    window = header.get("window_days", "none")
    return Report(
        name=name,
        title=header["title"],
        description=header["description"],
        sql=text,
        window_days=None if window == "none" else (0 if window == "all" else int(window)),
        default_hours=int(header["hours"]) if "hours" in header else None,
    )


@dataclass(frozen=True)
class Window:
    """The parameters a report runs with; all times UTC."""

    now: datetime
    since: datetime | None = None
    until: datetime | None = None
    hours: float | None = None

    def for_report(self, report: Report) -> Window:
        """This window with the report's defaults filled in."""
        since = self.since
        if since is None and report.window_days:
            since = self.now - timedelta(days=report.window_days)
        hours = self.hours if self.hours is not None else report.default_hours
        if since is not None and self.until is not None and since >= self.until:
            raise ReportError(f"--since ({since.isoformat()}) must be before --until")
        return Window(self.now, since, self.until, hours)


def sql_literals(window: Window) -> dict[str, str]:
    """Token -> SQL literal; timestamps are naive UTC (DuckDB runs with TimeZone=UTC)."""

    def stamp(moment: datetime) -> str:
        return f"TIMESTAMP '{moment.astimezone(UTC).strftime('%Y-%m-%d %H:%M:%S.%f')}'"

    return {
        "since": stamp(window.since or datetime(1970, 1, 1, tzinfo=UTC)),
        "until": stamp(window.until or datetime(9999, 12, 31, tzinfo=UTC)),
        "now": stamp(window.now),
        "hours": str(int(window.hours or 0)),
    }


def render_sql(report: Report, values: dict[str, str]) -> str:
    return _TOKEN.sub(lambda m: values[m[1]], report.sql)


def run_report(name: str, lake: str, window: Window) -> ReportResult:
    """Run one report over the lake and return its rows."""
    report = get_report(name)
    effective = window.for_report(report)
    connection = _connect(lake, effective if report.windowed else None)
    try:
        cursor = connection.execute(render_sql(report, sql_literals(effective)))
        columns = [d[0] for d in cursor.description]
        rows = [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]
    finally:
        connection.close()
    return ReportResult(report.name, report.title, report.description, columns, rows)


def get_report(name: str) -> Report:
    try:
        return all_reports()[name]
    except KeyError:
        known = ", ".join(all_reports())
        raise ReportError(f"unknown report {name!r}; choose one of: {known}") from None


def _connect(lake: str, window: Window | None) -> Any:
    import duckdb  # the reporting tools' dependency, not the Lambda function's

    try:
        dataset = open_table(lake, DATA_TABLE)
    except (LakeNotFound, FileNotFoundError, OSError) as exc:
        raise ReportError(f"no operation_logs in the lake at {lake}: {exc}") from None
    if not dataset.files:
        raise ReportError(f"the lake at {lake} has no operation_logs files yet")
    connection = duckdb.connect()
    connection.execute("SET TimeZone = 'UTC'")
    # DuckDB pushes both the dt filter (partition pruning) and the column list of each report
    # down into the pyarrow dataset scan, so a report reads only the files and columns it needs.
    connection.register("lake_operation_logs", dataset)
    connection.execute(
        f"CREATE VIEW {DATA_TABLE} AS SELECT * FROM lake_operation_logs WHERE {_dt_range(window)}"
    )
    connection.execute(f"CREATE VIEW latest AS {latest_view_sql()}")
    return connection


def _dt_range(window: Window | None) -> str:
    """Only the dt partitions a window can touch (dt is the UTC date of created_at)."""
    bounds = ["TRUE"]
    if window is not None and window.since is not None:
        bounds.append(f"{PARTITION_KEY} >= '{_day(window.since)}'")
    if window is not None and window.until is not None:
        bounds.append(f"{PARTITION_KEY} <= '{_day(window.until)}'")
    return " AND ".join(bounds)


def _day(moment: datetime) -> str:
    return moment.astimezone(UTC).date().isoformat()
