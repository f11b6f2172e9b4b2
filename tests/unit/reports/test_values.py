"""Values as people read them and as SQL receives them: durations, rates, parameters, periods."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from lib.reports.parameters import (
    ParameterError,
    PeriodError,
    Request,
    Scope,
    athena_literals,
    check_number,
    format_number,
    render,
    scope_for,
)
from lib.reports.values import display, duration, percent, plain, unit_of

NOW = datetime(2026, 11, 30, 12, tzinfo=UTC)


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0, "0 s"),
        (0.44, "0.4 s"),
        (9.96, "10 s"),
        (45, "45 s"),
        (12.5, "13 s"),
        (61, "1 min 01 s"),
        (3720, "1 h 02 min"),
        (86399, "23 h 59 min"),  # the smaller unit is cut, not rounded up
        (2 * 86400 + 3 * 3600 + 59, "2 d 03 h"),
        (-90, "-1 min 30 s"),
    ],
)
def test_durations_read_in_two_units(seconds: float, text: str) -> None:
    assert duration(seconds) == text


def test_rates_read_as_percentages() -> None:
    assert [percent(x) for x in (0.875, 1, 0.33333, 0)] == ["87.5 %", "100 %", "33.3 %", "0 %"]


def test_a_columns_unit_comes_from_its_name() -> None:
    assert [unit_of(c) for c in ("p95_s", "hours_open", "success_rate", "tasks")] == [
        "seconds",
        "hours",
        "fraction",
        None,
    ]
    assert display("duration_s", 3720.0) == "1 h 02 min"
    assert display("hours_since_success", 58.8) == "2 d 10 h"
    assert display("compliance_rate", Decimal("0.6667")) == "66.7 %"
    assert display("compliance_rate", None) == ""
    assert display("tasks", 5) == "5" and display("day", date(2026, 11, 3)) == "2026-11-03"


def test_csv_and_json_keep_the_raw_values() -> None:
    assert plain(Decimal("0.5")) == 0.5
    assert plain(datetime(2026, 11, 3, 4, 5, 6, tzinfo=UTC)) == "2026-11-03T04:05:06Z"
    assert plain(3720.0) == 3720.0


@pytest.mark.parametrize("value", [-1.0, float("nan"), float("inf"), 1e7])
def test_parameters_refuse_negatives_and_the_unreasonable(value: float) -> None:
    with pytest.raises(ParameterError) as raised:
        check_number("rpo_hours", value)
    assert raised.value.name == "rpo_hours" and "--" not in str(raised.value)


def test_parameters_accept_fractions_and_write_them_plainly() -> None:
    assert check_number("stuck_hours", 0.5) == 0.5
    assert [format_number(x) for x in (24.0, 0.5, 12.25, 0.0, 1e6)] == [
        "24",
        "0.5",
        "12.25",
        "0",
        "1000000",
    ]
    with pytest.raises(ParameterError, match="at most 100"):
        check_number("adherence_pct", 100.5)


def test_a_scope_fills_defaults_and_evaluates_at_the_end_or_now() -> None:
    request = Request(now=NOW, until=datetime(2026, 11, 20, tzinfo=UTC), values={"rpo_hours": 6})
    scope = scope_for(request, 30, ["rpo_hours", "stuck_hours"])
    assert scope.since == datetime(2026, 10, 31, tzinfo=UTC)  # today so far and 30 days before
    assert scope.at == datetime(2026, 11, 20, tzinfo=UTC)  # the end, which is earlier
    assert dict(scope.values) == {"rpo_hours": 6.0, "stuck_hours": 6.0}
    assert scope_for(Request(now=NOW), None, ["hours"], {"hours": 24}).values == {"hours": 24.0}


def test_a_period_that_ends_before_it_starts_is_refused_without_flags() -> None:
    with pytest.raises(PeriodError) as raised:
        Request(
            now=NOW,
            since=datetime(2026, 11, 2, tzinfo=UTC),
            until=datetime(2026, 11, 1, tzinfo=UTC),
        )
    assert "--" not in str(raised.value)
    with pytest.raises(PeriodError):  # a default window that starts after the given end
        scope_for(Request(now=NOW, until=datetime(2026, 10, 1, tzinfo=UTC)), 7, [])


def test_sql_literals_for_the_cli_and_defaults_for_athena() -> None:
    scope = Scope(None, None, NOW, {"rpo_hours": 0.5})
    sql = "WHERE t >= {since} AND t < {until} AND age <= {rpo_hours} AND x < {at}"
    assert render(sql, scope.literals()) == (
        "WHERE t >= TIMESTAMP '-infinity' AND t < TIMESTAMP 'infinity' AND age <= 0.5 "
        "AND x < TIMESTAMP '2026-11-30 12:00:00.000000'"
    )
    athena = athena_literals(30, ["rpo_hours"], {})
    # Plain UTC timestamps, as the lake's columns are: Trino has no sequence() over a timestamp
    # with a time zone, which is what current_timestamp is.
    assert athena["rpo_hours"] == "24"
    assert athena["at"] == "CAST(current_timestamp AT TIME ZONE 'UTC' AS TIMESTAMP)"
    assert athena["since"].startswith(f"date_trunc('day', {athena['at']})")
    assert "INTERVAL '30' DAY" in athena["since"]


def test_a_rate_reads_the_same_in_a_tile_a_table_and_a_chart() -> None:
    """Tiles and tables format the fraction, charts the percentage scaled for drawing: one rule
    (one decimal, the decimal value half away from zero, as the SQL rounds)."""
    from lib.reports.values import percentage

    for rate in (0.9261, 0.9265, 0.3333, 0.6667, 0.8333, 0.125, 1.0, 0.0):
        assert percent(rate) == percentage(round(rate * 100, 2)), rate
    assert percent(0.9261) == "92.6 %" and percent(0.9265) == "92.7 %"
