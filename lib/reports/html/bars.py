"""Bar charts as inline SVG: stacked or grouped columns, or horizontal bars; both axes named."""

from __future__ import annotations

import math
from dataclasses import dataclass

from lib.reports.html.charts import Chart, Number, Series
from lib.reports.html.markup import (
    FONT_PX,
    attrs,
    escape,
    px,
    shorten,
    svg_document,
    svg_line,
    svg_text,
)
from lib.reports.values import format_cell, format_float, percentage

WIDTH = 960
PLOT_HEIGHT = 260


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


def chart_scale(chart: Chart) -> Scale:
    integers = all(
        value is None or isinstance(value, int) or value.is_integer()
        for series in chart.series
        for value in series.values
    )
    return nice_scale(largest_bar(chart), integers)


def largest_bar(chart: Chart) -> float:
    def present(series: Series) -> list[float]:
        return [max(value or 0, 0) for value in series.values]

    if chart.layout == "stacked":
        return max(map(sum, zip(*(present(s) for s in chart.series), strict=True)), default=0)
    return max((max(present(s), default=0) for s in chart.series), default=0)


def value_text(chart: Chart, value: Number | None) -> str:
    if value is None:
        return "no value"
    return percentage(value) if chart.percent else format_cell(value)


def chart_value(value: Number | None) -> str:
    """`data-value`: integral numbers without decimals, other floats in repr's short form."""
    if value is None:
        return ""
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    return str(value)


def bar_rect(
    chart: Chart,
    box: tuple[float, float, float, float],
    label: str,
    series: str,
    value: Number | None,
) -> str:
    x, y, width, height = box
    return (
        f"<rect {attrs(x=px(x), y=px(y), width=px(width), height=px(height))} "
        f"{attrs(data_label=label, data_value=chart_value(value))}>"
        f"<title>{escape(f'{label} {series}: {value_text(chart, value)}')}</title></rect>"
    )


def series_group(series: Series, rects: list[str]) -> str:
    return f"<g {attrs(data_series=series.name, fill=series.colour)}>{''.join(rects)}</g>"


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


def category_labels(chart: Chart, left: float, base: float, band: float, room: float) -> str:
    """Labels under the bars: level when they fit their band, else slanted and thinned out."""
    labels = [shorten(category, 16) for category in chart.categories]
    slanted = max(len(label) for label in labels) * FONT_PX + 8 > band
    stride = max(1, math.ceil(len(labels) * 16 / room)) if slanted else 1
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
    left, right, top = 72, 16, 12 + legend_height
    plot_width = WIDTH - left - right
    band = plot_width / len(chart.categories)
    base = top + PLOT_HEIGHT
    height = base + category_label_room(chart, band) + 24  # + the axis title
    scale = chart_scale(chart)
    draw = stacked_bars if chart.layout == "stacked" else grouped_bars
    parts = [
        legend(chart, 8, left),
        value_axis(chart, scale, left, base, plot_width),
        *draw(chart, scale, left, base, band),
        svg_line(left, base, left + plot_width, base, "axis"),
        category_labels(chart, left, base, band, plot_width),
        svg_text(
            left + plot_width / 2,
            height - 6,
            chart.category_axis,
            text_anchor="middle",
            class_="axis-title",
        ),
    ]
    return svg_document(chart.name, chart.title, (WIDTH, height), parts, data_layout=chart.layout)


def value_axis(chart: Chart, scale: Scale, left: float, base: float, plot_width: float) -> str:
    """Ticks, grid lines and the axis title (the unit), written upwards beside the axis."""
    parts = []
    for tick in scale.ticks():
        y = base - scale.length(tick, PLOT_HEIGHT)
        parts.append(svg_line(left, y, left + plot_width, y, "grid"))
        parts.append(svg_text(left - 6, y + 4, format_float(tick), text_anchor="end"))
    parts.append(svg_line(left, base - PLOT_HEIGHT, left, base, "axis"))
    middle = base - PLOT_HEIGHT / 2
    turn = f"rotate(-90 14 {px(middle)})"
    parts.append(
        svg_text(
            14, middle, chart.value_axis, text_anchor="middle", transform=turn, class_="axis-title"
        )
    )
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
            box = (x, base - stacked[index] - height, width, height)
            rects.append(bar_rect(chart, box, category, series.name, value))
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
            box = (x, base - height, width, height)
            rects.append(bar_rect(chart, box, category, series.name, value))
        groups.append(series_group(series, rects))
    return groups


def horizontal_chart(chart: Chart) -> str:
    """One horizontal bar per category, in the order given, with the value at its end."""
    row, thickness, label_chars = 24, 16, 32
    longest = max(len(shorten(category, label_chars)) for category in chart.categories)
    left, right, top, bottom = 16 + FONT_PX * longest, 64, 12, 48
    plot_width = WIDTH - left - right
    height = top + row * len(chart.categories) + bottom
    base = height - bottom
    scale = chart_scale(chart)
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
            rects.append(
                bar_rect(chart, (left, y, length, thickness), category, series.name, value)
            )
            parts.append(
                svg_text(left - 6, y + 12, shorten(category, label_chars), text_anchor="end")
            )
            parts.append(
                svg_text(
                    left + length + 4, y + 12, "" if value is None else value_text(chart, value)
                )
            )
        parts.append(series_group(series, rects))
    parts.append(svg_line(left, top, left, base, "axis"))
    parts.append(svg_line(left, base, left + plot_width, base, "axis"))
    title = svg_text(
        left + plot_width / 2,
        height - 8,
        chart.value_axis,
        text_anchor="middle",
        class_="axis-title",
    )
    parts.append(title)
    return svg_document(chart.name, chart.title, (WIDTH, height), parts, data_layout=chart.layout)


def render_chart(chart: Chart) -> str:
    return horizontal_chart(chart) if chart.layout == "horizontal" else vertical_chart(chart)
