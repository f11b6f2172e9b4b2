"""Running reports with DuckDB over the lake's pyarrow datasets.

A session is one DuckDB connection for one period: the `latest` view over the partitions the period
can touch, and the relations the reports read (resources, resource_compliance, ...) computed once,
on first use, and shared by every report of the session. The inventory snapshot in force at the
evaluation time is read through the lake's snapshot reader and registered as Arrow tables
(lib/reports/inventory.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import pyarrow as pa

from lib.core.schema import (
    DATA_TABLE,
    ERRORS_SCHEMA,
    ERRORS_TABLE,
    OPERATION_LOGS_SCHEMA,
    PARTITION_KEY,
)
from lib.core.settings import LakeLocation
from lib.core.times import now_utc, utc_day
from lib.lake.reader import SCAN_ATTEMPTS, LakeNotFound, open_table
from lib.reports.catalog import INVENTORY_REPORTS, ORDER, get_report, latest_view_sql
from lib.reports.compose import (
    columns_read,
    needed,
    reads_logs,
    referenced,
    relation_sql,
    scope_of,
)
from lib.reports.controls import choose
from lib.reports.coverage import LakeCoverage, LakeState, read_lake_state
from lib.reports.declaration import Query, ReportError
from lib.reports.inventory import RELATIONS as INVENTORY_RELATIONS
from lib.reports.inventory import LakeInventory
from lib.reports.parameters import TOKEN, Request, Scope, format_number, render
from lib.reports.result import InForce, ReportResult

# What DuckDB says when a file of the scan vanished (a compaction replaced it meanwhile).
LOST_FILE_SIGNS = ("No such file or directory", "NoSuchKey", "does not exist")
NO_INVENTORY = (
    "the lake has no inventory snapshot yet: `python -m lib inventory` (or the function's "
    "inventory event) takes one"
)
NO_LOGS = (
    "the lake has no operation logs yet (no task ingested), so nothing here comes from them; "
    "the coverage line says for which periods that absence is proven"
)
MISSING_ENGINE = (
    "the reports need DuckDB, which is not installed in this Python environment: "
    "pip install '.[reports]' in the checkout (or pip install -r requirements-reports.txt)"
)


def describe(text: str, scope: Scope) -> str:
    """A description with its parameters filled in: "older than {hours} h" -> "older than 24 h"."""

    def value(match: Any) -> str:
        number = scope.values.get(match[1])
        return match[0] if number is None else format_number(number)

    return TOKEN.sub(value, text)


def run_reports(
    lake: LakeLocation | str,
    request: Request,
    names: Sequence[str],
    controls: Sequence[str] | None = None,
) -> list[ReportResult]:
    """Run the named reports; reports over the same period share one session. A plain string
    is a local folder, or an S3 lake reached with AWS's own settings."""
    lake = location_of(lake)
    inventory = LakeInventory(lake)
    relations = relation_sql(controls_for(inventory, controls))
    for attempt in range(1, SCAN_ATTEMPTS + 1):
        try:
            return _run_once(lake, request, names, relations, inventory)
        except _FileLost:
            # A compaction deleted a file after listing it and writing its rows elsewhere:
            # list the lake again and run again.
            if attempt == SCAN_ATTEMPTS:
                raise ReportError("files kept vanishing while the reports ran: run again") from None
    raise AssertionError("unreachable")


def controls_for(inventory: LakeInventory, names: Sequence[str] | None) -> tuple[str, ...]:
    """The controls named, or by default all of them; the inventory controls only when the lake
    has an inventory (without one, the operation-log controls run exactly as they always did)."""
    return choose(names, inventory=names is not None or inventory.exists())


def has_inventory(lake: LakeLocation | str) -> bool:
    """Whether any project of the lake has an inventory state (then its controls and reports run
    by default)."""
    return LakeInventory(location_of(lake)).exists()


def all_report_names(lake: LakeLocation | str) -> list[str]:
    """What `all` runs: every report, those of the inventory only when the lake has one."""
    inventory = has_inventory(lake)
    return [name for name in ORDER if inventory or name not in INVENTORY_REPORTS]


def run_report(name: str, lake: LakeLocation | str, request: Request) -> ReportResult:
    """One report over the lake, every parameter at its default unless the request sets it."""
    return run_reports(lake, request, [name])[0]


def _run_once(
    lake: LakeLocation,
    request: Request,
    names: Sequence[str],
    relations: dict[str, str],
    inventory: LakeInventory,
) -> list[ReportResult]:
    sessions: dict[tuple[Any, ...], Session] = {}
    state = read_lake_state(lake, request.now)  # once: every report states its coverage
    # A lake that has an inventory or discovery's state but no operation logs yet (nothing was
    # ever backed up, or nothing ingested) is still a lake: its reports run and say so. A
    # folder holding none of them is refused (a mistyped --lake, most likely).
    required = not (inventory.exists() or state.projects)
    try:
        results = []
        for name in names:
            report = get_report(name)
            scope = scope_of(report, request, relations)
            key = (scope.since, scope.until, report.history)
            if key not in sessions:
                connection, missing = _connect(lake, _dt_range(scope, report.history), required)
                sessions[key] = Session(connection, lake, relations, inventory, missing, state)
            results.append(sessions[key].run(report, scope))
        return results
    finally:
        for session in sessions.values():
            session.close()


class _FileLost(Exception):
    """A file listed for a report was gone when DuckDB came to read it."""


class Session:
    """One DuckDB connection holding the `latest` view for one period; the relations reports
    read are made in it on first use."""

    def __init__(
        self,
        connection: Any,
        lake: LakeLocation | str,
        relations: dict[str, str],
        inventory: LakeInventory | None = None,
        logs_missing: str | None = None,
        state: LakeState | None = None,
    ) -> None:
        self.connection = connection
        self.lake = location_of(lake)
        self.relations = relations
        self.inventory = inventory or LakeInventory(self.lake)
        self.logs_missing = logs_missing  # why the operation logs are not there, if they are not
        self.state = state  # discovery's and verify's, read on first use when not given
        self.at: datetime | None = None  # the evaluation time the inventory is read at
        self._made: set[str] = set()
        self._coverage: LakeCoverage | None = None

    def run(self, report: Query, scope: Scope) -> ReportResult:
        literals = scope.literals()
        self.at = scope.at
        try:
            for name in needed(report.sql, self.relations):
                self._make(name, literals)
            cursor = self.connection.execute(render(report.sql, literals))
            columns = [d[0] for d in cursor.description]
            rows = [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]
        except _engine_errors() as exc:
            if any(sign in str(exc) for sign in LOST_FILE_SIGNS):
                raise _FileLost from exc
            first_line = str(exc).strip().splitlines()[0]
            raise ReportError(f"the {report.name} report failed in DuckDB: {first_line}") from None
        if tuple(columns) != report.columns:  # the declaration is what CSV headers promise
            raise RuntimeError(f"{report.name} returned {columns}, declared {list(report.columns)}")
        return ReportResult(
            name=report.name,
            title=report.title,
            description=describe(report.description, scope),
            columns=columns,
            rows=rows,
            scope=scope,
            chart=report.chart,
            notes=self._notes_for(report),
            snapshots=self._snapshots_for(report),
            coverage=self.coverage(scope) if reads_logs(report, self.relations) else None,
        )

    def lake_state(self) -> LakeState:
        if self.state is None:
            self.state = read_lake_state(self.lake, now_utc())
        return self.state

    def coverage(self, scope: Scope) -> LakeCoverage:
        """The period's coverage (the same for every report of the session): every project
        with state, and those holding tasks in the period without any."""
        if self._coverage is None:
            if "latest" not in self._made:
                self._materialise_latest()
            bounds = scope.literals()
            seen = self.connection.execute(
                "SELECT DISTINCT project_id FROM latest WHERE project_id IS NOT NULL "
                f"AND created_at >= {bounds['since']} AND created_at < {bounds['at']}"
            ).fetchall()
            self._coverage = self.lake_state().over(scope.since, scope.at, [r[0] for r in seen])
        return self._coverage

    def _snapshots_for(self, report: Query) -> tuple[InForce, ...]:
        used = needed(report.sql, self.relations)
        if not any(name in INVENTORY_RELATIONS for name in used):
            return ()
        return self.inventory.by_project(self.at)

    def _notes_for(self, report: Query) -> tuple[str, ...]:
        """What the reader must know: discovery or verify state that cannot be read (with the
        coverage every report of the operation logs states), and the inventory snapshot each
        project was judged by (when the lake has an inventory, or the report is about it)."""
        used = needed(report.sql, self.relations)
        notes = []
        if reads_logs(report, self.relations):
            notes += [self.logs_missing] if self.logs_missing else []
            notes += self.lake_state().notes
        if any(name in INVENTORY_RELATIONS for name in used):
            if self.inventory.exists():
                notes += self.inventory.statements(self.at)
            elif referenced(report.sql, (*INVENTORY_RELATIONS, "snapshot_resources")):
                notes.append(NO_INVENTORY)
        return tuple(notes)

    def _make(self, name: str, literals: dict[str, str]) -> None:
        if name in self._made:
            return
        if name in INVENTORY_RELATIONS:
            self.connection.register(name, self.inventory.relation(name, self.at))
        elif name == ERRORS_TABLE:
            self._register_errors()
        elif name == "discover_state":
            self._register_watermarks()
        elif name == "proof_spans":
            self._register_proof_spans()
        else:
            body = render(self.relations[name], literals)
            if "latest" not in self._made and referenced(body, ("latest",)):
                self._materialise_latest()
            self.connection.execute(f"CREATE TEMP TABLE {name} AS {body}")
        self._made.add(name)

    def _materialise_latest(self) -> None:
        """Relations read `latest` many times over (each control does): compute it once, with
        only the columns the SQL names, instead of once per reference."""
        columns = ", ".join(columns_read())
        self.connection.execute("DROP VIEW latest")
        self.connection.execute(
            f"CREATE TEMP TABLE latest AS SELECT {columns} FROM ({latest_view_sql()}) AS ranked"
        )
        self._made.add("latest")

    def _register_errors(self) -> None:
        try:
            dataset: Any = open_table(self.lake, ERRORS_TABLE)
        except (LakeNotFound, FileNotFoundError):
            dataset = ERRORS_SCHEMA.empty_table()
        self.connection.register("lake_operation_log_errors", dataset)
        self.connection.execute(
            f"CREATE VIEW {ERRORS_TABLE} AS SELECT * FROM lake_operation_log_errors"
        )

    def _register_watermarks(self) -> None:
        marks = self.lake_state().watermarks()
        self.connection.execute(
            "CREATE TEMP TABLE discover_state (project_id VARCHAR, watermark TIMESTAMPTZ)"
        )
        if marks:
            self.connection.executemany("INSERT INTO discover_state VALUES (?, ?)", marks)

    def _register_proof_spans(self) -> None:
        """What discovery listed and verify proved, per project and source, unmerged (naive
        UTC, as the report SQL's literals are); the SQL merges them."""
        spans = self.lake_state().spans()
        self.connection.execute(
            "CREATE TEMP TABLE proof_spans (project_id VARCHAR, source VARCHAR, "
            "span_start TIMESTAMP, span_end TIMESTAMP)"
        )
        if spans:
            self.connection.executemany("INSERT INTO proof_spans VALUES (?, ?, ?, ?)", spans)

    def close(self) -> None:
        self.connection.close()


def _engine_errors() -> tuple[type[BaseException], ...]:
    import duckdb

    return (duckdb.Error,)


def location_of(lake: LakeLocation | str) -> LakeLocation:
    return lake if isinstance(lake, LakeLocation) else LakeLocation(str(lake))


def _open_logs(lake: LakeLocation, required: bool) -> tuple[Any, str | None]:
    """The operation_logs dataset, or (when the lake can do without: it has an inventory or
    discovery's state) an empty table and why the logs are missing."""
    try:
        dataset = open_table(lake, DATA_TABLE)
        missing = (
            None if dataset.files else f"the lake at {lake.uri} has no operation_logs files yet"
        )
    except (LakeNotFound, FileNotFoundError, OSError) as exc:
        missing = f"no operation_logs in the lake at {lake.uri}: {exc}"
    if missing is None:
        return dataset, None
    if required:
        raise ReportError(missing)
    empty = OPERATION_LOGS_SCHEMA.append(pa.field(PARTITION_KEY, pa.string())).empty_table()
    return empty, NO_LOGS


def _connect(lake: LakeLocation, dt_range: str, required: bool = True) -> tuple[Any, str | None]:
    try:
        import duckdb  # the reporting tools' dependency, not the Lambda function's
    except ImportError:
        raise ReportError(MISSING_ENGINE) from None
    dataset, missing = _open_logs(lake, required)
    connection = duckdb.connect()
    connection.execute("SET TimeZone = 'UTC'")
    connection.execute("SET enable_progress_bar = false")  # output is the report, nothing else
    # DuckDB pushes both the dt filter (partition pruning) and the column list of each report
    # down into the pyarrow dataset scan, so a report reads only the files and columns it needs.
    connection.register("lake_operation_logs", dataset)
    connection.execute(
        f"CREATE VIEW {DATA_TABLE} AS SELECT * FROM lake_operation_logs WHERE {dt_range}"
    )
    connection.execute(f"CREATE VIEW latest AS {latest_view_sql()}")
    return connection, missing


def _dt_range(scope: Scope, history: bool) -> str:
    """Only the dt partitions the period can touch (dt is the UTC date of created_at); a report
    that looks back before its period (history) reads every partition up to its end."""
    bounds = ["TRUE"]
    if scope.since is not None and not history:
        bounds.append(f"{PARTITION_KEY} >= '{utc_day(scope.since)}'")
    if scope.until is not None:
        bounds.append(f"{PARTITION_KEY} <= '{utc_day(scope.until)}'")
    return " AND ".join(bounds)
