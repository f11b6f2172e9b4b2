"""The saved Athena queries would compile and run on Trino (Athena engine v3).

No Athena endpoint is reachable from here, so the queries in template.yaml are type-checked
against Trino's function signatures (trino_functions.py, checked by trino_check.py), their
sequences are shown unable to run backwards, and their reads of the lake are shown pruned to the
period's partitions. Rounding is the same rule on both engines: DuckDB runs it here, and the
expression is one Trino evaluates the same way (a decimal rounded half away from zero).
"""

from __future__ import annotations

from typing import Any

import duckdb
import pytest
import sqlglot
import yaml
from sqlglot import exp
from trino_check import Checker, PlainCalls

from lib.core.inventory_schema import INVENTORY_TABLES
from lib.core.schema import ERRORS_SCHEMA, OPERATION_LOGS_SCHEMA, PARTITION_KEY
from lib.reports.athena import STATE_COLUMNS, hive_type
from lib.reports.athena_inventory import GLUE_TABLES, STATE_FILES, glue_name
from lib.reports.catalog import all_reports
from lib.reports.macros import expand

from conftest import ROOT

UTC_NOW = "CAST(AT_TIMEZONE(CURRENT_TIMESTAMP, 'UTC') AS TIMESTAMP)"


def trino_type(hive: str) -> str:
    """A Glue (Hive) type as Trino names it: `array<string>` is `array(varchar)`,
    `array<map<string,string>>` is `array(map(varchar, varchar))`; structs, and arrays of
    them, are rows and arrays with their fields left out."""
    if hive.startswith(("struct", "array<struct")):
        return hive.split("<")[0].replace("struct", "row")
    for kind in ("array", "map"):
        if hive.startswith(f"{kind}<"):
            inner = hive[len(kind) + 1 : -1]
            parts = [inner] if kind == "array" else inner.split(",", 1)
            return f"{kind}({', '.join(trino_type(p) for p in parts)})"
    return {"string": "varchar", "int": "integer"}.get(hive, hive)


def glue_schema() -> dict[str, dict[str, str]]:
    """The Glue tables as Trino sees them: their columns and the dt partition key."""

    def columns(schema: Any) -> dict[str, str]:
        typed = {f.name: trino_type(hive_type(f.type)) for f in schema}
        return typed | {PARTITION_KEY: "varchar"}

    inventory = {glue_name(t.name): columns(t.schema) for t in INVENTORY_TABLES.values()}
    published = "array(row(snapshot_id varchar, snapshot_at varchar, dt varchar))"
    return inventory | {
        "operation_logs": columns(OPERATION_LOGS_SCHEMA),
        "operation_log_errors": columns(ERRORS_SCHEMA),
        **{
            table: {name: trino_type(hive) for name, hive in state.items()} | {"$path": "varchar"}
            for table, state in STATE_COLUMNS.items()
        },
        STATE_FILES: {"project_id": "varchar", "snapshots": published, "$path": "varchar"},
    }


class _Loader(yaml.SafeLoader):
    """Reads CloudFormation short-form tags (!Ref, !Sub, ...) as plain values."""


_Loader.add_multi_constructor("!", lambda loader, suffix, node: None)


def saved_queries() -> dict[str, str]:
    """The report queries as template.yaml deploys them (the latest view's DDL aside)."""
    resources = yaml.load((ROOT / "template.yaml").read_text(), Loader=_Loader)["Resources"]
    queries = {
        r["Properties"]["Name"].removeprefix("oplog-lake "): r["Properties"]["QueryString"]
        for r in resources.values()
        if r["Type"] == "AWS::Athena::NamedQuery"
    }
    del queries["create-latest-view"]
    return queries


QUERIES = saved_queries()


def problems(sql: str) -> list[str]:
    return Checker(glue_schema()).check(sql)


@pytest.mark.parametrize("name", sorted(QUERIES))
def test_every_saved_query_calls_only_functions_trino_has_with_types_it_accepts(name: str) -> None:
    assert problems(QUERIES[name]) == []


def test_the_check_refuses_a_sequence_over_timestamps_with_a_time_zone() -> None:
    """What the queries did before: the period bounds were derived from current_timestamp."""
    coverage = QUERIES["coverage"]
    assert UTC_NOW in coverage
    found = problems(coverage.replace(UTC_NOW, "CURRENT_TIMESTAMP"))
    assert any(p.startswith("sequence(timestamp with time zone, ") for p in found), found


def test_the_check_refuses_a_function_trino_lacks_and_arguments_it_does_not_take() -> None:
    daily = QUERIES["daily"]
    assert "DATE_TRUNC(" in daily and "COUNT(*)" in daily
    assert problems(daily.replace("DATE_TRUNC(", "DATE_TRUNK(")) == [
        "date_trunk: not a function of the list (trino_functions.py)"
    ]
    wrong = "SELECT SUBSTR(created_at, 1) AS s FROM operation_logs"
    assert problems(wrong) == ["substr(timestamp, integer): no Trino signature takes these"]


def sequences(sql: str) -> list[exp.Anonymous]:
    tree = sqlglot.parse_one(sql, dialect=PlainCalls)
    return [f for f in tree.find_all(exp.Anonymous) if f.name.upper() == "SEQUENCE"]


def test_no_sequence_can_run_backwards() -> None:
    """Trino refuses a sequence whose stop is before its start (a resource first backed up on
    the evaluation day, most days): every stop is GREATEST(start, ...)."""
    calls = [call for sql in QUERIES.values() for call in sequences(sql)]
    assert len(calls) >= 3  # coverage, and the adherence grid in adherence and the controls
    for call in calls:
        start, stop, _step = call.expressions
        assert isinstance(stop, exp.Anonymous) and stop.name.upper() == "GREATEST", call.sql()
        assert stop.expressions[0] == start, call.sql()


def partition_filters(sql: str) -> list[str]:
    """For each read of a lake table, the dt comparisons in the WHERE of the SELECT reading it."""
    tree = sqlglot.parse_one(sql, dialect=PlainCalls)
    found = []
    for table in tree.find_all(exp.Table):
        if table.name in ("operation_logs", "operation_log_errors", *GLUE_TABLES):
            where = table.find_ancestor(exp.Select).args.get("where")
            comparisons = where.find_all(exp.GTE, exp.LTE) if where else []
            found.append(
                " ".join(
                    sorted(
                        type(c).__name__
                        for c in comparisons
                        if isinstance(c.this, exp.Column) and c.this.name == PARTITION_KEY
                    )
                )
            )
    return found


@pytest.mark.parametrize("name", sorted(QUERIES))
def test_every_saved_query_reads_only_the_partitions_of_its_period(name: str) -> None:
    report = all_reports()[name]
    looks_back = report.history or not report.window_days
    expected = "LTE" if looks_back else "GTE LTE"  # up to the period's end; from its start
    filters = partition_filters(QUERIES[name])
    assert filters and set(filters) == {expected}


@pytest.mark.parametrize(
    ("value", "digits", "rounded"),
    [(0.35, 1, 0.4), (-0.35, 1, -0.4), (0.25, 1, 0.3), (2.675, 2, 2.68), (0.123449, 4, 0.1234)],
)
def test_rounding_is_half_away_from_zero_on_the_decimal_value(value, digits, rounded) -> None:
    """DuckDB rounds the double 0.35 (0.34999...) to 0.3, Trino to 0.4; the shared rule rounds
    the decimal value, which both engines do half away from zero."""
    sql = expand(f"SELECT round_half_up(CAST({value} AS DOUBLE), {digits})")
    assert duckdb.connect().execute(sql).fetchall() == [(rounded,)]
    assert "ROUND(CAST((CAST(" in sql and "AS DECIMAL(38, 9))" in sql


def test_no_saved_query_rounds_a_double_directly() -> None:
    for name, sql in QUERIES.items():
        tree = sqlglot.parse_one(sql, dialect=PlainCalls)
        for call in tree.find_all(exp.Anonymous):
            if call.name.upper() == "ROUND":
                value = call.expressions[0]
                assert isinstance(value, exp.Cast) and value.to.this == exp.DataType.Type.DECIMAL, (
                    name,
                    call.sql(),
                )


@pytest.mark.parametrize(
    ("hours", "text"),
    [
        (31.04, "31.0 h"),
        (48, "48.0 h"),
        (49.2, "2.1 days"),
        (445.2, "18.6 days"),
        (772.0, "4.6 weeks"),
        (8760, "52.1 weeks"),
        (66095.3, "7.5 years"),
    ],
)
def test_ages_in_reasons_are_hours_up_to_48_then_days_weeks_years(hours, text) -> None:
    """One rule, one expression (the age_text macro), in every control's reason on both
    engines: "66095.3 h" reads as 7.5 years."""
    sql = expand(f"SELECT age_text(CAST({hours} AS DOUBLE))")
    assert duckdb.connect().execute(sql).fetchall() == [(text,)]
    reasons = QUERIES["resource-compliance"]
    assert reasons.count("' years'") == reasons.count("' weeks'") >= 7  # every age in a reason
