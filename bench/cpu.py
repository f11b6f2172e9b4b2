"""CPU-stage benchmark: JSON response bodies -> zstd Parquet, oplog-lake vs a pandas baseline.

    python bench/cpu.py [--records 20000] [--runs 5]

oplog-lake's path is the real one: the client's body decoding (classify), flatten, and the lake
sink writing to a temporary folder. The baseline is pandas `json_normalize` + `to_parquet`
(zstd) over the same bodies. Both run alternately in one process; medians are reported.
"""

from __future__ import annotations

import argparse
import gc
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

from lib.cbr.answers import classify  # noqa: E402
from lib.ingest.flatten import flatten  # noqa: E402
from lib.lake.storage import LocalStore  # noqa: E402
from lib.lake.writer import Lake  # noqa: E402

from generate import make_logs  # noqa: E402


def oplog_lake(bodies: list[bytes]) -> float:
    started = time.perf_counter()
    now = datetime.now(UTC)
    rows = [
        flatten(classify(200, body, {}), ingested_at=now, source_message_id=f"m{n}")[0]
        for n, body in enumerate(bodies)
    ]
    with tempfile.TemporaryDirectory() as folder:
        Lake(LocalStore(folder)).write(rows, [])
    return time.perf_counter() - started


def pandas_baseline(bodies: list[bytes]) -> float:
    import pandas as pd

    started = time.perf_counter()
    records = [json.loads(body)["operation_log"] for body in bodies]
    frame = pd.json_normalize(records, sep="__")
    frame.to_parquet(io.BytesIO(), compression="zstd")
    return time.perf_counter() - started


def measure(records: int, runs: int, days: int = 3) -> dict[str, float]:
    bodies = [json.dumps({"operation_log": log}).encode() for log in make_logs(records, days=days)]
    pandas_baseline(bodies[:100])  # imports and first-call costs out of the timings
    oplog_lake(bodies[:100])
    ours, theirs = [], []
    for _ in range(runs):
        gc.collect()
        ours.append(oplog_lake(bodies))
        gc.collect()
        theirs.append(pandas_baseline(bodies))
    ours_s, theirs_s = statistics.median(ours), statistics.median(theirs)
    return {
        "records": records,
        "oplog_lake_records_per_s": records / ours_s,
        "pandas_records_per_s": records / theirs_s,
        "speedup_vs_pandas": theirs_s / ours_s,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=20000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    result = measure(args.records, args.runs)
    print(f"cpu: {args.records} bodies -> zstd Parquet, median of {args.runs}")
    print(f"  oplog-lake   {result['oplog_lake_records_per_s']:9.0f} records/s")
    print(f"  pandas       {result['pandas_records_per_s']:9.0f} records/s")
    print(f"  speedup      {result['speedup_vs_pandas']:9.2f}x (target >= 2.5x)")


if __name__ == "__main__":
    main()
