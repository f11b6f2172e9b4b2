"""Readers skip what is not a lake file, and a scan survives a file deleted under it."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from lib.core.schema import DATA_TABLE
from lib.lake.reader import open_table, scan

from conftest import ROOT, Context, load_event, make_app, read_errors, read_rows
from fakecbr import FakeCBR

DAY = "operation_logs/dt=2026-11-20"


def strays(lake: Path) -> dict[str, str]:
    """Files someone left in the lake, by path: what `show` and reports must step over."""
    placed = {
        f"{DAY}/README.txt": "",
        "operation_logs/README.md": "",
        f"{DAY}/empty.parquet": "(empty)",
        f"{DAY}/part-00000000000000000000000000000000.parquet": "(empty)",
        f"{DAY}/foreign.parquet": "(not of this table's schema)",
        f"{DAY}/wrong-types.parquet": "(not of this table's schema)",
        "operation_logs/dt=not-a-day/x.parquet": "",
    }
    for relative in placed:
        (lake / relative).parent.mkdir(parents=True, exist_ok=True)
        (lake / relative).write_bytes(b"")
    (lake / f"{DAY}/README.txt").write_text("what this folder is")
    (lake / "operation_logs/README.md").write_text("what this folder is")
    pq.write_table(pa.table({"colour": ["red"]}), lake / f"{DAY}/foreign.parquet")
    pq.write_table(pa.table({"id": [[1, 2]]}), lake / f"{DAY}/wrong-types.parquet")
    pq.write_table(pa.table({"id": ["x"]}), lake / "operation_logs/dt=not-a-day/x.parquet")
    return placed


@pytest.fixture
def written(served: FakeCBR, settings, lake: Path) -> list[dict]:
    make_app(settings).handle(load_event("sqs-batch.json"), Context())
    rows = read_rows(lake)
    assert rows and read_errors(lake)
    return rows


def test_stray_files_are_skipped_and_named(
    written: list[dict], lake: Path, logs: io.StringIO
) -> None:
    placed = strays(lake)
    assert read_rows(lake) == written
    (warning,) = [
        json.loads(line)["message"]
        for line in logs.getvalue().splitlines()
        if "not operation_logs files" in line
    ]
    for relative, why in placed.items():
        assert f"{relative.removeprefix('operation_logs/')} {why}".strip() in warning, relative


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "lib", *args], cwd=ROOT, env=env, capture_output=True, text=True
    )


def test_show_and_reports_run_beside_stray_files(written: list[dict], lake: Path) -> None:
    strays(lake)
    shown = run_cli("show", "--lake", str(lake))
    assert shown.returncode == 0, shown.stderr
    assert f"operation_logs: {len(written)} rows" in shown.stdout
    assert "Traceback" not in shown.stderr and "README.txt" in shown.stderr
    daily = run_cli(
        "report", "daily", "--lake", str(lake), "--since", "2019-01-01", "--format", "json"
    )
    assert daily.returncode == 0, daily.stderr
    assert sum(day["total"] for day in json.loads(daily.stdout)["rows"]) == len(written)


def test_a_scan_that_loses_a_file_to_compaction_reads_again(
    written: list[dict], lake: Path
) -> None:
    """A compaction writes a partition's rows into a new file, then deletes the old ones: a
    reader that listed the old file before the delete must read again, not fail."""
    victim = sorted(lake.glob("operation_logs/dt=*/*.parquet"))[0]
    moved = pq.read_table(victim)
    attempts = []

    def read(dataset) -> pa.Table:
        attempts.append(len(dataset.files))
        if len(attempts) == 1:  # the compaction commits between the listing and the read
            pq.write_table(moved, victim.with_name("part-" + "f" * 32 + ".parquet"))
            victim.unlink()
        return dataset.to_table()

    table = scan(str(lake), DATA_TABLE, read)
    assert len(attempts) == 2
    assert sorted(table.column("id").to_pylist()) == sorted(r["id"] for r in written)
    with pytest.raises(FileNotFoundError):  # without the retry, the same scan fails
        dataset = open_table(str(lake), DATA_TABLE)
        next(iter(sorted(lake.glob("operation_logs/dt=*/*.parquet")))).unlink()
        dataset.to_table()
