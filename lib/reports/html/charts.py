"""A report's chart, as declared with its SQL (declaration.ChartSpec), built from its rows.

The declaration names the report's own columns; tests/unit/reports checks every name against
the columns the SQL returns, so renaming a column cannot silently drop a chart.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Literal

from lib.core.times import format_utc
from lib.reports.declaration import ChartSpec
from lib.reports.result import ReportResult
from lib.reports.values import format_cell, is_numeric, unit_of

Number = int | float
NO_VALUE_LABEL = "(none)"
COLOURS = {
    "success": "#2e7d32",
    "failed": "#c62828",
    "timeout": "#f9a825",
    "in_progress": "#1565c0",
    "other": "#9e9e9e",
    "p50_s": "#9ecae1",
    "p95_s": "#4292c6",
    "max_s": "#08519c",
    "code_count": "#c62828",
    "compliance_rate": "#2e7d32",
}
FALLBACK_COLOURS = ("#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948")


@dataclass(frozen=True)
class Series:
    name: str
    colour: str
    values: list[Number | None]  # one per chart category, None = no value (drawn as zero)


@dataclass(frozen=True)
class Chart:
    name: str
    title: str
    layout: Literal["stacked", "grouped", "horizontal"]
    categories: list[str]
    series: list[Series]
    value_axis: str  # what the bar length measures, e.g. "tasks"
    category_axis: str
    percent: bool = False  # values are percentages (fractions in the report, times 100)

    def has_data(self) -> bool:
        return bool(self.categories) and any(
            value is not None for series in self.series for value in series.values
        )


def as_number(value: Any) -> Number | None:
    """A chart value, or None for anything that cannot be drawn (null, text, NaN)."""
    if not is_numeric(value):
        return None
    number = float(value) if not isinstance(value, int) else value
    if isinstance(number, float) and not math.isfinite(number):
        return None
    return number


def category_label(value: Any) -> str:
    if isinstance(value, datetime):
        return format_utc(value)[:10]
    if isinstance(value, date):
        return value.isoformat()
    return format_cell(value) or NO_VALUE_LABEL


def combine(values: Iterable[Any], how: str) -> Number | None:
    """Rows sharing a category: their sum (missing counts are zero, so one null cell does not hide
    a whole day) or their largest value; None when no row has a number."""
    numbers = [number for value in values if (number := as_number(value)) is not None]
    if not numbers:
        return None
    return sum(numbers) if how == "sum" else max(numbers)


def build_chart(result: ReportResult) -> Chart | None:
    """The report's declared bar chart, or None when it has none or nothing to draw."""
    spec = result.chart
    if spec is None or spec.layout == "heatmap" or not result.rows:
        return None
    groups: dict[str, list[dict[str, Any]]] = {}
    for row in result.rows:
        groups.setdefault(category_label(row.get(spec.x)), []).append(row)
    percent = all(unit_of(column) == "fraction" for column in spec.y)
    values = {
        column: {
            label: scaled(combine((row.get(column) for row in rows), spec.combine), percent)
            for label, rows in groups.items()
        }
        for column in spec.y
    }
    categories = ordered(list(groups), values[spec.y[0]], spec.order)
    chart = Chart(
        name=result.name,
        title=f"{result.title}: {spec.title}",
        layout=spec.layout,  # type: ignore[arg-type]
        categories=categories,
        series=[
            series(column, i, [values[column][c] for c in categories])
            for i, column in enumerate(spec.y)
        ],
        value_axis=spec.unit,
        category_axis=axis_name(spec),
        percent=percent,
    )
    return chart if chart.has_data() else None


def scaled(value: Number | None, percent: bool) -> Number | None:
    return None if value is None else (round(value * 100, 2) if percent else value)


def ordered(labels: list[str], first: dict[str, Number | None], order: str) -> list[str]:
    """Categories sorted, largest value first (ties by label), or as the rows came."""
    if order == "category":
        return sorted(labels)
    if order == "value":
        return sorted(labels, key=lambda label: (-(first[label] or 0), label))
    return labels


def series(column: str, index: int, values: list[Number | None]) -> Series:
    colour = COLOURS.get(column, FALLBACK_COLOURS[index % len(FALLBACK_COLOURS)])
    return Series(column, colour, values)


def axis_name(spec: ChartSpec) -> str:
    return "day (UTC)" if spec.x == "day" else spec.x.replace("_", " ")
