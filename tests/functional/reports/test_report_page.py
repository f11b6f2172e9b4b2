"""`report all --format html` over the audit lake: the top of the page states the period and the
evaluation time, the charts say the same rounded rates as the tiles and tables, and `--out`
says how to open what it wrote."""

from __future__ import annotations

import re
from html import unescape
from pathlib import Path

import pytest
from audit_lake import PERIOD, write_audit_lake

from lib.ops.cli import main


@pytest.fixture(scope="module")
def lake(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("page") / "lake"
    write_audit_lake(root)
    return root


def page(lake: Path, tmp_path: Path, *period: str) -> str:
    out = tmp_path / "all.html"
    assert (
        main(["report", "all", "--lake", str(lake), *period, "--format", "html", "--out", str(out)])
        == 0
    )
    return out.read_text(encoding="utf-8")


def header(html: str) -> dict[str, str]:
    top = html[html.index("<header>") : html.index("</header>")]
    pairs = re.findall(r"<dt>(.*?)</dt><dd>(.*?)</dd>", top)
    return {unescape(label): unescape(text) for label, text in pairs}


def test_the_top_of_the_page_states_the_period_and_the_evaluation_time(lake, tmp_path) -> None:
    assert header(page(lake, tmp_path, *PERIOD)) == {
        "Period": "2026-11-01T00:00:00Z to 2026-12-01T00:00:00Z",
        "Evaluated at": "2026-12-01T00:00:00Z",
        "Lake": str(lake),
    }


def test_reports_of_different_default_periods_are_each_counted_at_the_top(lake, tmp_path) -> None:
    top = header(page(lake, tmp_path, "--now", "2026-12-05T12:00:00Z"))
    assert top["Evaluated at"] == "2026-12-05T12:00:00Z"
    # 30 days by default, 7 for failures, app-consistency and replication; stale-resources,
    # stuck and latest look at all of the lake.
    assert top["Periods"] == (
        "2026-11-05T00:00:00Z to now (8 reports); "
        "2026-11-28T00:00:00Z to now (3 reports); "
        "the start of the lake to now (3 reports)"
    )


def test_the_chart_says_the_same_rounded_rate_as_the_tile_and_the_table(lake, tmp_path) -> None:
    html = page(lake, tmp_path, *PERIOD)
    tiles = dict(re.findall(r'data-tile="([a-z-]+)"><span class="value">([^<]+)</span>', html))
    chart = html[html.index('data-chart="controls"') :]
    chart = chart[: chart.index("</svg>")]
    labels = re.findall(
        r'<text x="[\d.]+" y="[\d.]+" text-anchor="end">([a-z-]+)</text>'
        r'<text x="[\d.]+" y="[\d.]+">([^<]+)</text>',
        chart,
    )
    assert len(labels) == 8
    for control, text in labels:
        assert text == tiles[control], control
    assert ("restore-tested", "33.3 %") in labels  # 0.3333, not 33.33 %


@pytest.mark.parametrize(
    ("fmt", "how"),
    [
        ("html", "open it in a web browser: file://"),
        ("csv", "open it in a spreadsheet"),
        ("json", "read it with jq or any JSON reader"),
        ("table", "read it with less -S"),
    ],
)
def test_report_out_says_how_to_open_what_it_wrote(lake, tmp_path, capsys, fmt, how) -> None:
    out = tmp_path / f"controls.{fmt}"
    assert (
        main(
            ["report", "controls", "--lake", str(lake), *PERIOD, "--format", fmt, "--out", str(out)]
        )
        == 0
    )
    said = capsys.readouterr().err
    lines = said.splitlines()
    assert lines[0].startswith(f"wrote {out}: {how}")
    # CSV has no room for the coverage: it is said beside it, once (the lake has no state).
    coverage = ["coverage: The lake holds no discovery or verify state"] if fmt == "csv" else []
    assert [line[: len(c)] for line, c in zip(lines[1:], coverage, strict=True)] == coverage
    if fmt == "html":
        assert said.strip().endswith(out.resolve().as_uri())
