"""What `python -m lib compact` prints: each partition once, for a person (a table row on stderr),
the summary as JSON on stdout; the per-partition log lines only at LOG_LEVEL=DEBUG."""

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


def compact(lake: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "lib", "compact", "--lake", str(lake), "--older-than-days", "0"],
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
    summary = json.loads(run.stdout)
    assert summary["compacted"] == summary["partitions_seen"] == len(days) > 2
    for day in days:
        assert run.stderr.count(day) == 1, run.stderr  # its table row, nothing else
    assert "partition done" not in run.stderr
    write_twice(lake)
    detailed = compact(lake, LOG_LEVEL="DEBUG")  # the detail stays in the JSON log
    assert detailed.stderr.count('"partition done"') == len(days), detailed.stderr
