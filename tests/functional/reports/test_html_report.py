"""The HTML audit page: chart numbers, tables, escaping, no external resources, real rendering."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone
from html.parser import HTMLParser
from pathlib import Path

import pytest
from browser import chromium_binary, run_chromium

from lib.reports.catalog import get_report
from lib.reports.html.heatmap import render_heatmap
from lib.reports.html.markup import header_label
from lib.reports.html.page import GRID_LIMIT, ROW_LIMIT, render_page
from lib.reports.parameters import Scope
from lib.reports.result import ReportResult

EVALUATED_AT = datetime(2026, 11, 22, 6, 0, 0, tzinfo=UTC)
SCOPE = Scope(datetime(2026, 11, 1, tzinfo=UTC), None, EVALUATED_AT, {"hours": 0.5})
XSS = "<script>alert(1)</script>"
DAILY_COLUMNS = [
    "day",
    "operation_type",
    "total",
    "success",
    "failed",
    "timeout",
    "in_progress",
    "other",
    "success_rate",
]


def daily_row(day: date, op: str, *counts: int) -> dict[str, object]:
    success, failed, timeout, in_progress, other = counts
    total = sum(counts)
    return {
        "day": day,
        "operation_type": op,
        "total": total,
        "success": success,
        "failed": failed,
        "timeout": timeout,
        "in_progress": in_progress,
        "other": other,
        "success_rate": success / total,
    }


DAY1, DAY2 = date(2026, 11, 20), date(2026, 11, 21)
DAILY = ReportResult(
    chart=get_report("daily").chart,
    name="daily",
    title="Tasks per day",
    description="Task outcomes per UTC day and operation type.",
    columns=DAILY_COLUMNS,
    rows=[  # later day first: the chart must still put days in order
        daily_row(DAY2, "backup", 7, 0, 0, 1, 0),
        daily_row(DAY2, "replication", 2, 1, 0, 0, 1),
        daily_row(DAY1, "backup", 7, 2, 1, 0, 0),
        daily_row(DAY1, "replication", 3, 0, 0, 1, 1),
    ],
)
# Summed over operation types, in the stacking order.
DAILY_EXPECTED = {
    "success": {"2026-11-20": "10", "2026-11-21": "9"},
    "failed": {"2026-11-20": "2", "2026-11-21": "1"},
    "timeout": {"2026-11-20": "1", "2026-11-21": "0"},
    "in_progress": {"2026-11-20": "1", "2026-11-21": "1"},
    "other": {"2026-11-20": "1", "2026-11-21": "1"},
}

FAILURE_COLUMNS = [
    "error_code",
    "code_count",
    "id",
    "operation_type",
    "status",
    "created_at",
    "resource_id",
    "resource_name",
    "resource_type",
    "vault_name",
    "error_message",
]


def failure_row(code: str | None, count: int, task: str, created_at: datetime, message: str):
    return {
        "error_code": code,
        "code_count": count,
        "id": task,
        "operation_type": "backup",
        "status": "failed",
        "created_at": created_at,
        "resource_id": f"res-{task}",
        "resource_name": f"ecs-{task}",
        "resource_type": "OS::Nova::Server",
        "vault_name": "vault-prod",
        "error_message": message,
    }


FAILURES = ReportResult(
    chart=get_report("failures").chart,
    name="failures",
    title="Failed tasks",
    description="Every failed task, grouped by error code.",
    columns=FAILURE_COLUMNS,
    rows=[
        failure_row(None, 1, "t3", datetime(2026, 11, 21, 1, 2, 3, tzinfo=UTC), "no code"),
        failure_row(
            "BackupService.6302",
            2,
            "t1",
            datetime(2026, 11, 20, 14, 31, 36, tzinfo=UTC),
            f"agent said {XSS} & gave up",
        ),
        failure_row(
            "BackupService.6302",
            2,
            "t2",
            # Same instant as 14:31:36Z written in UTC+8: shown converted.
            datetime(2026, 11, 20, 22, 31, 36, tzinfo=timezone(timedelta(hours=8))),
            "snapshot quota exceeded",
        ),
    ],
)
FAILURES_EXPECTED = {"code_count": {"BackupService.6302": "2", "(none)": "1"}}

DURATIONS = ReportResult(
    chart=get_report("durations").chart,
    name="durations",
    title="Task durations",
    description="Duration percentiles per operation type, in seconds.",
    columns=["operation_type", "tasks", "p50_s", "p95_s", "max_s", "slowest_id", "slowest_s"],
    rows=[
        {
            "operation_type": "backup",
            "tasks": 17,
            "p50_s": 12.5,
            "p95_s": 40.25,
            "max_s": 61,
            "slowest_id": "t9",
            "slowest_s": 61,
        },
        {
            "operation_type": "replication",
            "tasks": 2,
            "p50_s": None,
            "p95_s": None,
            "max_s": 300.123456,
            "slowest_id": "t7",
            "slowest_s": 300.123456,
        },
    ],
)
DURATIONS_EXPECTED = {
    "p50_s": {"backup": "12.5", "replication": ""},
    "p95_s": {"backup": "40.25", "replication": ""},
    "max_s": {"backup": "61", "replication": "300.123456"},
}

STALE = ReportResult(
    name="stale-resources",
    title="Stale resources",
    description="Resources without a successful backup in 7 days.",
    columns=["resource_id", "last_success", "protected"],
    rows=[{"resource_id": "res-1", "last_success": DAY1, "protected": True}],
)
EMPTY = ReportResult(
    name="orphans",
    title="Orphan vaults",
    description="Vaults without resources.",
    columns=["vault_name"],
    rows=[],
)
ALL_RESULTS = [DAILY, FAILURES, DURATIONS, STALE, EMPTY]
EXPECTED_CHARTS = {
    "daily": DAILY_EXPECTED,
    "failures": FAILURES_EXPECTED,
    "durations": DURATIONS_EXPECTED,
}


def sample_page() -> str:
    return render_page(ALL_RESULTS, lake="s3://audit-lake/oplogs")


# --- a standard-library reading of the page ---------------------------------------------------


@dataclass
class Bar:
    label: str
    value: str
    width: float
    height: float


class PageReader(HTMLParser):
    """Charts (series -> bars), tables (report -> rows of cell text) and every tag's attributes."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.charts: dict[str, dict[str, list[Bar]]] = {}
        self.chart_titles: dict[str, str] = {}
        self.tables: dict[str, list[list[str]]] = {}
        self.tags: list[tuple[str, dict[str, str]]] = []
        self.texts: list[str] = []
        self._chart: str | None = None
        self._series: str | None = None
        self._in_title = False
        self._table: str | None = None
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs_list: list[tuple[str, str | None]]) -> None:
        attrs = {key: value or "" for key, value in attrs_list}
        self.tags.append((tag, attrs))
        if tag == "svg":
            self._chart = attrs.get("data-chart")
            self.charts.setdefault(self._chart or "", {})
        elif tag == "g" and "data-series" in attrs:
            self._series = attrs["data-series"]
            self.charts[self._chart or ""].setdefault(self._series, [])
        elif tag == "rect" and "data-value" in attrs:
            bar = Bar(
                attrs["data-label"],
                attrs["data-value"],
                float(attrs["width"]),
                float(attrs["height"]),
            )
            self.charts[self._chart or ""][self._series or ""].append(bar)
        elif tag == "title" and self._chart and not self._series:
            self._in_title = True
        elif tag == "table":
            self._table = attrs.get("data-report", "")
            self.tables[self._table] = []
        elif tag == "tr" and self._table is not None:
            self.tables[self._table].append([])
        elif tag in ("td", "th") and self._table is not None:
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag == "svg":
            self._chart = None
        elif tag == "g":
            self._series = None
        elif tag == "title":
            self._in_title = False
        elif tag == "table":
            self._table = None
        elif tag in ("td", "th") and self._table is not None and self._cell is not None:
            self.tables[self._table][-1].append("".join(self._cell))
            self._cell = None

    def handle_data(self, data: str) -> None:
        self.texts.append(data)
        if self._in_title and self._chart:
            self.chart_titles[self._chart] = self.chart_titles.get(self._chart, "") + data
        if self._cell is not None:
            self._cell.append(data)


def read_page(page: str) -> PageReader:
    reader = PageReader()
    reader.feed(page)
    reader.close()
    return reader


def chart_values(reader: PageReader) -> dict[str, dict[str, dict[str, str]]]:
    return {
        chart: {series: {bar.label: bar.value for bar in bars} for series, bars in groups.items()}
        for chart, groups in reader.charts.items()
    }


def assert_charts_match(reader: PageReader) -> None:
    assert chart_values(reader) == EXPECTED_CHARTS
    # Series are drawn in the documented order (stacking order for daily).
    assert list(reader.charts["daily"]) == list(DAILY_EXPECTED)
    assert list(reader.charts["durations"]) == ["p50_s", "p95_s", "max_s"]


# --- chart markup -------------------------------------------------------------------------------


def test_charts_carry_the_summed_series_and_bar_values() -> None:
    reader = read_page(sample_page())

    assert_charts_match(reader)
    assert [bar.label for bar in reader.charts["daily"]["success"]] == ["2026-11-20", "2026-11-21"]
    # Failures: most frequent code first, the missing code named.
    assert [bar.label for bar in reader.charts["failures"]["code_count"]] == [
        "BackupService.6302",
        "(none)",
    ]
    assert set(reader.chart_titles) == set(EXPECTED_CHARTS)
    assert all(title.strip() for title in reader.chart_titles.values())


def test_bars_have_width_and_a_length_proportional_to_their_value() -> None:
    reader = read_page(sample_page())

    for chart, groups in reader.charts.items():
        horizontal = chart == "failures"  # its bars grow along x
        ratios = []
        for bar in (bar for bars in groups.values() for bar in bars):
            thickness, length = (bar.height, bar.width) if horizontal else (bar.width, bar.height)
            assert thickness > 0, (chart, bar)
            value = float(bar.value or 0)
            if value == 0:
                assert length == 0, (chart, bar)
            else:
                ratios.append(length / value)
        assert ratios, chart
        assert max(ratios) == pytest.approx(min(ratios), rel=0.01), chart


def test_reports_without_a_chart_or_without_data_get_none() -> None:
    empty_daily = ReportResult(
        "daily", "Tasks per day", "Nothing yet.", DAILY_COLUMNS, [], chart=DAILY.chart
    )
    page = render_page([empty_daily, STALE], lake="./lake")
    reader = read_page(page)

    assert reader.charts == {}
    assert "<svg" not in page
    assert "No rows." in page
    assert "daily" not in reader.tables


# --- tables and text ----------------------------------------------------------------------------


def test_tables_hold_every_row_with_formatted_cells() -> None:
    reader = read_page(sample_page())

    assert set(reader.tables) == {"daily", "failures", "durations", "stale-resources"}
    for result in (DAILY, FAILURES, DURATIONS, STALE):
        header, *rows = reader.tables[result.name]
        assert header == result.columns
        assert len(rows) == len(result.rows)

    daily = reader.tables["daily"]
    assert daily[1] == ["2026-11-21", "backup", "8", "7", "0", "0", "1", "0", "87.5 %"]
    assert daily[4][-1] == "60 %"  # rates as percentages

    failures = {row[2]: row for row in reader.tables["failures"][1:]}
    assert failures["t3"][0] == ""  # None is an empty cell
    assert failures["t1"][5] == "2026-11-20T14:31:36Z"
    assert failures["t2"][5] == "2026-11-20T14:31:36Z"  # converted from UTC+8
    assert failures["t1"][-1] == f"agent said {XSS} & gave up"  # the text, shown as text

    durations = {row[0]: row for row in reader.tables["durations"][1:]}
    assert durations["backup"][2:5] == ["13 s", "40 s", "1 min 01 s"]  # durations in units
    assert durations["replication"][2:5] == ["", "", "5 min 00 s"]
    assert durations["replication"][1] == "2"  # counts stay numbers

    assert reader.tables["stale-resources"][1] == ["res-1", "2026-11-20", "true"]
    assert "No rows." in "".join(reader.texts)


def test_page_header_names_the_lake_and_each_report_its_period_and_parameters() -> None:
    stuck = ReportResult("stuck", "Stuck", "Open more than 0.5 h.", ["id"], [], scope=SCOPE)
    page = render_page([stuck], lake="s3://lake/<x>")

    assert "s3://lake/&lt;x&gt;" in page
    text = " ".join(read_page(page).texts)
    assert "2026-11-01T00:00:00Z to now" in text  # the period, an open end in words
    assert "evaluated at" in text and "2026-11-22T06:00:00Z" in text
    assert "hours 0.5 h" in text  # the parameter with its unit, not "N hours"
    assert read_page(page).tables == {}


def test_user_text_is_escaped_and_the_page_has_no_script() -> None:
    hostile = ReportResult(
        name=f'x"{XSS}',
        title=f"T {XSS}",
        description=f"D {XSS}",
        columns=[f"c{XSS}"],
        rows=[{f"c{XSS}": XSS}],
    )
    page = render_page([FAILURES, hostile], lake=XSS)
    reader = read_page(page)

    assert "<script" not in page.lower()
    assert all(tag != "script" for tag, _ in reader.tags)
    assert "agent said &lt;script&gt;alert(1)&lt;/script&gt; &amp; gave up" in page
    assert reader.tables[f'x"{XSS}'] == [[f"c{XSS}"], [XSS]]  # round-trips as plain text


def test_page_references_no_external_resources() -> None:
    page = sample_page()
    reader = read_page(page)

    for tag, attrs in reader.tags:
        for name in ("src", "href", "xlink:href", "action", "data", "poster", "srcset"):
            value = attrs.get(name, "").strip().lower()
            assert not value.startswith(("http:", "https:", "//", "data:")), (tag, name, value)
        assert tag not in {"script", "link", "img", "iframe", "object", "embed", "image", "use"}
    assert "@import" not in page
    assert "url(" not in page
    assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:)?//""", page, re.IGNORECASE)
    assert "http://" not in page and "https://" not in page


# --- a real browser -----------------------------------------------------------------------------


@pytest.mark.slow
def test_headless_chromium_loads_the_charts_and_renders_the_page(tmp_path: Path) -> None:
    binary = chromium_binary()
    page = tmp_path / "report.html"
    page.write_text(sample_page(), encoding="utf-8")

    dumped = run_chromium(binary, tmp_path / "profile", "--dump-dom", page.as_uri())
    reader = read_page(dumped.stdout)
    assert_charts_match(reader)  # the browser's DOM has the same charts, series and values
    assert set(reader.tables) == {"daily", "failures", "durations", "stale-resources"}
    assert all(tag != "script" for tag, _ in reader.tags)

    screenshot = tmp_path / "page.png"
    run_chromium(
        binary,
        tmp_path / "profile",
        f"--screenshot={screenshot}",
        "--window-size=1200,2000",
        page.as_uri(),
    )
    assert screenshot.exists()
    assert screenshot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert screenshot.stat().st_size > 10_000


def adherence_result(resources: int) -> ReportResult:
    """A grid in thirds: no backup, a successful one, only a failed one, every day of a week."""
    days = [date(2026, 11, d) for d in range(1, 8)]
    rows = [
        {
            "resource_id": f"r{n:03d}",
            "resource_name": f"vm-{n}",
            "day": day,
            "backups": 1 if n % 3 else 0,
            "successes": 1 if n % 3 == 1 else 0,
            "failures": 1 if n % 3 == 2 else 0,
        }
        for n in range(resources)
        for day in days
    ]
    chart = get_report("adherence").chart
    return ReportResult("adherence", "Adherence", "Grid.", list(rows[0]), rows, chart=chart)


def grid_states(page: str) -> list[tuple[str, str]]:
    """(resource, state) of every cell, in the order drawn."""
    states, resource = [], ""
    for tag, attrs in read_page(page).tags:
        if tag == "g" and "data-resource" in attrs:
            resource = attrs["data-resource"]
        if tag == "rect" and "data-state" in attrs:
            states.append((resource, attrs["data-state"]))
    return states


def test_the_adherence_heatmap_is_split_into_figures_that_fit_a_page() -> None:
    page = f"<html><body>{render_heatmap(adherence_result(90))}</body></html>"
    reader = read_page(page)
    figures = [attrs for tag, attrs in reader.tags if tag == "svg"]
    assert [f["data-layout"] for f in figures] == ["heatmap"] * 3  # 40 + 40 + 10 resources
    titles = [attrs["id"] for tag, attrs in reader.tags if tag == "title" and "id" in attrs]
    assert len(set(titles)) == 3
    states = [state for _, state in grid_states(page)]
    assert len(states) == 90 * 7
    assert states.count("success") == 30 * 7 and states.count("none") == 30 * 7
    assert "(resources 81-90 of 90)" in page
    # the resources without a good day first, those with one every day last
    assert {state for _, state in grid_states(page)[: 60 * 7]} == {"none", "failed"}
    assert "vm-1: 7 of 7 days with a successful backup" in page  # a row's tooltip


def test_a_report_page_draws_the_worst_resources_of_a_large_grid_and_says_so() -> None:
    page = render_page([adherence_result(90)], lake="./lake")
    drawn = grid_states(page)
    assert len({resource for resource, _ in drawn}) == GRID_LIMIT == 40
    assert "success" not in {state for _, state in drawn}  # 60 resources never had a good day
    text = " ".join(" ".join(read_page(page).texts).split())
    assert "The 40 resources with the fewest days with a successful backup are drawn, of 90" in text
    assert "(resources 1-40 of 90)" in page


def test_a_report_page_shows_the_first_rows_and_says_where_every_row_is() -> None:
    rows = [{"id": f"{n:08x}-1111-4222-8333-444455556666", "n": n} for n in range(120)]
    many = ReportResult("stuck", "Stuck", "Open too long.", ["id", "n"], rows)
    reader = read_page(render_page([many], lake="./lake"))
    _, *shown = reader.tables["stuck"]
    assert len(shown) == ROW_LIMIT == 50
    assert shown[0] == ["00000000…", "0"] and shown[-1] == ["00000031…", "49"]
    whole = [a["title"] for t, a in reader.tags if t == "code" and "title" in a]
    assert whole[:2] == [rows[0]["id"], rows[1]["id"]]  # the whole ID in the tooltip
    text = " ".join(" ".join(reader.texts).split())
    assert "the first 50 of 120 rows; every row is in this report's CSV and JSON formats" in text


def test_header_cells_break_only_between_words() -> None:
    assert header_label("insufficient_data") == "insufficient_<wbr>data"
    assert header_label("no data") == "no data"
    assert header_label("non-compliant") == '<span class="word">non-compliant</span>'
    page = render_page([STALE], lake="./lake")
    assert '<th scope="col">last_<wbr>success</th>' in page
    assert "th { overflow-wrap: normal; word-break: keep-all; hyphens: none; }" in page


def test_a_report_page_shows_resource_compliance_as_its_exceptions() -> None:
    columns = list(get_report("resource-compliance").columns)
    verdicts = [("COMPLIANT", "fine"), ("NON_COMPLIANT", "late"), ("NON_COMPLIANT", "late")]
    verdicts += [("INSUFFICIENT_DATA", "no data yet")]
    rows = [
        {
            "control": "backup-within-rpo",
            "resource_id": f"res-{n}-0000-4000-8000-000000000000",
            "resource_name": f"vm-{n}",
            "resource_type": "OS::Nova::Server",
            "vault_name": "v",
            "status": status,
            "reason": reason,
            "evidence_ids": f"task-{n}-aaaa-4bbb-8ccc-dddddddddddd" if n else None,
        }
        for n, (status, reason) in enumerate(verdicts)
    ]
    result = ReportResult("resource-compliance", "Compliance", "Verdicts.", columns, rows)
    page = render_page([result], lake="./lake")
    reader = read_page(page)
    assert reader.tables == {}  # no table of every row
    groups = [(a["data-status"], a["data-resources"]) for _, a in reader.tags if "data-status" in a]
    assert groups == [("NON_COMPLIANT", "2"), ("INSUFFICIENT_DATA", "1")]
    text = " ".join("".join(reader.texts).split())
    assert "late (2 resources): vm-1 (res-1-00…): task-1-a…; vm-2 (res-2-00…): task-2-a…" in text
    assert "2 non-compliant, 1 without enough data, 1 compliant (counted here;" in text
    assert "vm-0" not in text  # the compliant one is counted, not listed
