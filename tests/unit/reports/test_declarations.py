"""What the .sql files declare agrees with what they return: charts, controls, parameters.

Every report, control and relation runs in DuckDB over empty tables of the lake's schema, so the
columns each returns are known without a lake; a chart that names a column its SQL does not
return fails here instead of silently disappearing from the HTML page.
"""

from __future__ import annotations

import ast
import re
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pytest

from lib.core.schema import ERRORS_SCHEMA, ERRORS_TABLE, OPERATION_LOGS_SCHEMA
from lib.reports.catalog import (
    ChartSpec,
    Query,
    all_controls,
    all_reports,
    latest_view_sql,
    parse,
)
from lib.reports.compose import relation_sql, scope_of
from lib.reports.controls import choose
from lib.reports.engine import Session
from lib.reports.parameters import PARAMETERS, Request

from conftest import ROOT

NOW = datetime(2026, 11, 30, tzinfo=UTC)
CONTROL_COLUMNS = [
    "control",
    "resource_id",
    "resource_name",
    "resource_type",
    "vault_name",
    "status",
    "reason",
    "evidence_ids",
]


@pytest.fixture(scope="module")
def session(tmp_path_factory: pytest.TempPathFactory) -> Session:
    """A session over empty tables: the lake path holds nothing (no errors, no state)."""
    connection = duckdb.connect()
    connection.execute("SET TimeZone = 'UTC'")
    connection.register("empty_logs", OPERATION_LOGS_SCHEMA.empty_table())
    connection.execute("CREATE VIEW operation_logs AS SELECT * FROM empty_logs")
    connection.execute(f"CREATE VIEW latest AS {latest_view_sql()}")
    lake = str(tmp_path_factory.mktemp("nothing"))
    return Session(connection, lake, relation_sql(choose(None)))


def columns_of(session: Session, query: Query) -> list[str]:
    request = Request(now=NOW)
    return session.run(query, scope_of(query, request, session.relations)).columns


def chart_problems(spec: ChartSpec, columns: list[str]) -> list[str]:
    return sorted(spec.columns() - set(columns))


@pytest.mark.parametrize("name", list(all_reports()))
def test_every_report_runs_and_its_chart_names_columns_it_returns(session, name: str) -> None:
    report = all_reports()[name]
    columns = columns_of(session, report)
    assert columns and len(set(columns)) == len(columns)
    if report.chart is not None:
        assert chart_problems(report.chart, columns) == []


def test_a_chart_naming_a_column_the_sql_lacks_is_caught(session) -> None:
    daily = all_reports()["daily"]
    renamed = parse("daily", daily.sql.replace("AS in_progress", "AS open_tasks"))
    assert chart_problems(renamed.chart, columns_of(session, renamed)) == ["in_progress"]


def test_the_charts_declared_are_the_ones_expected() -> None:
    charts = {n: r.chart.layout for n, r in all_reports().items() if r.chart}
    assert charts == {
        "controls": "horizontal",
        "adherence": "heatmap",
        "daily": "stacked",
        "failures": "horizontal",
        "durations": "grouped",
    }


@pytest.mark.parametrize("name", list(all_controls()))
def test_every_control_gives_the_same_columns_and_names_itself(session, name: str) -> None:
    control = all_controls()[name]
    assert columns_of(session, control) == CONTROL_COLUMNS
    assert f"'{name}' AS control" in control.sql
    assert control.title and control.description


def test_every_declared_parameter_is_used_and_described() -> None:
    used = {p for q in [*all_reports().values(), *all_controls().values()] for p in q.parameters}
    assert used == set(PARAMETERS)
    for control in all_controls().values():
        for parameter in control.parameters:  # the description states the threshold
            assert f"{{{parameter}}}" in control.description, control.name


def test_a_malformed_chart_declaration_is_refused() -> None:
    with pytest.raises(ValueError, match="chart layout"):
        parse("x", "-- chart: pie\n-- chart_x: a\n-- chart_y: b\nSELECT 1 AS a, 2 AS b")
    with pytest.raises(ValueError, match="value columns"):
        parse("x", "-- chart: heatmap\n-- chart_x: a\n-- chart_y: b\nSELECT 1 AS a, 2 AS b")


def test_errors_and_state_relations_exist_when_the_lake_has_none(session) -> None:
    columns = columns_of(session, all_reports()["coverage"])
    assert "watermark" in columns and "error_reasons" in columns
    assert ERRORS_TABLE in session._made and ERRORS_SCHEMA.names


# --- the shape of the code (issue: architecture) ------------------------------------------------

LIBRARY = sorted((ROOT / "lib" / "reports").rglob("*.py"))
SOURCES = [*LIBRARY, ROOT / "lib" / "ops" / "report_cli.py"]


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(ROOT)))
def test_modules_and_functions_stay_small(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    assert text.count("\n") <= 400
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            length = (node.end_lineno or node.lineno) - node.lineno + 1
            assert length <= 50, f"{node.name} is {length} lines"


FLAG = re.compile(r"--(?:since|until|lake|out|format|hours|now|controls|[a-z]+-[a-z-]+)\b")


@pytest.mark.parametrize("path", LIBRARY, ids=lambda p: str(p.relative_to(ROOT)))
def test_library_code_names_no_command_line_flag(path: Path) -> None:
    """lib/reports speaks of parameters; the CLI (lib/ops/report_cli.py) names the flags."""
    strings = [
        node.value
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.Constant) and isinstance(node.value, str)
    ]
    assert [s for s in strings if FLAG.search(s)] == []


def test_the_reports_page_names_every_report_control_and_parameter() -> None:
    section = (ROOT / "docs" / "reports.md").read_text(encoding="utf-8")
    for name in [*all_reports(), *all_controls()]:
        assert f"| `{name}` |" in section, name
    for parameter in PARAMETERS:
        assert "--" + parameter.replace("_", "-") in section, parameter
