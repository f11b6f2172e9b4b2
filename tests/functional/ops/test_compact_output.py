"""What `python -m lib compact` prints: what it did in a sentence and each partition once (a table
row), or the summary as JSON with --format json; the per-partition log lines only at
LOG_LEVEL=DEBUG."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from lib.ingest.flatten import flatten
from lib.lake.storage import LocalStore
from lib.lake.writer import Lake

from conftest import ROOT, fixture_logs


def compact(lake: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    chosen = [] if "--dt" in args else ["--older-than-days", "0"]
    command = ["compact", "--lake", str(lake), *chosen, *args]
    return subprocess.run(
        [sys.executable, "-m", "lib", *command],
        cwd=ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def write_twice(lake: Path) -> None:
    """Every partition gets two files: each log, then a later snapshot of it."""
    writer = Lake(LocalStore(lake))
    for hour in range(2):
        moment = datetime(2026, 11, 1, tzinfo=UTC) + timedelta(hours=hour)
        logs = [{**log, "updated_at": moment.isoformat()} for log in fixture_logs().values()]
        rows = [flatten(log, ingested_at=moment, source_message_id=None)[0] for log in logs]
        writer.write(rows, [])


def test_each_partition_is_reported_once(tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    write_twice(lake)
    days = sorted(p.name.removeprefix("dt=") for p in lake.glob("*/dt=*"))
    run = compact(lake, LOG_LEVEL="INFO")
    assert run.returncode == 0, run.stderr
    first, *table = run.stdout.splitlines()
    files = 2 * len(days)
    rows = len(fixture_logs())
    assert first == (
        f"compacted {len(days)} of {len(days)} partitions: {files} files into {len(days)}, "
        f"{rows} duplicate rows dropped; 0 expired inventory snapshots removed (0 files)"
    )
    assert table[0] == "" and table[1].split()[:3] == ["table", "dt", "files_in"]
    for day in days:
        assert run.stdout.count(day) == 1, run.stdout  # its table row, nothing else
    assert "partition done" not in run.stderr and run.stderr == ""
    write_twice(lake)
    detailed = compact(lake, "--format", "json", LOG_LEVEL="DEBUG")  # the detail: the JSON log
    assert detailed.stderr.count('"partition done"') == len(days), detailed.stderr
    summary = json.loads(detailed.stdout)
    assert summary["compacted"] == summary["partitions_seen"] == len(days) > 2
    # per day the compacted file and the earlier snapshots (the later ones it already holds)
    assert summary["files_in"] == 2 * len(days)
    assert sorted(p["dt"] for p in summary["partitions"]) == days
    again = compact(lake)
    assert again.returncode == 0 and again.stdout.startswith(
        f"compacted 0 of {len(days)} partitions; {len(days)} already compact;"
    ), again.stdout


def test_a_lake_with_nothing_to_compact_says_so(tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    write_twice(lake)
    run = compact(lake, "--dt", "2001-01-01")
    assert run.returncode == 0, run.stderr
    assert run.stdout.startswith("nothing to compact: no partition of the days chosen"), run.stdout
