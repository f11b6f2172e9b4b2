"""Lake benchmarks: Parquet bytes vs raw JSON bytes, and a `daily` report over 1,000,000 rows.

python bench/lake.py [--records 20000] [--rows 1000000]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import pyarrow as pa  # noqa: E402
import pyarrow.compute as pc  # noqa: E402

from lib.core.schema import OPERATION_LOGS_SCHEMA  # noqa: E402
from lib.ingest.flatten import flatten  # noqa: E402
from lib.lake.storage import LocalStore  # noqa: E402
from lib.lake.writer import Lake  # noqa: E402
from lib.reports.catalog import Window, run_report  # noqa: E402

from generate import make_logs  # noqa: E402


def size_ratio(records: int) -> dict:
    logs = make_logs(records, days=3)
    raw = sum(len(json.dumps({"operation_log": log}).encode()) for log in logs)
    now = datetime.now(UTC)
    rows = [
        flatten(log, ingested_at=now, source_message_id=f"m{n}")[0] for n, log in enumerate(logs)
    ]
    with tempfile.TemporaryDirectory() as folder:
        written = Lake(LocalStore(folder)).write(rows, []).bytes
    typed = pa.Table.from_pylist(rows, schema=OPERATION_LOGS_SCHEMA)
    return {
        "records": records,
        "raw_json_bytes": raw,
        "parquet_bytes": written,
        "ratio": written / raw,
        "raw_json_column_uncompressed_bytes": typed["raw_json"].nbytes,
    }


def daily_query(rows: int, runs: int = 3) -> dict:
    """A lake of `rows` rows (copies of generated ones with new ids), then the daily report."""
    now = datetime.now(UTC)
    seed = [flatten(log, ingested_at=now, source_message_id="m")[0] for log in make_logs(20_000)]
    base = pa.Table.from_pylist(seed, schema=OPERATION_LOGS_SCHEMA)
    with tempfile.TemporaryDirectory() as folder:
        lake = Lake(LocalStore(folder))
        copies = -(-rows // base.num_rows)
        for copy in range(copies):
            ids = pc.binary_join_element_wise(base["id"], pa.scalar(f"-{copy}"), "")
            table = base.set_column(0, "id", ids)
            lake.write(table.to_pylist(), [])
        window = Window(now=now, since=datetime(2026, 1, 1, tzinfo=UTC))
        times = []
        for _ in range(runs):
            started = time.perf_counter()
            result = run_report("daily", folder, window)
            times.append(time.perf_counter() - started)
        total = sum(row["total"] for row in result.rows)
    return {
        "rows": copies * base.num_rows,
        "daily_total": total,
        "query_s": statistics.median(times),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=20_000)
    parser.add_argument("--rows", type=int, default=1_000_000)
    args = parser.parse_args()
    print(json.dumps({"size": size_ratio(args.records), "daily": daily_query(args.rows)}, indent=2))


if __name__ == "__main__":
    main()
