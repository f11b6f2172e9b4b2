"""Audit report results as one self-contained HTML page: tables plus inline SVG charts.

The page has no scripts and loads nothing (no fonts, images or stylesheets from URLs), so it can
be archived next to an audit and opened offline. Charts carry `data-*` attributes (chart, series,
label, value) so tests and other tools can check the drawn numbers without reading pixels.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime
from html import escape
from typing import Any, Literal

from lib.core.times import format_utc

Number = int | float


@dataclass(frozen=True)
class ReportResult:
    name: str  # e.g. "daily", "failures", "durations", "stale-resources"
    title: str  # one-line human title
    description: str  # one sentence
    columns: list[str]
    rows: list[dict[str, Any]]  # str, int, float, bool, None, datetime (tz-aware UTC), date


# --- values as text ---------------------------------------------------------------------------


def format_float(value: float) -> str:
    """At most 4 decimals, trailing zeros dropped: 12.5, 0.3333, 61."""
    if not math.isfinite(value):
        return str(value)
    text = f"{value:.4f}".rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def format_cell(value: Any) -> str:
    """A table cell's text (not yet escaped); None is an empty cell."""
    if value is None:
        return ""
    if isinstance(value, bool):  # before int: bool is an int subclass
        return "true" if value else "false"
    if isinstance(value, datetime):  # before date: datetime is a date subclass
        return format_utc(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float):
        return format_float(value)
    return str(value)


def is_numeric(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def as_number(value: Any) -> Number | None:
    """A chart value, or None for anything that cannot be drawn (null, text, NaN)."""
    if not is_numeric(value):
        return None
    if isinstance(value, float) and not math.isfinite(value):
        return None
    number: Number = value
    return number


def format_chart_value(value: Number | None) -> str:
    """`data-value`: integral numbers without decimals, other floats in repr's short form."""
    if value is None:
        return ""
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    return str(value)


def day_label(value: Any) -> str:
    if isinstance(value, datetime):
        return format_utc(value)[:10]
    if isinstance(value, date):
        return value.isoformat()
    return format_cell(value)


def attrs(**values: Any) -> str:
    """Escaped HTML/SVG attributes; a trailing underscore allows `class_`, data_x becomes data-x."""
    parts = []
    for key, value in values.items():
        name = key.rstrip("_").replace("_", "-")
        parts.append(f'{name}="{escape(str(value), quote=True)}"')
    return " ".join(parts)


def px(value: float) -> str:
    """SVG coordinates rounded to 2 decimals: short markup, no float noise."""
    return format_float(round(value, 2))


# --- chart model --------------------------------------------------------------------------------


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

    def has_data(self) -> bool:
        return bool(self.categories) and any(
            value is not None for series in self.series for value in series.values
        )


STATUS_COLOURS = {
    "success": "#2e7d32",
    "failed": "#c62828",
    "timeout": "#f9a825",
    "in_progress": "#1565c0",
    "other": "#9e9e9e",
}
DURATION_COLOURS = {"p50_s": "#9ecae1", "p95_s": "#4292c6", "max_s": "#08519c"}
FAILURE_COLOUR = "#c62828"
NO_CODE = "(none)"


def sum_present(values: Iterable[Any]) -> Number:
    """A sum where missing counts are zero, so one null cell does not hide a whole day."""
    return sum(number for value in values if (number := as_number(value)) is not None)


def daily_chart(result: ReportResult) -> Chart:
    """Stacked task statuses per day, summed over operation types."""
    days = sorted({day_label(row.get("day")) for row in result.rows})
    series = [
        Series(
            name=status,
            colour=colour,
            values=[
                sum_present(
                    row.get(status) for row in result.rows if day_label(row.get("day")) == d
                )
                for d in days
            ],
        )
        for status, colour in STATUS_COLOURS.items()
    ]
    return Chart(
        name=result.name,
        title=f"{result.title}: tasks per day by status",
        layout="stacked",
        categories=days,
        series=series,
        value_axis="tasks",
        category_axis="day (UTC)",
    )


def failures_chart(result: ReportResult) -> Chart:
    """Failed tasks per error code, most frequent first; ties by code for a stable order."""
    counts: dict[str, int] = {}
    for row in result.rows:
        code = format_cell(row.get("error_code")) or NO_CODE
        counts[code] = counts.get(code, 0) + 1
    ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    return Chart(
        name=result.name,
        title=f"{result.title}: failed tasks per error code",
        layout="horizontal",
        categories=[code for code, _ in ranked],
        series=[Series("count", FAILURE_COLOUR, [count for _, count in ranked])],
        value_axis="failed tasks",
        category_axis="error code",
    )


def durations_chart(result: ReportResult) -> Chart:
    """p50, p95 and max duration side by side for each operation type (one row each)."""
    series = [
        Series(name, colour, [as_number(row.get(name)) for row in result.rows])
        for name, colour in DURATION_COLOURS.items()
    ]
    return Chart(
        name=result.name,
        title=f"{result.title}: task duration percentiles per operation type",
        layout="grouped",
        categories=[format_cell(row.get("operation_type")) for row in result.rows],
        series=series,
        value_axis="seconds",
        category_axis="operation type",
    )


CHART_BUILDERS: dict[str, Callable[[ReportResult], Chart]] = {
    "daily": daily_chart,
    "failures": failures_chart,
    "durations": durations_chart,
}


def chart_for(result: ReportResult) -> Chart | None:
    """The report's chart, or None when the report has none or there is nothing to draw."""
    builder = CHART_BUILDERS.get(result.name)
    if builder is None or not result.rows:
        return None
    chart = builder(result)
    return chart if chart.has_data() else None


# --- chart drawing ------------------------------------------------------------------------------

WIDTH = 960
PLOT_HEIGHT = 260
FONT_PX = 7  # rough width of one 12px character, to size margins without measuring text


@dataclass(frozen=True)
class Scale:
    """Value axis from 0 to `top`, with ticks every `step`."""

    top: float
    step: float

    def ticks(self) -> list[float]:
        count = round(self.top / self.step)
        return [self.step * i for i in range(count + 1)]

    def length(self, value: Number | None, full: float) -> float:
        """Bar length for a value: proportional, negatives and nulls drawn as nothing."""
        if value is None or value <= 0:
            return 0.0
        return value / self.top * full


def nice_scale(largest: float, integers: bool, target_ticks: int = 5) -> Scale:
    """A 1-2-5 tick step and an axis end just above the largest value."""
    if largest <= 0:
        return Scale(top=1.0, step=1.0)
    raw = largest / target_ticks
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw)
    if integers:  # half a task on an axis reads as a bug
        step = max(1.0, float(round(step)))
    return Scale(top=math.ceil(largest / step - 1e-9) * step, step=step)


def all_integers(chart: Chart) -> bool:
    return all(
        value is None or isinstance(value, int) or value.is_integer()
        for series in chart.series
        for value in series.values
    )


def largest_bar(chart: Chart) -> float:
    def present(series: Series) -> list[float]:
        return [max(value or 0, 0) for value in series.values]

    if chart.layout == "stacked":
        return max(map(sum, zip(*(present(s) for s in chart.series), strict=True)), default=0)
    return max((max(present(s), default=0) for s in chart.series), default=0)


def bar_rect(
    x: float, y: float, width: float, height: float, label: str, series: str, value: Number | None
) -> str:
    shown = format_cell(value) if value is not None else "no value"
    return (
        f"<rect {attrs(x=px(x), y=px(y), width=px(width), height=px(height))} "
        f"{attrs(data_label=label, data_value=format_chart_value(value))}>"
        f"<title>{escape(f'{label} {series}: {shown}')}</title></rect>"
    )


def svg_text(x: float, y: float, text: str, **extra: Any) -> str:
    return f"<text {attrs(x=px(x), y=px(y), **extra)}>{escape(text)}</text>"


def svg_line(x1: float, y1: float, x2: float, y2: float, class_: str) -> str:
    return f"<line {attrs(x1=px(x1), y1=px(y1), x2=px(x2), y2=px(y2), class_=class_)} />"


def shorten(label: str, limit: int) -> str:
    return label if len(label) <= limit else label[: limit - 1] + "…"


def legend(chart: Chart, top: float, left: float) -> str:
    """Swatches in series order; skipped for a single series, whose meaning is the title."""
    if len(chart.series) < 2:
        return ""
    items, x = [], left
    for series in chart.series:
        items.append(
            f"<rect {attrs(x=px(x), y=px(top), width=12, height=12, fill=series.colour)} />"
            + svg_text(x + 16, top + 10, series.name)
        )
        x += 16 + FONT_PX * len(series.name) + 20
    return f'<g class="legend">{"".join(items)}</g>'


def label_stride(count: int, room: float) -> int:
    """Show every n-th category label so crowded axes (a year of days) stay readable."""
    per_label = 16  # rotated labels need about a line height each
    return max(1, math.ceil(count * per_label / room))


def category_labels(chart: Chart, left: float, base: float, band: float, room: float) -> str:
    """Labels under the bars: level when they fit their band, else slanted and thinned out."""
    labels = [shorten(category, 16) for category in chart.categories]
    slanted = max(len(label) for label in labels) * FONT_PX + 8 > band
    stride = label_stride(len(labels), room) if slanted else 1
    parts = []
    for index, label in enumerate(labels):
        if index % stride:
            continue
        x, y = left + band * (index + 0.5), base + 16
        if slanted:
            turn = f"rotate(-40 {px(x)} {px(y)})"
            parts.append(svg_text(x, y, label, text_anchor="end", transform=turn))
        else:
            parts.append(svg_text(x, y, label, text_anchor="middle"))
    return "".join(parts)


def category_label_room(chart: Chart, band: float) -> float:
    """Height below the axis for the labels: slanted ones take about 0.64 of their length."""
    longest = max(len(shorten(category, 16)) for category in chart.categories) * FONT_PX
    return 24 if longest + 8 <= band else 16 + 0.64 * longest


def vertical_chart(chart: Chart) -> str:
    """Stacked or grouped vertical bars, value axis on the left, categories along the bottom."""
    legend_height = 28 if len(chart.series) > 1 else 0
    left, right, top = 64, 16, 12 + legend_height
    plot_width = WIDTH - left - right
    band = plot_width / len(chart.categories)
    base = top + PLOT_HEIGHT
    height = base + category_label_room(chart, band) + 24  # + the axis title
    scale = nice_scale(largest_bar(chart), all_integers(chart))

    parts = [legend(chart, 8, left), value_axis_vertical(scale, left, base, plot_width)]
    if chart.layout == "stacked":
        parts += stacked_bars(chart, scale, left, base, band)
    else:
        parts += grouped_bars(chart, scale, left, base, band)
    parts.append(svg_line(left, base, left + plot_width, base, "axis"))
    parts.append(category_labels(chart, left, base, band, plot_width))
    title = svg_text(
        left + plot_width / 2,
        height - 6,
        chart.category_axis,
        text_anchor="middle",
        class_="axis-title",
    )
    parts.append(title)
    return svg_document(chart, height, parts)


def value_axis_vertical(scale: Scale, left: float, base: float, plot_width: float) -> str:
    parts = []
    for tick in scale.ticks():
        y = base - scale.length(tick, PLOT_HEIGHT)
        parts.append(svg_line(left, y, left + plot_width, y, "grid"))
        parts.append(svg_text(left - 6, y + 4, format_float(tick), text_anchor="end"))
    parts.append(svg_line(left, base - PLOT_HEIGHT, left, base, "axis"))
    return "".join(parts)


def stacked_bars(chart: Chart, scale: Scale, left: float, base: float, band: float) -> list[str]:
    """One group per series, each bar sitting on the bars of the series before it."""
    width = min(band * 0.7, 96)  # a few days should not look like a wall
    stacked = [0.0] * len(chart.categories)
    groups = []
    for series in chart.series:
        rects = []
        for index, (category, value) in enumerate(
            zip(chart.categories, series.values, strict=True)
        ):
            height = scale.length(value, PLOT_HEIGHT)
            x = left + band * index + (band - width) / 2
            rects.append(
                bar_rect(
                    x, base - stacked[index] - height, width, height, category, series.name, value
                )
            )
            stacked[index] += height
        groups.append(series_group(series, rects))
    return groups


def grouped_bars(chart: Chart, scale: Scale, left: float, base: float, band: float) -> list[str]:
    """Series side by side within each category's band."""
    width = min(band * 0.8 / len(chart.series), 40)
    margin = (band - width * len(chart.series)) / 2  # centres the group in its band
    groups = []
    for position, series in enumerate(chart.series):
        rects = []
        for index, (category, value) in enumerate(
            zip(chart.categories, series.values, strict=True)
        ):
            height = scale.length(value, PLOT_HEIGHT)
            x = left + band * index + margin + width * position
            rects.append(bar_rect(x, base - height, width, height, category, series.name, value))
        groups.append(series_group(series, rects))
    return groups


def series_group(series: Series, rects: list[str]) -> str:
    return f"<g {attrs(data_series=series.name, fill=series.colour)}>{''.join(rects)}</g>"


def horizontal_chart(chart: Chart) -> str:
    """One horizontal bar per category, longest first as given, with the value at its end."""
    row, thickness, label_chars = 24, 16, 32
    longest = max(len(shorten(category, label_chars)) for category in chart.categories)
    left, right, top, bottom = 16 + FONT_PX * longest, 56, 12, 48
    plot_width = WIDTH - left - right
    height = top + row * len(chart.categories) + bottom
    base = height - bottom
    scale = nice_scale(largest_bar(chart), all_integers(chart))

    parts = []
    for tick in scale.ticks():
        x = left + scale.length(tick, plot_width)
        parts.append(svg_line(x, top, x, base, "grid"))
        parts.append(svg_text(x, base + 16, format_float(tick), text_anchor="middle"))
    for series in chart.series:
        rects = []
        for index, (category, value) in enumerate(
            zip(chart.categories, series.values, strict=True)
        ):
            length = scale.length(value, plot_width)
            y = top + row * index + (row - thickness) / 2
            rects.append(bar_rect(left, y, length, thickness, category, series.name, value))
            parts.append(
                svg_text(left - 6, y + 12, shorten(category, label_chars), text_anchor="end")
            )
            parts.append(svg_text(left + length + 4, y + 12, format_cell(value)))
        parts.append(series_group(series, rects))
    parts.append(svg_line(left, top, left, base, "axis"))
    parts.append(svg_line(left, base, left + plot_width, base, "axis"))
    parts.append(
        svg_text(
            left + plot_width / 2,
            height - 8,
            chart.value_axis,
            text_anchor="middle",
            class_="axis-title",
        )
    )
    return svg_document(chart, height, parts)


def svg_document(chart: Chart, height: float, parts: list[str]) -> str:
    """The <svg> element; no xmlns needed inline in HTML, which keeps the page URL-free."""
    title_id = f"chart-{slug(chart.name)}-title"
    opening = attrs(
        data_chart=chart.name,
        data_layout=chart.layout,
        class_="chart",
        role="img",
        aria_labelledby=title_id,
        viewBox=f"0 0 {WIDTH} {px(height)}",
        width=WIDTH,
        height=px(height),
    )
    return (
        f"<svg {opening}><title {attrs(id=title_id)}>{escape(chart.title)}</title>"
        + "".join(parts)
        + "</svg>"
    )


def render_chart(chart: Chart) -> str:
    return horizontal_chart(chart) if chart.layout == "horizontal" else vertical_chart(chart)


# --- page ---------------------------------------------------------------------------------------

STYLE = """
:root { color-scheme: light; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, Helvetica, Arial,
  sans-serif; color: #1a1a1a; background: #fff; max-width: 1200px; margin: 2rem auto;
  padding: 0 1rem; }
h1 { font-size: 1.6rem; margin: 0 0 .25rem; }
h2 { font-size: 1.25rem; margin: 2.5rem 0 .25rem; border-bottom: 2px solid #ddd; }
.meta, .description { color: #555; margin: 0 0 .75rem; }
nav ul { padding-left: 1.25rem; }
code { font-family: ui-monospace, Menlo, Consolas, monospace; font-size: .95em; }
svg.chart { display: block; width: 100%; max-width: 960px; height: auto; margin: .5rem 0 1rem; }
svg.chart text { font-size: 12px; fill: #333; font-family: inherit; }
svg.chart .axis-title { fill: #555; }
svg.chart line.axis { stroke: #333; stroke-width: 1; }
svg.chart line.grid { stroke: #e3e3e3; stroke-width: 1; }
.table-wrap { overflow-x: auto; }
table { border-collapse: collapse; width: 100%; font-size: 13px; }
caption { caption-side: bottom; text-align: left; color: #666; padding-top: .25rem; }
th, td { border: 1px solid #ccc; padding: 3px 6px; text-align: left; vertical-align: top;
  overflow-wrap: break-word; }
thead th { background: #f0f0f0; }
tbody tr:nth-child(even) { background: #fafafa; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
.empty { font-style: italic; color: #666; }
@media print {
  body { margin: 0; max-width: none; font-size: 11px; }
  nav { display: none; }
  * { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
  .table-wrap { overflow: visible; }
  h2, svg.chart { break-inside: avoid; break-after: avoid; }
  thead { display: table-header-group; }
  tr { break-inside: avoid; }
}
"""

# Belt and braces for "offline only": even injected markup could load nothing or run nothing.
CSP = "default-src 'none'; style-src 'unsafe-inline'"


def slug(name: str) -> str:
    return re.sub(r"[^a-z0-9-]+", "-", name.lower()).strip("-") or "report"


def section_id(index: int, result: ReportResult) -> str:
    return f"r{index}-{slug(result.name)}"  # index keeps ids unique if names repeat


def row_count(result: ReportResult) -> str:
    return f"{len(result.rows)} row" + ("" if len(result.rows) == 1 else "s")


def render_table(result: ReportResult) -> str:
    if not result.rows:
        return '<p class="empty">No rows.</p>'
    head = "".join(f'<th scope="col">{escape(column)}</th>' for column in result.columns)
    body = "".join(
        "<tr>" + "".join(render_cell(row.get(column)) for column in result.columns) + "</tr>"
        for row in result.rows
    )
    return (
        f'<div class="table-wrap"><table {attrs(data_report=result.name)}>'
        f"<caption>{row_count(result)}</caption><thead><tr>{head}</tr></thead>"
        f"<tbody>{body}</tbody></table></div>"
    )


def render_cell(value: Any) -> str:
    cell_class = ' class="num"' if is_numeric(value) else ""
    return f"<td{cell_class}>{escape(format_cell(value))}</td>"


def render_section(index: int, result: ReportResult) -> str:
    chart = chart_for(result)
    return (
        f"<section {attrs(id=section_id(index, result), data_report=result.name)}>"
        f"<h2>{escape(result.title)}</h2>"
        f'<p class="description">{escape(result.description)}</p>'
        + (render_chart(chart) if chart else "")
        + render_table(result)
        + "</section>"
    )


def render_contents(results: list[ReportResult]) -> str:
    items = "".join(
        f'<li><a href="#{section_id(i, r)}">{escape(r.title)}</a> ({row_count(r)})</li>'
        for i, r in enumerate(results)
    )
    return f'<nav aria-label="Reports"><ul>{items}</ul></nav>' if results else ""


def render_page(results: list[ReportResult], *, generated_at: datetime, lake: str) -> str:
    """One self-contained HTML page: a heading, then for each result its title, description,
    chart (when the report has one) and an HTML table of its rows."""
    heading = "oplog-lake audit report"
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{escape(CSP, quote=True)}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(heading)}</title><style>{STYLE}</style></head>\n<body>"
        f"<header><h1>{escape(heading)}</h1>"
        f'<p class="meta">Lake <code>{escape(lake)}</code>, generated '
        f"<time>{escape(format_utc(generated_at))}</time></p></header>"
        + render_contents(results)
        + "\n".join(render_section(i, r) for i, r in enumerate(results))
        + "</body></html>\n"
    )
