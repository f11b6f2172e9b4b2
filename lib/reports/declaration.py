"""What a report, control or relation is: a `.sql` file in lib/reports/sql and a declaration.

The declarations themselves are plain data: reports and the shared relations in `catalog`,
controls in `controls`. Everything the engine, the CLI, the HTML page and the Athena generator
need to know about a query (its title, period, parameters, chart, columns) is declared here, and
the SQL file holds only SQL. A declaration is checked when it is made: a chart that names a column
the report does not declare, or a parameter the SQL does not use, is refused at import.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from lib.reports.macros import expand
from lib.reports.parameters import tokens_in

SQL_DIR = Path(__file__).resolve().parent / "sql"
LAYOUTS = ("stacked", "grouped", "horizontal", "heatmap")
ORDERS = ("category", "value", "rows")
# What every control returns, one row per evaluated resource.
CONTROL_COLUMNS = (
    "control",
    "resource_id",
    "resource_name",
    "resource_type",
    "vault_name",
    "status",
    "reason",
    "evidence_ids",
)
STATUSES = ("COMPLIANT", "NON_COMPLIANT", "INSUFFICIENT_DATA")


class ReportError(ValueError):
    """A report cannot run as asked (unknown name, empty lake, missing engine)."""


@dataclass(frozen=True)
class ChartSpec:
    """The chart drawn beside a report's table, named by the report's own columns."""

    layout: str  # stacked | grouped | horizontal | heatmap
    x: str  # the category column (heatmap: the column of the grid's columns)
    y: tuple[str, ...]  # one series per column (heatmap: the counts that colour a cell)
    unit: str  # what the value axis measures
    title: str
    rows: str | None = None  # heatmap: the column naming each grid row
    label: str | None = None  # heatmap: a column with a readable name for each row
    order: str = "category"  # category (sorted) | value (largest first) | rows (as returned)
    combine: str = "sum"  # how rows that share a category add up: sum | max

    def __post_init__(self) -> None:
        if self.layout not in LAYOUTS or self.order not in ORDERS:
            raise ValueError(f"unknown chart layout or order in {self}")
        if (
            self.combine not in ("sum", "max")
            or not self.y
            or (self.layout == "heatmap") != bool(self.rows)
        ):
            raise ValueError(f"a chart needs value columns (and rows only for a heatmap): {self}")

    def columns(self) -> set[str]:
        return {self.x, *self.y} | {c for c in (self.rows, self.label) if c}


@dataclass(frozen=True)
class Query:
    """One declared query: a report, a control or a relation.

    `sql` names the file under lib/reports/sql; `parameters` are the numeric tokens the file
    itself uses (`{rpo_hours}`; the moments `{since}`, `{until}`, `{at}` are always there), with
    per-query `defaults` where the parameter has none of its own (`hours`). `window_days` is the
    default period (None: not windowed; 0: all history); `history` says the query reads
    partitions before its period (the latest backup, the first backup task).
    """

    name: str  # the CLI name (reports, controls) or the table name (relations)
    sql_file: str
    title: str
    description: str  # one sentence; may name parameters as {token}
    columns: tuple[str, ...]
    parameters: tuple[str, ...] = ()
    defaults: Mapping[str, float] = field(default_factory=dict)
    window_days: int | None = None
    history: bool = False
    chart: ChartSpec | None = None

    def __post_init__(self) -> None:
        if len(set(self.columns)) != len(self.columns):
            raise ValueError(f"{self.name}: a column is declared twice")
        if self.chart is not None and not self.chart.columns() <= set(self.columns):
            missing = sorted(self.chart.columns() - set(self.columns))
            raise ValueError(f"{self.name}: the chart names undeclared columns {missing}")
        if not set(self.defaults) <= set(self.parameters):
            raise ValueError(f"{self.name}: a default for a parameter it does not declare")

    @property
    def sql(self) -> str:
        return sql_text(self.sql_file)

    @property
    def windowed(self) -> bool:
        return self.window_days is not None

    def check(self) -> Query:
        """The declaration, once its SQL file is known to use exactly the declared parameters."""
        used = tokens_in(self.sql)
        if used != list(self.parameters):
            raise RuntimeError(
                f"{self.name}: {self.sql_file} uses parameters {used}, the declaration names "
                f"{list(self.parameters)}"
            )
        return self


def report(
    name: str,
    sql_file: str,
    title: str,
    description: str,
    columns: str,
    *,
    window_days: int | None = None,
    history: bool = False,
    parameters: tuple[str, ...] = (),
    defaults: Mapping[str, float] | None = None,
    chart: ChartSpec | None = None,
) -> Query:
    """A report declaration; `columns` as one space-separated string, in the SQL's order."""
    return Query(
        name,
        sql_file,
        title,
        description,
        tuple(columns.split()),
        parameters,
        defaults or {},
        window_days,
        history,
        chart,
    )


def control(
    name: str, sql_file: str, title: str, description: str, parameters: tuple[str, ...] = ()
) -> Query:
    """A control declaration: one row per evaluated resource, in CONTROL_COLUMNS."""
    return Query(name, sql_file, title, description, CONTROL_COLUMNS, parameters)


def relation(name: str, sql_file: str, title: str, description: str, columns: str) -> Query:
    """A relation declaration: a table the reports and controls read, named `name`."""
    return Query(name, sql_file, title, description, tuple(columns.split()))


@cache
def sql_text(sql_file: str) -> str:
    """A SQL file's text with its macros (lib/reports/macros.py) expanded."""
    return expand((SQL_DIR / sql_file).read_text(encoding="utf-8"))


def checked(queries: tuple[Query, ...]) -> dict[str, Query]:
    """Declarations by name, in the order declared; a name declared twice is refused."""
    found = {query.name: query.check() for query in queries}
    if len(found) != len(queries):
        raise RuntimeError("a query name is declared twice")
    return found
