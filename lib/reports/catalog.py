"""The reports, controls and shared relations, as declared by the `.sql` files in lib/reports/sql.

Each file starts with `-- key: value` lines: `title`, `description` (may name parameters as
`{token}`), `window_days` (a number, `all` or `none`), `hours` (the report's default for
`{hours}`), `history: true` (the report looks before its period, e.g. for the latest backup), and
the chart drawn in HTML (`chart`, `chart_x`, `chart_y`, ...; see ChartSpec). Reports read the
`latest` view (sql/latest_view.sql: one row per id, greatest updated_at then ingested_at) and the
relations in sql/relations; each control in sql/controls gives one row per resource.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from lib.reports.parameters import Request, tokens_in

if TYPE_CHECKING:
    from lib.core.settings import LakeLocation
    from lib.reports.result import ReportResult

SQL_DIR = Path(__file__).resolve().parent / "sql"
LATEST_VIEW = "latest_view"
# Presentation order (the CLI list, `report all`, the HTML page); every .sql file must appear here.
ORDER = (
    "controls",
    "resource-compliance",
    "adherence",
    "daily",
    "failures",
    "stale-resources",
    "app-consistency",
    "replication",
    "restores",
    "deletions",
    "durations",
    "stuck",
    "coverage",
    "latest",
)
CONTROL_ORDER = (
    "backup-within-rpo",
    "daily-adherence",
    "app-consistency",
    "cross-region-copy",
    "restore-tested",
    "restore-time",
    "min-retention",
    "no-stuck-tasks",
)
# Relations a query may read besides `latest`, in the order they can be defined: each may read
# the ones before it. The static ones are files in sql/relations; the composed ones are built from
# the controls chosen (lib/reports/controls.py).
STATIC_RELATIONS = ("resources", "backups_by_id", "restored_resources", "adherence_days")
COMPOSED_RELATIONS = ("control_list", "resource_compliance")
RELATIONS = STATIC_RELATIONS + COMPOSED_RELATIONS
DATA_RELATIONS = ("operation_log_errors", "discover_state")
LAYOUTS = ("stacked", "grouped", "horizontal", "heatmap")
_HEADER = re.compile(r"--\s*(\w+):\s*(.*)")


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

    def columns(self) -> set[str]:
        return {self.x, *self.y} | {c for c in (self.rows, self.label) if c}


@dataclass(frozen=True)
class Query:
    """One .sql file: a report, a control or a relation."""

    name: str
    title: str
    description: str
    sql: str
    window_days: int | None = None  # default window; None = the query is not windowed
    default_hours: float | None = None
    history: bool = False  # reads partitions from before its period
    chart: ChartSpec | None = None

    @property
    def windowed(self) -> bool:
        return self.window_days is not None

    @property
    def parameters(self) -> list[str]:
        return tokens_in(self.sql)

    def defaults(self) -> dict[str, float]:
        return {} if self.default_hours is None else {"hours": self.default_hours}


Report = Query  # the name used where a query is run as a report


@cache
def all_reports() -> dict[str, Query]:
    """Every report, by its CLI name (file name with `-` for `_`), in presentation order."""
    return _load(SQL_DIR, ORDER, skip=frozenset({LATEST_VIEW}))


@cache
def all_controls() -> dict[str, Query]:
    return _load(SQL_DIR / "controls", CONTROL_ORDER)


@cache
def static_relations() -> dict[str, Query]:
    """The relations written as .sql files, by table name."""
    return _load(SQL_DIR / "relations", STATIC_RELATIONS, dash=False)


Window = Request  # the name callers used before controls brought more parameters


def run_report(name: str, lake: LakeLocation | str, request: Request) -> ReportResult:
    """One report over the lake, every parameter at its default unless the request sets it."""
    from lib.reports.engine import run_reports  # DuckDB only when a report runs

    return run_reports(lake, request, [name])[0]


def latest_view_sql() -> str:
    return (SQL_DIR / f"{LATEST_VIEW}.sql").read_text(encoding="utf-8")


def get_report(name: str) -> Query:
    try:
        return all_reports()[name]
    except KeyError:
        known = ", ".join(all_reports())
        raise ReportError(f"unknown report {name!r}; choose one of: {known}") from None


def _load(
    folder: Path, order: tuple[str, ...], skip: frozenset[str] = frozenset(), dash: bool = True
) -> dict[str, Query]:
    found = {}
    for path in folder.glob("*.sql"):
        if path.stem not in skip:
            name = path.stem.replace("_", "-") if dash else path.stem
            found[name] = parse(name, path.read_text(encoding="utf-8"))
    if set(found) != set(order):
        raise RuntimeError(f"{folder} and its order disagree: {sorted(set(found) ^ set(order))}")
    return {name: found[name] for name in order}


def parse(name: str, text: str) -> Query:
    """A query from its file text; raises ValueError for a malformed header."""
    header = {m[1]: m[2].strip() for line in text.splitlines() if (m := _HEADER.fullmatch(line))}
    window = header.get("window_days", "none")
    return Query(
        name=name,
        title=header.get("title", name),
        description=header.get("description", ""),
        sql=text,
        window_days=None if window == "none" else (0 if window == "all" else int(window)),
        default_hours=float(header["hours"]) if "hours" in header else None,
        history=header.get("history") == "true",
        chart=_chart(name, header),
    )


def _chart(name: str, header: dict[str, str]) -> ChartSpec | None:
    if "chart" not in header:
        return None
    spec = ChartSpec(
        layout=header["chart"],
        x=header["chart_x"],
        y=tuple(c.strip() for c in header["chart_y"].split(",") if c.strip()),
        unit=header.get("chart_unit", ""),
        title=header.get("chart_title", ""),
        rows=header.get("chart_rows"),
        label=header.get("chart_label"),
        order=header.get("chart_order", "category"),
        combine=header.get("chart_combine", "sum"),
    )
    if spec.layout not in LAYOUTS or spec.order not in ("category", "value", "rows"):
        raise ValueError(f"{name}: unknown chart layout or order in {spec}")
    if (
        spec.combine not in ("sum", "max")
        or not spec.y
        or (spec.layout == "heatmap") != bool(spec.rows)
    ):
        raise ValueError(f"{name}: a chart needs value columns (and rows only for a heatmap)")
    return spec


def referenced(sql: str, names: tuple[str, ...]) -> list[str]:
    """Which of `names` a query reads (as a table), in the order given; comments and string
    literals are ignored so a reason text that says "resources" is not a reference."""
    code = re.sub(r"--[^\n]*|'(?:[^']|'')*'", " ", sql)
    words = set(re.findall(r"\b(?:FROM|JOIN)\s+([a-z_]+)", code, flags=re.IGNORECASE))
    return [name for name in names if name in words]
