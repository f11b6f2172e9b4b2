"""Reports and the audit pack over a lake with an inventory, against the same lake without one.

    python bench/inventory_reports.py [--logs 100000] [--backups 60000] [--runs 3]

The lake: `--logs` operation logs of the varied generator (60 days, written by the batch path)
and the inventory of the same account (`make_inventory`: 3 projects, 40 vaults, 600 resources
and some never protected, `--backups` restore points), snapshotted by the product's inventory run
from the file:// replay. Each command runs in a process of its own under /usr/bin/time: `report
all --format json`, `report unprotected`, `report restore-points` and `audit` over the last 30
days. The baseline, measured in the same run: the same commands over the same lake with its
inventory state removed (the eight controls, no inventory reports). Medians of `--runs`.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]

from lib.aws.app import Root  # noqa: E402
from lib.core.jsontext import decode_json  # noqa: E402
from lib.core.runtime import Deadline  # noqa: E402
from lib.core.settings import Settings  # noqa: E402
from lib.ingest.batch import Record, to_table  # noqa: E402
from lib.lake.storage import LocalStore  # noqa: E402
from lib.lake.writer import Lake  # noqa: E402

from generate import make_inventory, make_varied_logs, varied_account  # noqa: E402

TYPES = ("server", "disk", "turbo", "workspace")


def write_logs(lake: Path, count: int, now: datetime) -> None:
    logs = make_varied_logs(count, days=60)
    records = [Record(None, json.dumps(log).encode(), f"m{n}") for n, log in enumerate(logs)]
    Lake(LocalStore(lake)).write(to_table(records, ingested_at=now, decode=decode_json).table, [])


def write_inventory(lake: Path, replay: Path, backups: int, now: datetime) -> dict[str, int]:
    """The account's list answers as replay files, snapshotted by the inventory run."""
    inventory = make_inventory(varied_account(7), backups=backups, now=now)
    (replay / "operation-logs").mkdir(parents=True)
    for project, listed in inventory.items():
        folder = replay / "inventory" / project
        (folder / "protectables").mkdir(parents=True)
        for name in ("vaults", "policies", "backups"):
            body = {name: listed[name], "count": len(listed[name])}
            (folder / f"{name}.json").write_text(json.dumps(body))
        for kind in TYPES:
            instances = listed["protectables"].get(kind, [])
            (folder / "protectables" / f"{kind}.json").write_text(
                json.dumps({"instances": instances})
            )
    environ = {"CBR_ENDPOINT": f"file://{replay / 'operation-logs'}", "LAKE_URI": str(lake)}
    root = Root(replace(Settings.from_env(environ), inventory_types=TYPES))
    runs = root.inventory.run(list(inventory), Deadline.after(600))
    assert all(run.published for run in runs), [run.error for run in runs]
    totals: dict[str, int] = {}
    for run in runs:
        for table, rows in run.rows.items():
            totals[table] = totals.get(table, 0) + rows
    return totals


def timed(args: list[str], out: Path) -> tuple[float, float]:
    """Wall seconds and peak RSS (MB) of one command in its own process."""
    command = ["/usr/bin/time", "-f", "%e %M", sys.executable, "-m", "lib", *args]
    result = subprocess.run(
        command, cwd=ROOT, capture_output=True, text=True, check=False, env=os.environ.copy()
    )
    if result.returncode != 0:
        raise SystemExit(f"{args}: {result.stderr[-2000:]}")
    seconds, kilobytes = result.stderr.strip().splitlines()[-1].split()
    shutil.rmtree(out, ignore_errors=True)  # the next run writes afresh (audit refuses others)
    out.mkdir()
    return float(seconds), int(kilobytes) / 1024


def commands(lake: Path, out: Path, now: datetime) -> dict[str, list[str]]:
    since = (now - timedelta(days=30)).date().isoformat()
    until = now.date().isoformat()
    common = ["--lake", str(lake)]
    return {
        "report all": ["report", "all", *common, "--format", "json", "--out", str(out / "a.json")],
        "report unprotected": ["report", "unprotected", *common, "--format", "json"],
        "report restore-points": ["report", "restore-points", *common, "--format", "json"],
        "audit": ["audit", *common, "--since", since, "--until", until, "--out", str(out / "p")],
    }


def measure(lake: Path, out: Path, runs: int, now: datetime) -> dict[str, dict[str, float]]:
    found = {}
    out.mkdir(exist_ok=True)
    for name, args in commands(lake, out, now).items():
        samples = [timed(args, out) for _ in range(runs)]
        found[name] = {
            "seconds": statistics.median(s for s, _ in samples),
            "peak_mb": statistics.median(m for _, m in samples),
        }
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--logs", type=int, default=100_000)
    parser.add_argument("--backups", type=int, default=60_000)
    parser.add_argument("--runs", type=int, default=3)
    options = parser.parse_args()
    now = datetime.now(UTC)
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        lake, bare = work / "lake", work / "bare"
        write_logs(lake, options.logs, now)
        shutil.copytree(lake, bare)
        rows = write_inventory(lake, work / "replay", options.backups, now)
        with_inventory = measure(lake, work / "out", options.runs, now)
        baseline = measure(bare, work / "out", options.runs, now)
    result = {"logs": options.logs, "inventory_rows": rows, "runs": options.runs}
    for name, figures in with_inventory.items():
        base = baseline[name]
        result[name] = {
            **figures,
            "baseline_seconds": base["seconds"],
            "baseline_peak_mb": base["peak_mb"],
            "ratio": round(figures["seconds"] / base["seconds"], 2),
        }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
