"""Hostile resource and vault names, through the CLI: CSV cells a spreadsheet would run as a
formula are neutralised, JSON keeps every value as it is, HTML shows bidirectional controls
instead of applying them."""

from __future__ import annotations

import csv
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from lib.ingest.flatten import flatten
from lib.lake.storage import LocalStore
from lib.lake.writer import Lake
from lib.ops.cli import main

PERIOD = ["--since", "2026-11-01", "--until", "2026-11-30", "--now", "2026-12-01T06:00:00Z"]
FORMULAS = [
    '=HYPERLINK("http://attacker.example/","open")',
    "+cmd|' /C calc'!A0",
    "-2+3",
    "@SUM(1+1)",
    "\tleading tab",
    "\rleading return",
]
BIDI = ["invoice\u202egpj.exe", "\u2066isolated\u2069 name", "a\u202ab\u202cc"]
VAULTS = ["=vault()", "@vault", "vault\u202elive"]
DANGEROUS = ("=", "+", "-", "@", "\t", "\r")


def operation_log(number: int, name: str, vault: str) -> dict[str, Any]:
    created = f"2026-11-{10 + number:02d}T01:00:00Z"
    ended = f"2026-11-{10 + number:02d}T01:10:00Z"
    return {
        "id": f"task-{number}",
        "project_id": "p1",
        "operation_type": "backup",
        "status": "success",
        "created_at": created,
        "started_at": created,
        "ended_at": ended,
        "updated_at": ended,
        "vault_name": vault,
        "error_info": {"code": "", "message": ""},
        "extra_info": {
            "common": {"progress": 100, "request_id": f"r-{number}"},
            "resource": {"id": f"res-{number}", "name": name, "type": "OS::Nova::Server"},
            "backup": {"backup_id": f"bk-{number}", "backup_name": f"autobk-{number}"},
        },
    }


NAMES = FORMULAS + BIDI
LOGS = [
    operation_log(number, name, VAULTS[number % len(VAULTS)]) for number, name in enumerate(NAMES)
]


@pytest.fixture(scope="module")
def lake(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("hostile") / "lake"
    ingested = datetime(2026, 12, 1, tzinfo=UTC)
    rows = [flatten(log, ingested_at=ingested, source_message_id="m")[0] for log in LOGS]
    Lake(LocalStore(root)).write(rows, [])
    return root


def run(lake: Path, *args: str) -> None:
    assert main([*args, "--lake", str(lake), *PERIOD]) == 0


def csv_rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def expected_cell(value: str) -> str:
    return "'" + value if value.startswith(DANGEROUS) else value


def test_csv_neutralises_formulas_and_json_keeps_the_names(lake: Path, tmp_path: Path) -> None:
    for report in ("resource-compliance", "adherence"):
        run(lake, "report", report, "--format", "csv", "--out", str(tmp_path / "r.csv"))
        run(lake, "report", report, "--format", "json", "--out", str(tmp_path / "r.json"))
        from_csv = csv_rows(tmp_path / "r.csv")
        from_json = json.loads((tmp_path / "r.json").read_text(encoding="utf-8"))["rows"]
        assert len(from_csv) == len(from_json) > 0
        assert {row["resource_name"] for row in from_json} == set(NAMES)
        assert {row["vault_name"] for row in from_json} == set(VAULTS)
        for csv_row, json_row in zip(from_csv, from_json, strict=True):
            assert csv_row["resource_name"] == expected_cell(json_row["resource_name"])
            assert csv_row["vault_name"] == expected_cell(json_row["vault_name"])
            assert not any(cell.startswith(DANGEROUS) for cell in csv_row.values())


def test_every_csv_of_the_audit_pack_is_neutralised(lake: Path, tmp_path: Path) -> None:
    run(lake, "audit", "--out", str(tmp_path / "pack"))
    files = sorted((tmp_path / "pack").glob("*.csv"))
    assert len(files) == 6
    names = set()
    for path in files:
        for row in csv_rows(path):
            assert not any(cell.startswith(DANGEROUS) for cell in row.values()), path.name
            names.add(row.get("resource_name"))
    assert {expected_cell(name) for name in NAMES} <= names
    compliance = json.loads((tmp_path / "pack" / "resource-compliance.json").read_text())["rows"]
    assert {row["resource_name"] for row in compliance} == set(NAMES)


@pytest.mark.parametrize("command", ["report-all", "audit"])
def test_html_shows_bidirectional_controls_instead_of_applying_them(
    lake: Path, tmp_path: Path, command: str
) -> None:
    if command == "audit":
        run(lake, "audit", "--out", str(tmp_path / "pack"))
        page = (tmp_path / "pack" / "index.html").read_text(encoding="utf-8")
    else:
        run(lake, "report", "all", "--format", "html", "--out", str(tmp_path / "all.html"))
        page = (tmp_path / "all.html").read_text(encoding="utf-8")
    for char in "\u202a\u202c\u202e\u2066\u2069":
        assert char not in page
    assert "invoice&lt;U+202E&gt;gpj.exe" in page
    assert "&lt;U+2066&gt;isolated&lt;U+2069&gt; name" in page
    assert "vault&lt;U+202E&gt;live" in page
