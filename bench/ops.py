"""Lake-operations benchmarks, for each bench generator: backfill through the list API, and
compaction.

    python bench/ops.py [--tasks 10000] [--rows 100000] [--generator varied]

1. Backfill of T tasks from the fake CBR in its own process (20 ms latency): listing the day in
   pages of 1,000 vs the same T IDs fetched one by one through the pipeline (16 at a time).
2. Compaction of one day of R tasks written as SQS batches do (files of 100 rows; every fifth
   batch redelivered mixed with other messages): time and peak RSS of a process compacting it
   (against the same process only importing), and a DuckDB `daily` report before vs after.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from lib.aws.app import Root  # noqa: E402
from lib.core.settings import Settings  # noqa: E402
from lib.ingest.flatten import flatten  # noqa: E402
from lib.lake.storage import LocalStore  # noqa: E402
from lib.lake.writer import Lake  # noqa: E402
from lib.ops.backfill import command as backfill  # noqa: E402
from lib.reports.engine import run_report  # noqa: E402
from lib.reports.parameters import Request  # noqa: E402

from fetch import PROJECT, fake_server  # noqa: E402
from generate import GENERATORS, START  # noqa: E402
from serve import task_id  # noqa: E402

DAY = START  # the day bench/serve.py's generated logs were created
COMPACTION_MEMORY_MB = 3008  # template.yaml: CompactFunction MemorySize


def backfill_ratio(generator: str, tasks: int) -> dict:
    env = {"CBR_ENDPOINT": "", "CBR_PROJECT_ID": PROJECT, "LOG_LEVEL": "WARNING"}
    served = fake_server(tasks, latency=0.02, generator=generator)
    with served as server, tempfile.TemporaryDirectory() as work:
        env["CBR_ENDPOINT"] = server.base_url
        work_dir = Path(work)
        started = time.perf_counter()
        listed = backfill.run(
            backfill.Options(
                since=DAY, until=DAY + timedelta(days=1), checkpoint=str(work_dir / "a.json")
            ),
            Root(Settings.from_env(env, lake_uri=str(work_dir / "listed"))),
        )
        list_s = time.perf_counter() - started
        ids_file = work_dir / "ids.txt"
        ids_file.write_text("".join(f"{task_id(n)}\n" for n in range(tasks)))
        started = time.perf_counter()
        fetched = backfill.run(
            backfill.Options(ids_file=str(ids_file), checkpoint=str(work_dir / "b.json")),
            Root(
                Settings.from_env(
                    {**env, "FETCH_CONCURRENCY": "16"}, lake_uri=str(work_dir / "fetched")
                )
            ),
        )
        fetch_s = time.perf_counter() - started
    assert listed["written"] == tasks and fetched["rows"] == tasks, (listed, fetched)
    return {
        "tasks": tasks,
        "list_s": list_s,
        "list_requests": listed["requests"],
        "per_id_s": fetch_s,
        "per_id_requests": fetched["requests"],
        "speedup": fetch_s / list_s,
    }


def build_partition(folder: Path, generator: str, rows: int) -> int:
    """One day of `rows` tasks in files of 100 rows, as SQS batches write them; every fifth batch
    is redelivered mixed with other messages (another file, 100 duplicate rows)."""
    logs = GENERATORS[generator](rows, days=1)
    lake = Lake(LocalStore(folder))
    now = datetime.now(UTC)
    written = 0
    for start in range(0, rows, 100):
        batches = [logs[start : start + 100]]
        if (start // 100) % 5 == 0:
            batches.append(logs[start + 50 : start + 150])
        for attempt, batch in enumerate(batches):
            lake.write(
                [
                    flatten(log, ingested_at=now, source_message_id=f"m{start}-{attempt}-{n}")[0]
                    for n, log in enumerate(batch)
                ],
                [],
            )
            written += len(batch)
    return written


def child(code: str) -> dict:
    paths = [str(ROOT), str(ROOT / "bench")]
    program = (
        f"import json, sys, time; sys.path[:0] = {paths!r}; import memory; "
        "import lib.lake.compact, lib.lake.storage; "
        f"{code}; "
        "r['peak_rss_mb'] = memory.peak_rss_mb(); print(json.dumps(r))"
    )
    out = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True)
    if out.returncode:
        raise RuntimeError(out.stderr)
    return json.loads(out.stdout.strip().splitlines()[-1])


def daily_s(lake: str, runs: int = 5) -> float:
    window = Request(now=datetime.now(UTC), since=datetime(2026, 9, 1, tzinfo=UTC))
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        run_report("daily", lake, window)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def compaction(generator: str, rows: int) -> dict:
    with tempfile.TemporaryDirectory() as folder:
        written = build_partition(Path(folder), generator, rows)
        files_before = sum(1 for _ in Path(folder).rglob("*.parquet"))
        bytes_before = sum(p.stat().st_size for p in Path(folder).rglob("*.parquet"))
        before_s = daily_s(folder)
        idle = child("r = {}")
        result = child(
            "started = time.perf_counter(); "
            f"s = lib.lake.compact.Compactor(lib.lake.storage.LocalStore({folder!r}))"
            ".run(lib.lake.compact.Selection(older_than_days=0)).as_dict(); "
            "r = {'seconds': time.perf_counter() - started, **s}"
        )
        files_after = sum(1 for _ in Path(folder).rglob("*.parquet"))
        bytes_after = sum(p.stat().st_size for p in Path(folder).rglob("*.parquet"))
        after_s = daily_s(folder)
    extra_mb = result["peak_rss_mb"] - idle["peak_rss_mb"]
    assert result["rows_dropped"] == written - rows, result
    return {
        "rows_written": written,
        "rows_dropped": result["rows_dropped"],
        "rows_kept": rows,
        "files_before": files_before,
        "files_after": files_after,
        "mb_before": bytes_before / 2**20,
        "mb_after": bytes_after / 2**20,
        "compact_s": result["seconds"],
        "peak_rss_mb": result["peak_rss_mb"],
        "function_memory_mb": COMPACTION_MEMORY_MB,
        "import_only_rss_mb": idle["peak_rss_mb"],
        "rss_per_partition_mb": extra_mb / (bytes_before / 2**20),
        "daily_before_s": before_s,
        "daily_after_s": after_s,
        "daily_speedup": before_s / after_s,
    }


def compaction_bodies(files: int = 20, rows_per_file: int = 1000, body_kb: int = 40) -> dict:
    """Error files whose rows carry large bodies (zstd keeps each file small): the first pass
    keys on 32-byte digests, so its peak stays near an idle process's. Before, it loaded every
    raw_message as a key: 20 files of 1,000 rows of 40 KB peaked at 3.3 GB."""
    observed = datetime(2026, 11, 1, tzinfo=UTC)
    with tempfile.TemporaryDirectory() as folder:
        lake = Lake(LocalStore(folder))
        for f in range(files):
            lake.write(
                [],
                [
                    {
                        "operation_log_id": None,
                        "source_message_id": f"m{f}-{n}",
                        "reason": "invalid_message",
                        "raw_message": f"{f}-{n}:" + "x" * (body_kb * 1024),
                        "observed_at": observed,
                    }
                    for n in range(rows_per_file)
                ],
            )
        bytes_before = sum(p.stat().st_size for p in Path(folder).rglob("*.parquet"))
        idle = child("r = {}")
        result = child(
            f"s = lib.lake.compact.Compactor(lib.lake.storage.LocalStore({folder!r}))"
            ".run(lib.lake.compact.Selection(older_than_days=0)).as_dict(); r = s"
        )
    assert result["failed"] == 0, result
    return {
        "files": files,
        "rows": files * rows_per_file,
        "body_kb": body_kb,
        "mb_on_disk": bytes_before / 2**20,
        "peak_rss_mb": result["peak_rss_mb"],
        "import_only_rss_mb": idle["peak_rss_mb"],
    }


def measure(tasks: int, rows: int) -> dict[str, dict]:
    return {
        name: {"backfill": backfill_ratio(name, tasks), "compaction": compaction(name, rows)}
        for name in GENERATORS
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=10_000)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--generator", choices=sorted(GENERATORS), default=None, help="else both")
    parser.add_argument("--bodies-only", action="store_true", help="only the large-body compaction")
    args = parser.parse_args()
    if args.bodies_only:
        print(json.dumps(compaction_bodies()))
        return
    names = [args.generator] if args.generator else list(GENERATORS)
    found: dict[str, Any] = {
        name: {
            "backfill": backfill_ratio(name, args.tasks),
            "compaction": compaction(name, args.rows),
        }
        for name in names
    }
    found["compaction_bodies"] = compaction_bodies()
    print(json.dumps(found, indent=2))


if __name__ == "__main__":
    main()
