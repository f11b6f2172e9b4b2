"""Reports call the lake complete only where it was proven, and name every part that was not.

The lake is audit_lake.py's (project p-audit, tasks from August to November 2026); each test
writes the discovery state or verify proofs as those commands write them, runs a report or the
audit pack through the CLI with a fixed clock, and reads what came out: the table, the JSON
document, stderr beside the CSV, the HTML page written with --out and the pack's files.
"""

from __future__ import annotations

import html
import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from audit_lake import PROJECT, log, write_audit_lake, write_proofs, write_watermark

from lib.ingest.flatten import flatten
from lib.lake.storage import LocalStore
from lib.lake.writer import Lake
from lib.ops.cli import main

NOW = "2026-12-06T17:20:00Z"
NOVEMBER = ["--since", "2026-11-01", "--until", "2026-11-30", "--now", NOW]


@pytest.fixture
def lake(tmp_path: Path) -> Path:
    root = tmp_path / "lake"
    write_audit_lake(root)
    return root


def report(lake: Path, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[str, str]:
    """(stdout, stderr) of `report ARGS --lake LAKE`, which must succeed."""
    code = main(["report", *args, "--lake", str(lake)])
    out, err = capsys.readouterr()
    assert code == 0, err
    return out, err


def document(lake: Path, capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, Any]:
    out, _ = report(lake, capsys, *args, "--format", "json")
    return json.loads(out)


def coverage_lines(table: str) -> list[str]:
    return [line.strip() for line in table.splitlines() if line.startswith("  coverage: ")]


def days(doc: dict[str, Any], project: str = PROJECT) -> dict[str, str]:
    """The coverage report's rows of one project: day -> proven."""
    return {r["day"]: r["proven"] for r in doc["rows"] if r["project_id"] == project}


def section_text(page: str, name: str) -> str:
    """The words of one section of a page (`data-section="summary"`), tags left out."""
    start = page.index(f'data-section="{name}"')
    chunk = page[start : page.index("</section>", start)]
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", chunk)).split())


# --- periods where nothing was listed ---------------------------------------------------------


def test_a_2018_pack_on_a_lake_listed_from_november_2026_says_nothing_of_2018_was_listed(
    lake: Path, tmp_path: Path, capsys
) -> None:
    write_watermark(lake, PROJECT, "2026-12-01T00:00:00Z", listed_from="2026-11-03T00:00:00Z")
    out = tmp_path / "pack-2018"
    period = ["--since", "2018-01-01", "--until", "2018-12-31", "--now", NOW]
    assert main(["audit", "--lake", str(lake), *period, "--out", str(out)]) == 0

    whole = "NOT LISTED: 2018-01-01T00:00:00Z to 2019-01-01T00:00:00Z, the whole period"
    said = capsys.readouterr().out
    assert f"coverage: Project p-audit: {whole}; the lake is proven complete only from " in said
    summary = section_text((out / "index.html").read_text(), "summary")
    assert (
        f"Project p-audit: {whole}; the lake is proven complete only from "
        "2026-11-03T00:00:00Z." in summary
    )
    assert "complete up to" not in summary and "whole period (" not in summary
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["coverage"] == {
        "from": "2018-01-01T00:00:00Z",
        "to": "2019-01-01T00:00:00Z",
        "complete": False,
        "projects": {
            PROJECT: {
                "state": "stated",
                "complete": False,
                "watermark": "2026-12-01T00:00:00Z",
                "discovery_continues": False,
                "proven": [],
                "not_proven": [
                    {
                        "from": "2018-01-01T00:00:00Z",
                        "to": "2019-01-01T00:00:00Z",
                        "reason": "not listed",
                    }
                ],
            }
        },
    }
    rows = json.loads((out / "coverage.json").read_text())["rows"]
    assert len(days({"rows": rows})) == 365 and set(days({"rows": rows}).values()) == {"not"}
    assert json.loads((out / "controls.json").read_text())["coverage"] == manifest["coverage"]


def test_a_month_before_discovery_started_is_not_listed_in_every_format(lake: Path, capsys) -> None:
    write_watermark(lake, PROJECT, "2026-12-01T00:00:00Z", listed_from="2026-11-03T00:00:00Z")
    october = ["coverage", "--since", "2026-10-01", "--until", "2026-10-31", "--now", NOW]

    doc = document(lake, capsys, *october)
    assert doc["coverage"]["projects"][PROJECT]["proven"] == []
    assert doc["coverage"]["projects"][PROJECT]["not_proven"] == [
        {"from": "2026-10-01T00:00:00Z", "to": "2026-11-01T00:00:00Z", "reason": "not listed"}
    ]
    assert len(days(doc)) == 31 and set(days(doc).values()) == {"not"}
    sentence = (
        "Project p-audit: NOT LISTED: 2026-10-01T00:00:00Z to 2026-11-01T00:00:00Z, the whole "
        "period; the lake is proven complete only from 2026-11-03T00:00:00Z."
    )
    table, _ = report(lake, capsys, *october)
    assert coverage_lines(table) == [f"coverage: {sentence}"]
    csv, err = report(lake, capsys, *october, "--format", "csv")
    assert csv.splitlines()[0].endswith(",watermark,proven")
    assert f"coverage: {sentence}" in err.splitlines()


# --- proven periods -----------------------------------------------------------------------------


def test_a_month_inside_the_listed_span_is_complete_in_every_report(lake: Path, capsys) -> None:
    write_watermark(lake, PROJECT, "2026-12-02T00:00:00Z", listed_from="2026-10-25T00:00:00Z")
    sentence = "coverage: Project p-audit: complete over the whole period (proven by discovery)."

    for name in ("daily", "restores", "resource-compliance"):
        doc = document(lake, capsys, name, *NOVEMBER)
        assert doc["coverage"]["complete"] is True, name
        assert doc["coverage"]["projects"][PROJECT]["proven"] == [
            {"from": "2026-11-01T00:00:00Z", "to": "2026-12-01T00:00:00Z", "sources": ["discovery"]}
        ]
        assert doc["coverage"]["projects"][PROJECT]["not_proven"] == []
        table, _ = report(lake, capsys, name, *NOVEMBER)
        assert coverage_lines(table) == [sentence], name
    assert set(days(document(lake, capsys, "coverage", *NOVEMBER)).values()) == {"discovery"}


def test_a_period_verify_proved_is_complete_without_discovery(lake: Path, capsys) -> None:
    write_proofs(lake, PROJECT, ("2026-11-01T00:00:00Z", "2026-12-01T00:00:00Z"))
    doc = document(lake, capsys, "coverage", *NOVEMBER)
    ours = doc["coverage"]["projects"][PROJECT]
    assert ours["complete"] is True and ours["watermark"] is None
    assert ours["proven"] == [
        {"from": "2026-11-01T00:00:00Z", "to": "2026-12-01T00:00:00Z", "sources": ["verify"]}
    ]
    assert set(days(doc).values()) == {"verify"}
    assert {r["watermark"] for r in doc["rows"] if r["project_id"] == PROJECT} == {None}
    table, _ = report(lake, capsys, "adherence", *NOVEMBER)
    assert coverage_lines(table) == [
        "coverage: Project p-audit: complete over the whole period (proven by verify)."
    ]

    # Discovery from Nov 10 on as well: each day says which evidence proves it.
    write_watermark(lake, PROJECT, "2026-12-01T00:00:00Z", listed_from="2026-11-10T00:00:00Z")
    write_proofs(lake, PROJECT, ("2026-11-01T00:00:00Z", "2026-11-15T00:00:00Z"))
    proven = days(document(lake, capsys, "coverage", *NOVEMBER))
    assert [proven[f"2026-11-{d:02d}"] for d in (1, 9, 10, 14, 15, 30)] == [
        "verify",
        "verify",
        "discovery, verify",
        "discovery, verify",
        "discovery",
        "discovery",
    ]
    table, _ = report(lake, capsys, "daily", *NOVEMBER)
    assert coverage_lines(table) == [
        "coverage: Project p-audit: complete over the whole period (proven by discovery and "
        "verify)."
    ]


# --- after the watermark, and gaps --------------------------------------------------------------


def test_a_period_running_past_a_current_watermark_reads_as_discovery_continuing(
    lake: Path, tmp_path: Path, capsys
) -> None:
    write_watermark(lake, PROJECT, "2026-12-06T17:12:55Z", listed_from="2026-11-01T00:00:00Z")
    december = ["--since", "2026-12-01", "--now", NOW]
    sentence = (
        "Project p-audit: complete up to 17:12:55 UTC today, 7 min 05 s ago (proven by "
        "discovery); discovery continues."
    )
    table, _ = report(lake, capsys, "daily", *december)
    assert coverage_lines(table) == [f"coverage: {sentence}"]
    assert "NOT LISTED" not in table
    doc = document(lake, capsys, "daily", *december)
    ours = doc["coverage"]["projects"][PROJECT]
    assert ours["discovery_continues"] is True and ours["complete"] is False
    assert ours["not_proven"] == [
        {"from": "2026-12-06T17:12:55Z", "to": "2026-12-06T17:20:00Z", "reason": "not yet listed"}
    ]
    proven = days(document(lake, capsys, "coverage", *december))
    assert (proven["2026-12-05"], proven["2026-12-06"]) == ("discovery", "partly")
    table, _ = report(lake, capsys, "daily", "--since", "2026-12-06T17:15:00Z", "--now", NOW)
    assert coverage_lines(table) == [
        "coverage: Project p-audit: not listed yet: discovery listed up to 17:12:55 UTC today, "
        "7 min 05 s ago, and continues."
    ]

    page = tmp_path / "all.html"
    report(lake, capsys, "all", *december, "--format", "html", "--out", str(page))
    summary = section_text(page.read_text(), "summary")
    assert sentence in summary and "NOT LISTED" not in summary
    assert "not the whole period" not in page.read_text()

    # Three days old, the same tail is discovery falling behind: not listed, and said so.
    write_watermark(lake, PROJECT, "2026-12-03T17:12:55Z", listed_from="2026-11-01T00:00:00Z")
    table, _ = report(lake, capsys, "daily", *december)
    assert coverage_lines(table) == [
        "coverage: Project p-audit: NOT LISTED: 2026-12-03T17:12:55Z to 2026-12-06T17:20:00Z "
        "(after discovery's watermark, 3 d 00 h old: discovery is behind); the rest of the "
        "period is complete (proven by discovery)."
    ]
    table, _ = report(lake, capsys, "daily", "--since", "2026-12-05", "--now", NOW)
    assert coverage_lines(table) == [
        "coverage: Project p-audit: NOT LISTED: 2026-12-05T00:00:00Z to 2026-12-06T17:20:00Z, "
        "the whole period (after discovery's watermark, 3 d 00 h old: discovery is behind)."
    ]


def test_a_gap_between_listed_spans_is_named_as_not_listed(lake: Path, tmp_path, capsys) -> None:
    write_watermark(
        lake,
        PROJECT,
        "2026-12-01T00:00:00Z",
        listed_from="2026-11-05T12:00:00Z",
        earlier=(("2026-10-20T00:00:00Z", "2026-11-03T00:00:00Z"),),
    )
    sentence = (
        "Project p-audit: NOT LISTED: 2026-11-03T00:00:00Z to 2026-11-05T12:00:00Z; the rest of "
        "the period is complete (proven by discovery)."
    )
    table, _ = report(lake, capsys, "restores", *NOVEMBER)
    assert coverage_lines(table) == [f"coverage: {sentence}"]
    doc = document(lake, capsys, "coverage", *NOVEMBER)
    assert doc["coverage"]["projects"][PROJECT]["not_proven"] == [
        {"from": "2026-11-03T00:00:00Z", "to": "2026-11-05T12:00:00Z", "reason": "not listed"}
    ]
    assert doc["coverage"]["projects"][PROJECT]["proven"] == [
        {"from": "2026-11-01T00:00:00Z", "to": "2026-11-03T00:00:00Z", "sources": ["discovery"]},
        {"from": "2026-11-05T12:00:00Z", "to": "2026-12-01T00:00:00Z", "sources": ["discovery"]},
    ]
    proven = days(doc)
    assert [proven[f"2026-11-{d:02d}"] for d in range(2, 7)] == [
        "discovery",
        "not",
        "not",
        "partly",
        "discovery",
    ]
    one_day = ["--since", "2026-11-04", "--until", "2026-11-04", "--now", NOW]
    table, _ = report(lake, capsys, "daily", *one_day)
    assert coverage_lines(table) == [
        "coverage: Project p-audit: NOT LISTED: 2026-11-04T00:00:00Z to 2026-11-05T00:00:00Z, "
        "the whole period; nothing in the period is proven."
    ]
    out = tmp_path / "pack"
    assert main(["audit", "--lake", str(lake), *NOVEMBER, "--out", str(out)]) == 0
    assert f"coverage: {sentence}" in capsys.readouterr().out
    page = (out / "index.html").read_text()
    assert sentence in section_text(page, "summary")
    counts = "27 proven complete by discovery, 2 NOT proven complete, 1 errors naming no project"
    assert f"31 project-days in the period: {counts}, 1 proven in part." in section_text(
        page, "coverage"
    )


# --- what proves nothing ------------------------------------------------------------------------


def test_unreadable_and_future_state_files_are_named_and_prove_nothing(lake: Path, capsys) -> None:
    folder = lake / "_state" / "discover"
    write_watermark(lake, "p-ok", "2026-12-01T00:00:00Z", listed_from="2026-10-01T00:00:00Z")
    (folder / "p-bad.json").write_text("{half")
    future = '{"watermark": "2099-01-01T00:00:00Z", "listed_from": "2026-10-01T00:00:00Z"}'
    (folder / f"{PROJECT}.json").write_text(future)
    (lake / "_state" / "verify").mkdir()
    (lake / "_state" / "verify" / "p-ok.json").write_text("[1, 2]")

    doc = document(lake, capsys, "coverage", *NOVEMBER)
    projects = doc["coverage"]["projects"]
    assert {p: v["state"] for p, v in projects.items()} == {
        PROJECT: "unreadable",
        "p-bad": "unreadable",
        "p-ok": "unreadable",  # its discovery state is fine, its verify proofs are not
    }
    assert all(v["proven"] == [] and not v["complete"] for v in projects.values())
    assert set(days(doc).values()) == {"not"}
    assert {r["watermark"] for r in doc["rows"] if r["project_id"] == PROJECT} == {None}
    notes = " | ".join(doc["notes"])
    assert "the discovery state _state/discover/p-bad.json in" in notes
    assert f"_state/discover/{PROJECT}.json in {lake} names 2099-01-01T00:00:00Z" in notes
    assert "the verify proofs _state/verify/p-ok.json in" in notes

    table, err = report(lake, capsys, "coverage", *NOVEMBER)
    assert coverage_lines(table) == [
        f"coverage: Project {p}: its state cannot be read (see the note), so nothing is "
        "claimed complete."
        for p in ("p-audit", "p-bad", "p-ok")
    ]
    assert sum(line.startswith("note: ") for line in err.splitlines()) == 3
    assert "_state/discover/p-bad.json" in err and "_state/verify/p-ok.json" in err


def test_projects_and_lakes_without_state_are_said_once(lake: Path, capsys) -> None:
    table, _ = report(lake, capsys, "coverage", *NOVEMBER)
    whole = "NOT LISTED: 2026-11-01T00:00:00Z to 2026-12-01T00:00:00Z, the whole period"
    assert coverage_lines(table) == [
        "coverage: The lake holds no discovery or verify state: nothing in the period is "
        f"proven complete ({whole})."
    ]
    doc = document(lake, capsys, "coverage", *NOVEMBER)
    assert doc["coverage"]["projects"][PROJECT]["state"] == "none"
    assert set(days(doc).values()) == {"not"}

    # One project with state, another with tasks and none: that one is named once.
    other = log("other-1", "backup", "success", "2026-11-07T10:00:00Z", 5, "web-02")
    other["project_id"] = "p-other"
    Lake(LocalStore(lake)).write(
        [flatten(other, ingested_at=datetime(2026, 12, 1, tzinfo=UTC), source_message_id="m9")[0]],
        [],
    )
    write_watermark(lake, PROJECT, "2026-12-02T00:00:00Z", listed_from="2026-10-25T00:00:00Z")
    table, _ = report(lake, capsys, "daily", *NOVEMBER)
    assert coverage_lines(table) == [
        "coverage: Project p-audit: complete over the whole period (proven by discovery).",
        f"coverage: {whole}, for project(s) p-other: they have tasks in the lake but no "
        "discovery or verify state, so nothing is proven.",
    ]
    doc = document(lake, capsys, "coverage", *NOVEMBER)
    assert doc["coverage"]["complete"] is False
    assert doc["coverage"]["projects"]["p-other"]["state"] == "none"
    assert set(days(doc, "p-other").values()) == {"not"}


def test_people_read_moments_to_the_second_and_json_keeps_them_whole(
    lake: Path, tmp_path: Path, capsys
) -> None:
    mark = "2026-12-06T16:10:00.654321Z"
    write_watermark(lake, PROJECT, mark, listed_from="2026-11-01T00:00:00.250000Z")
    period = ["coverage", "--since", "2026-12-01", "--now", "2026-12-06T17:20:00.5Z"]
    table, _ = report(lake, capsys, *period)
    assert ".654321" not in table and ".5" not in table
    assert "  evaluated at: 2026-12-06T17:20:00Z" in table.splitlines()
    assert coverage_lines(table) == [
        "coverage: Project p-audit: NOT LISTED: 2026-12-06T16:10:00Z to 2026-12-06T17:20:00Z "
        "(after discovery's watermark, 1 h 10 min old: discovery is behind); the rest of the "
        "period is complete (proven by discovery)."
    ]
    assert re.search(r"^2026-12-05 +p-audit .* 2026-12-06T16:10:00Z +discovery$", table, re.M)
    page = tmp_path / "coverage.html"
    report(lake, capsys, *period, "--format", "html", "--out", str(page))
    assert ".654321" not in page.read_text() and "2026-12-06T16:10:00Z" in page.read_text()

    doc = document(lake, capsys, *period)
    assert doc["evaluated_at"] == "2026-12-06T17:20:00.500000Z"
    assert {r["watermark"] for r in doc["rows"]} == {mark}
    assert doc["coverage"]["projects"][PROJECT]["not_proven"] == [
        {"from": mark, "to": "2026-12-06T17:20:00.500000Z", "reason": "not yet listed"}
    ]
