"""The adherence grid as inline SVG: one row per resource, one cell per UTC day, coloured by the
day's backups; the resources with the smallest share of good days first. Each cell carries
data-day and data-state (its colour comes from the state, in the stylesheet); each row's tooltip
says how many days were good and which were not. The counts per day are in the report's rows.

Cells are kept short (a month of 600 resources is 18,000 of them): no per-cell tooltip or colour.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from lib.reports.declaration import ChartSpec
from lib.reports.html.charts import as_number, category_label
from lib.reports.html.markup import FONT_PX, attrs, escape, px, shorten, svg_document, svg_text
from lib.reports.result import ReportResult

WIDTH = 960
ROW = 18
ROWS_PER_FIGURE = 40  # about a printed page
LABEL_CHARS = 28
# state -> (colour, what it means); drawn in this order in the legend
STATES = {
    "success": ("#2e7d32", "a successful backup"),
    "failed": ("#c62828", "only failed backups"),
    "other": ("#9e9e9e", "backups still running or skipped"),
    "none": ("#f6c343", "no backup"),
}


@dataclass(frozen=True)
class Cell:
    day: str
    successes: float
    failures: float
    backups_seen: bool

    @property
    def state(self) -> str:
        if self.successes > 0:
            return "success"
        if self.failures > 0:
            return "failed"
        return "other" if self.backups_seen else "none"


@dataclass(frozen=True)
class Grid:
    days: list[str]
    rows: list[tuple[str, str, dict[str, Cell]]]  # (resource, label, cells by day)


def day_state(row: dict[str, Any], spec: ChartSpec) -> str:
    """The state a report row's day is drawn in (a key of STATES)."""
    return Cell("", count(row, spec.y[0]), count(row, spec.y[1]), seen(row)).state


def build_grid(result: ReportResult, spec: ChartSpec) -> Grid:
    success_column, failure_column = spec.y[0], spec.y[1]
    row_column = spec.rows or spec.x  # a heatmap spec always names its rows (ChartSpec checks)
    rows: dict[str, tuple[str, dict[str, Cell]]] = {}
    days = set()
    for row in result.rows:
        day = category_label(row.get(spec.x))
        key = category_label(row.get(row_column))
        label = category_label(row.get(spec.label)) if spec.label else key
        cell = Cell(day, count(row, success_column), count(row, failure_column), seen(row))
        rows.setdefault(key, (label, {}))[1][day] = cell
        days.add(day)
    ordered = sorted(rows.items(), key=lambda item: (good_share(item[1][1]), item[0]))
    return Grid(sorted(days), [(key, label, cells) for key, (label, cells) in ordered])


def good_share(cells: dict[str, Cell]) -> float:
    return sum(cell.state == "success" for cell in cells.values()) / max(len(cells), 1)


def count(row: dict[str, Any], column: str) -> float:
    return float(as_number(row.get(column)) or 0)


def seen(row: dict[str, Any]) -> bool:
    """Whether the day had any backup task at all (the grid's `backups` column when present)."""
    return bool(as_number(row.get("backups")) or 0)


def render_heatmap(result: ReportResult, limit: int | None = None) -> str:
    """The grid for a report declared with `chart: heatmap`, or "" when it has no rows; drawn
    as one figure per ROWS_PER_FIGURE resources, so that each fits a printed page. With `limit`,
    only that many resources (the worst first), and a sentence saying so."""
    spec = result.chart
    if spec is None or spec.layout != "heatmap" or not result.rows:
        return ""
    grid = build_grid(result, spec)
    drawn = grid.rows[:limit] if limit is not None else grid.rows
    chunks = [drawn[i : i + ROWS_PER_FIGURE] for i in range(0, len(drawn), ROWS_PER_FIGURE)]
    figures = []
    for number, rows in enumerate(chunks, start=1):
        title = f"{result.title}: {spec.title}"
        if len(chunks) > 1 or len(drawn) < len(grid.rows):
            first = (number - 1) * ROWS_PER_FIGURE + 1
            title += f" (resources {first}-{first + len(rows) - 1} of {len(grid.rows)})"
        figures.append(heat_figure(result.name, title, Grid(grid.days, rows), number))
    note = ""
    if len(drawn) < len(grid.rows):
        note = (
            f'<p class="note">The {len(drawn)} resources with the fewest days with a successful '
            f"backup are drawn, of {len(grid.rows)}; every resource and day is in the report's "
            "rows (CSV, JSON).</p>"
        )
    return f'<div class="figure-wrap">{"".join(figures)}</div>' + note  # scrolls on a phone


def heat_figure(name: str, title: str, grid: Grid, part: int) -> str:
    longest = max(len(shorten(label, LABEL_CHARS)) for _, label, _ in grid.rows)
    left, top = 12 + FONT_PX * longest, 64
    cell = float(min(28, math.floor((WIDTH - left - 8) / len(grid.days))))  # whole pixels
    height = top + ROW * len(grid.rows) + 28
    parts = [heat_legend(), day_labels(grid.days, left, top - 8, cell)]
    for index, (key, label, cells) in enumerate(grid.rows):
        y = top + ROW * index
        parts.append(svg_text(left - 6, y + 13, shorten(label, LABEL_CHARS), text_anchor="end"))
        parts.append(heat_row(key, label, cells, grid.days, (left, y, cell)))
    parts.append(svg_text(left, height - 8, "day (UTC)", class_="axis-title"))
    return svg_document(
        name, title, (WIDTH, height), parts, part=part, kind="chart heatmap", data_layout="heatmap"
    )


def heat_row(
    key: str, label: str, cells: dict[str, Cell], days: list[str], place: tuple[float, float, float]
) -> str:
    """One resource's cells, in a group placed at the row's height (so the cells need no y)."""
    left, y, width = place
    rects = []
    for index, day in enumerate(days):
        found = cells.get(day)
        if found is None:  # before the resource's first backup: not evaluated
            continue
        box = attrs(x=px(left + width * index + 1), width=px(max(width - 2, 1)), height=ROW - 2)
        rects.append(f"<rect {box} {attrs(data_day=day, data_state=found.state)} />")
    place_row = f"translate(0 {px(y + 1)})"
    opening = attrs(data_resource=key, data_label=label, transform=place_row)
    return f"<g {opening}><title>{escape(row_tip(label, cells))}</title>{''.join(rects)}</g>"


def row_tip(label: str, cells: dict[str, Cell]) -> str:
    """ "vm-1: 28 of 31 days with a successful backup; not on 2026-11-02, 2026-11-09"."""
    missed = [day for day, cell in sorted(cells.items()) if cell.state != "success"]
    good = len(cells) - len(missed)
    tip = f"{label}: {good} of {len(cells)} days with a successful backup"
    return tip + (f"; not on {', '.join(missed)}" if missed else "")


def day_labels(days: list[str], left: float, y: float, cell: float) -> str:
    """Month-day labels above the grid, every n-th day so that they do not overlap."""
    stride = max(1, math.ceil(44 / cell))
    parts = []
    for index in range(0, len(days), stride):
        x = left + cell * (index + 0.5)
        turn = f"rotate(-45 {px(x)} {px(y)})"
        parts.append(svg_text(x, y, days[index][5:], transform=turn))
    return "".join(parts)


def state_style() -> str:
    """The cells' colours, by their data-state (one rule each rather than a fill per cell)."""
    return " ".join(
        f"svg.heatmap g > rect[data-state={state}] {{ fill: {colour}; }}"
        for state, (colour, _) in STATES.items()
    )


def heat_legend() -> str:
    items, x = [], 12.0
    for colour, meaning in STATES.values():
        items.append(f"<rect {attrs(x=px(x), y=4, width=12, height=12, fill=colour)} />")
        items.append(svg_text(x + 16, 14, meaning))
        x += 16 + FONT_PX * len(meaning) + 18
    return f'<g class="legend">{"".join(items)}</g>'
