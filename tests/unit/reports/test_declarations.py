"""What the declarations say agrees with what the .sql files return: columns, charts, controls,
parameters.

Every report, control and relation runs in DuckDB over empty tables of the lake's schema, so the
columns each returns are known without a lake; a declaration whose columns differ from its SQL's
fails here (and in the engine) instead of writing a CSV header that lies.
"""

from __future__ import annotations

import ast
import re
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pytest

from lib.core.schema import ERRORS_SCHEMA, ERRORS_TABLE, OPERATION_LOGS_SCHEMA
from lib.reports.catalog import all_reports, latest_view_sql, static_relations
from lib.reports.compose import relation_sql, scope_of
from lib.reports.controls import all_controls, choose
from lib.reports.declaration import CONTROL_COLUMNS, SQL_DIR, ChartSpec, Query, report
from lib.reports.engine import Session
from lib.reports.parameters import PARAMETERS, Request

from conftest import ROOT

NOW = datetime(2026, 11, 30, tzinfo=UTC)


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


@pytest.mark.parametrize("name", list(all_reports()))
def test_every_report_returns_the_columns_it_declares(session, name: str) -> None:
    report = all_reports()[name]
    assert columns_of(session, report) == list(report.columns)


def test_a_report_whose_sql_differs_from_its_declaration_is_refused_when_it_runs(session) -> None:
    daily = all_reports()["daily"]
    other = replace(daily, columns=tuple(c for c in daily.columns if c != "total"))
    with pytest.raises(RuntimeError, match="declared"):
        columns_of(session, other)


def test_a_chart_naming_an_undeclared_column_is_refused_at_the_declaration() -> None:
    chart = ChartSpec("stacked", x="day", y=("success", "open_tasks"), unit="tasks", title="t")
    with pytest.raises(ValueError, match="undeclared columns \\['open_tasks'\\]"):
        report("x", "daily.sql", "X", "x.", "day success", chart=chart)


@pytest.mark.parametrize("name", list(static_relations()))
def test_every_relation_returns_the_columns_it_declares(session, name: str) -> None:
    relation = static_relations()[name]
    session._make(name, scope_of(relation, Request(now=NOW), session.relations).literals())
    columns = [row[0] for row in session.connection.execute(f"DESCRIBE {name}").fetchall()]
    assert columns == list(relation.columns)


def test_every_sql_file_is_declared_once() -> None:
    declared = [q.sql_file for q in [*all_reports().values(), *all_controls().values()]]
    declared += [q.sql_file for q in static_relations().values()] + ["latest_view.sql"]
    files = sorted(p.relative_to(SQL_DIR).as_posix() for p in SQL_DIR.rglob("*.sql"))
    assert sorted(declared) == files


def test_a_declaration_naming_other_parameters_than_its_sql_is_refused() -> None:
    rpo = all_controls()["backup-within-rpo"]
    assert rpo.check() is rpo
    with pytest.raises(RuntimeError, match="uses parameters \\['rpo_hours'\\]"):
        replace(rpo, parameters=("stuck_hours",)).check()


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
    assert columns_of(session, control) == list(CONTROL_COLUMNS)
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
        ChartSpec("pie", x="a", y=("b",), unit="", title="")
    with pytest.raises(ValueError, match="value columns"):
        ChartSpec("heatmap", x="a", y=("b",), unit="", title="")


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
