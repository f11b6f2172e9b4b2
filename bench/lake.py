"""Lake benchmarks, for each bench generator: Parquet bytes vs raw JSON bytes (both paths), the
zstd level's effect on size and encoding time, and a `daily` report over 1,000,000 rows.

python bench/lake.py [--records 20000] [--rows 1000000]
"""

from __future__ import annotations

import argparse
import io
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
import pyarrow.parquet as pq  # noqa: E402

from lib.core.jsontext import decode_json  # noqa: E402
from lib.ingest.batch import Record, to_table  # noqa: E402
from lib.ingest.flatten import flatten  # noqa: E402
from lib.lake.storage import LocalStore  # noqa: E402
from lib.lake.writer import Lake, parquet_options  # noqa: E402
from lib.reports.engine import run_report  # noqa: E402
from lib.reports.parameters import Request  # noqa: E402

from generate import GENERATORS  # noqa: E402

ZSTD_LEVELS = (1, 3, 6)


def batch_table(logs: list[dict], now: datetime) -> pa.Table:
    """The batch path's table of these logs, texts spelled as the bench's bodies spell them."""
    records = [Record(None, json.dumps(log).encode(), f"m{n}") for n, log in enumerate(logs)]
    return to_table(records, ingested_at=now, decode=decode_json).table


def size_ratio(generator: str, records: int) -> dict:
    logs = GENERATORS[generator](records, days=3)
    raw = sum(len(json.dumps({"operation_log": log}).encode()) for log in logs)
    now = datetime.now(UTC)
    rows = [
        flatten(log, ingested_at=now, source_message_id=f"m{n}")[0] for n, log in enumerate(logs)
    ]
    with tempfile.TemporaryDirectory() as folder:
        per_record = Lake(LocalStore(folder)).write(rows, []).bytes
    table = batch_table(logs, now)
    with tempfile.TemporaryDirectory() as folder:
        batch = Lake(LocalStore(folder)).write(table, []).bytes
    return {
        "records": records,
        "raw_json_bytes": raw,
        "parquet_bytes": per_record,
        "ratio": per_record / raw,
        "batch_parquet_bytes": batch,
        "batch_ratio": batch / raw,
        "levels": zstd_levels(table.sort_by("id"), raw),
    }


def zstd_levels(table: pa.Table, raw: int, runs: int = 3) -> dict[str, dict]:
    """Size and encoding time of the same rows at a few zstd levels (the writer's other options)."""
    found = {}
    for level in ZSTD_LEVELS:
        options = {**parquet_options(table.schema), "compression_level": level}
        times, size = [], 0
        for _ in range(runs):
            buffer = io.BytesIO()
            started = time.perf_counter()
            pq.write_table(table, buffer, **options)
            times.append(time.perf_counter() - started)
            size = buffer.tell()
        found[str(level)] = {"ratio": size / raw, "encode_s": statistics.median(times)}
    return found


def daily_query(generator: str, rows: int, runs: int = 3) -> dict:
    """A lake of `rows` rows (copies of generated ones with new ids), then the daily report."""
    now = datetime.now(UTC)
    base = batch_table(GENERATORS[generator](20_000), now)
    with tempfile.TemporaryDirectory() as folder:
        lake = Lake(LocalStore(folder))
        copies = -(-rows // base.num_rows)
        for copy in range(copies):
            ids = pc.binary_join_element_wise(base["id"], pa.scalar(f"-{copy}"), "")
            lake.write(base.set_column(0, "id", ids), [])
        window = Request(now=now, since=datetime(2026, 1, 1, tzinfo=UTC))
        times = []
        for _ in range(runs):
            started = time.perf_counter()
            result = run_report("daily", folder, window)
            times.append(time.perf_counter() - started)
        total = sum(row["total"] for row in result.rows)
    assert total == copies * base.num_rows, (total, copies * base.num_rows)
    return {
        "rows": copies * base.num_rows,
        "daily_total": total,
        "query_s": statistics.median(times),
    }


def measure(records: int, rows: int) -> dict[str, dict]:
    return {
        name: {"size": size_ratio(name, records), "daily": daily_query(name, rows)}
        for name in GENERATORS
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=20_000)
    parser.add_argument("--rows", type=int, default=1_000_000)
    args = parser.parse_args()
    print(json.dumps(measure(args.records, args.rows), indent=2))


if __name__ == "__main__":
    main()
