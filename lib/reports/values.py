"""Report values as text: raw for scripts (csv, json), readable for people (table, html).

A column's unit comes from its name, so the SQL declares it once: `_s` is seconds, `hours_` is
hours, `_rate` is a fraction. People see `1 h 02 min` and `87.5 %`; csv and json keep the numbers.
"""

from __future__ import annotations

import math
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from lib.core.times import format_second, format_utc
from lib.reports.parameters import PARAMETERS, Scope, format_number


def unit_of(column: str) -> str | None:
    """ "seconds", "hours" or "fraction" when the column name says so."""
    if column.endswith("_s"):
        return "seconds"
    if column.startswith("hours_"):
        return "hours"
    if column.endswith("_rate"):
        return "fraction"
    return None


def plain(value: Any) -> Any:
    """JSON/CSV form of a value: timestamps in ISO 8601 UTC with Z, decimals as numbers."""
    if isinstance(value, datetime):
        return format_utc(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    return value


def plain_row(row: dict[str, Any]) -> dict[str, Any]:
    return {key: plain(value) for key, value in row.items()}


def format_float(value: float) -> str:
    """At most 4 decimals, trailing zeros dropped: 12.5, 0.3333, 61."""
    if not math.isfinite(value):
        return str(value)
    text = f"{value:.4f}".rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def format_cell(value: Any) -> str:
    """A value's text with no unit applied; None is an empty cell."""
    if value is None:
        return ""
    if isinstance(value, bool):  # before int: bool is an int subclass
        return "true" if value else "false"
    if isinstance(value, datetime):  # before date: datetime is a date subclass
        return format_utc(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float | Decimal):
        return format_float(float(value))
    return str(value)


def is_numeric(value: Any) -> bool:
    return isinstance(value, int | float | Decimal) and not isinstance(value, bool)


def display(column: str, value: Any) -> str:
    """A cell as people read it: durations and percentages in their units, moments to the
    second (CSV and JSON keep the microseconds)."""
    if isinstance(value, datetime):
        return format_utc(value.replace(microsecond=0))
    unit = unit_of(column)
    if unit is None or not is_numeric(value) or not math.isfinite(float(value)):
        return format_cell(value)
    number = float(value)
    if unit == "fraction":
        return percent(number)
    return duration(number * 3600 if unit == "hours" else number)


def percent(fraction: float | Decimal) -> str:
    """0.875 -> "87.5 %", 1 -> "100 %", 0.33333 -> "33.3 %", 0.9265 -> "92.7 %"."""
    return percentage(_decimal(fraction) * 100)


def percentage(hundredths: float | Decimal) -> str:
    """A number already in percent, as `percent` writes it: one decimal, the decimal value
    rounded half away from zero (the rule the SQL rounds by), so a chart and a tile showing
    the same rate say the same: 92.65 -> "92.7 %"."""
    rounded = _decimal(hundredths).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)
    return f"{str(rounded).removesuffix('.0')} %".replace("-0 %", "0 %")


def _decimal(value: float | Decimal) -> Decimal:
    """The decimal a number reads as (0.1 is 0.1, not the binary 0.1000000000000000055...)."""
    return value if isinstance(value, Decimal) else Decimal(repr(float(value)))


def duration(seconds: float) -> str:
    """45 s, 12 min 05 s, 1 h 02 min, 2 d 03 h: two units, the larger first."""
    sign, left = ("-" if seconds < 0 else ""), abs(seconds)
    if left < 10:
        return f"{sign}{format_float(round(left, 1))} s"
    whole = int(left + 0.5)  # half up: 12.5 s is 13 s, as people round
    days, rest = divmod(whole, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{sign}{days} d {hours:02d} h"
    if hours:
        return f"{sign}{hours} h {minutes:02d} min"
    if minutes:
        return f"{sign}{minutes} min {secs:02d} s"
    return f"{sign}{secs} s"


ID_SHOWN = 8  # characters of a long ID that people see; 8 hex digits tell tasks apart in a month
ID_LONG = 12  # IDs up to this length are shown whole


def short_id(identifier: str) -> str:
    """A long ID as people scan it, its first characters and an ellipsis (the CSV and JSON, and
    the HTML's tooltip, keep it whole): "59ce5116-603c-4d70-..." -> "59ce5116…"; short IDs whole."""
    return identifier if len(identifier) <= ID_LONG else identifier[:ID_SHOWN] + "…"


def id_list(text: str | None) -> list[str]:
    """The IDs of an `evidence_ids`-like cell (comma-separated), in order, blanks dropped."""
    return [part.strip() for part in (text or "").split(",") if part.strip()]


def parameter_text(scope: Scope) -> str:
    """ "rpo_hours 24 h, stuck_hours 6 h" or "none"."""
    parts = [
        f"{name} {format_number(value)} {PARAMETERS[name].unit}"
        for name, value in scope.values.items()
    ]
    return ", ".join(parts) or "none"


def period_text(scope: Scope) -> str:
    """ "2026-11-01T00:00:00Z to 2026-12-01T00:00:00Z" (to the second, as people read every
    moment; JSON keeps the full precision) with open ends said in words."""
    since = format_second(scope.since) if scope.since else "the start of the lake"
    until = format_second(scope.until) if scope.until else "now"
    return f"{since} to {until}"


def scope_lines(scope: Scope, lake: str) -> list[tuple[str, str]]:
    """What a report states at its top, as (label, text) pairs."""
    return [
        ("period", period_text(scope)),
        ("evaluated at", format_second(scope.at)),
        ("parameters", parameter_text(scope)),
        ("lake", lake),
    ]
