"""`python -m lib show`: each table's size and first rows, and each project's latest inventory
snapshot, for a person or as JSON; a folder holding none of them is refused."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pyarrow.dataset as ds

from lib.ingest.flatten import flatten
from lib.lake.storage import LocalStore
from lib.lake.writer import Lake

from conftest import ROOT, fixture_logs


def run(*args: str) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("CBR_", "LAKE_"))}
    return subprocess.run(
        [sys.executable, "-m", "lib", *args],
        cwd=ROOT,  # the sample answers replayed offline: events/
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def write_logs(lake: Path) -> None:
    moment = datetime(2026, 12, 1, tzinfo=UTC)
    rows = [
        flatten(log, ingested_at=moment, source_message_id="m")[0]
        for log in fixture_logs().values()
    ]
    Lake(LocalStore(lake)).write(rows, [])


def test_show_says_what_each_table_and_the_inventory_hold(tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    write_logs(lake)
    written = ds.dataset(lake / "operation_logs", partitioning="hive").to_table()
    before = run("show", "--lake", str(lake), "--limit", "2")
    assert before.returncode == 0, before.stderr
    assert f"operation_logs: {written.num_rows} rows in" in before.stdout
    assert f"... {written.num_rows - 2} more" in before.stdout
    assert "inventory: no snapshot yet" in before.stdout
    assert run("inventory", "--lake", str(lake)).returncode == 0
    shown = run("show", "--lake", str(lake), "--format", "json")
    assert shown.returncode == 0, shown.stderr
    document = json.loads(shown.stdout)
    logs = next(t for t in document["tables"] if t["table"] == "operation_logs")
    assert logs["rows"] == written.num_rows and len(logs["first_rows"]) == min(20, written.num_rows)
    assert {r["id"] for r in logs["first_rows"]} <= set(written["id"].to_pylist())
    states = sorted((lake / "_state" / "inventory").glob("*.json"))
    assert [p["project_id"] for p in document["inventory"]] == [p.stem for p in states]
    for project, state in zip(document["inventory"], states, strict=True):
        (latest,) = json.loads(state.read_text())["snapshots"]
        assert project["snapshot_id"] == latest["snapshot_id"]
        assert project["vaults"] == latest["rows"]["vaults"]


def test_a_lake_holding_only_an_inventory_is_shown_and_an_empty_folder_refused(tmp_path) -> None:
    lake = tmp_path / "lake"
    assert run("inventory", "--lake", str(lake)).returncode == 0
    shown = run("show", "--lake", str(lake))
    assert shown.returncode == 0, shown.stderr
    assert "operation_logs: no files yet" in shown.stdout
    assert "inventory: the latest snapshot of 2 projects" in shown.stdout
    (tmp_path / "empty").mkdir()
    refused = run("show", "--lake", str(tmp_path / "empty"))
    assert refused.returncode == 2 and refused.stderr.startswith("error: no lake files under")
