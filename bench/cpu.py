"""CPU-stage benchmark: JSON response bodies -> zstd Parquet, oplog-lake vs a pandas baseline.

    python bench/cpu.py [--records 20000] [--runs 5]

Three paths over the same bodies, for each generator, alternately in one process; medians:
- per record (the pipeline before the batch path): the client's body decoding (classify),
  flatten, the lake writer;
- batch (the pipeline now): the client's classify (which decodes each body to check it and cuts
  out its operation_log's text), the batch read into one table (`lib.ingest.batch`), the writer;
- the baseline: pandas `json_normalize` + `to_parquet` (zstd).
Both oplog-lake paths write to a temporary folder through the real lake writer.
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
from lib.core.jsontext import decode_json  # noqa: E402
from lib.ingest.batch import Record, to_table  # noqa: E402
from lib.ingest.flatten import flatten  # noqa: E402
from lib.lake.storage import LocalStore  # noqa: E402
from lib.lake.writer import Lake  # noqa: E402

from generate import GENERATORS  # noqa: E402


def per_record(bodies: list[bytes]) -> float:
    started = time.perf_counter()
    now = datetime.now(UTC)
    rows = [
        flatten(classify(200, body, {}).log, ingested_at=now, source_message_id=f"m{n}")[0]
        for n, body in enumerate(bodies)
    ]
    with tempfile.TemporaryDirectory() as folder:
        Lake(LocalStore(folder)).write(rows, [])
    return time.perf_counter() - started


def batch(bodies: list[bytes]) -> float:
    """The pipeline as it runs now: each answer checked and decoded by the client (classify,
    which also cuts out its text), then one table for the batch through the batch path."""
    started = time.perf_counter()
    fetched = [classify(200, body, {}) for body in bodies]
    records = [Record(f.log, f.text, f"m{n}") for n, f in enumerate(fetched)]
    built = to_table(records, ingested_at=datetime.now(UTC), decode=decode_json)
    assert built.table.num_rows == len(bodies)
    with tempfile.TemporaryDirectory() as folder:
        Lake(LocalStore(folder)).write(built.table, [])
    return time.perf_counter() - started


def pandas_baseline(bodies: list[bytes]) -> float:
    import pandas as pd

    started = time.perf_counter()
    records = [json.loads(body)["operation_log"] for body in bodies]
    frame = pd.json_normalize(records, sep="__")
    frame.to_parquet(io.BytesIO(), compression="zstd")
    return time.perf_counter() - started


PATHS = {"per_record": per_record, "batch": batch, "pandas": pandas_baseline}


def measure_one(generator: str, records: int, runs: int, days: int = 3) -> dict[str, float]:
    logs = GENERATORS[generator](records, days=days)
    bodies = [json.dumps({"operation_log": log}).encode() for log in logs]
    for path in PATHS.values():
        path(bodies[:100])  # imports and first-call costs out of the timings
    times: dict[str, list[float]] = {name: [] for name in PATHS}
    for _ in range(runs):
        for name, path in PATHS.items():
            gc.collect()
            times[name].append(path(bodies))
    median = {name: statistics.median(values) for name, values in times.items()}
    return {
        "records": records,
        "per_record_records_per_s": records / median["per_record"],
        "batch_records_per_s": records / median["batch"],
        "pandas_records_per_s": records / median["pandas"],
        "per_record_vs_pandas": median["pandas"] / median["per_record"],
        "batch_vs_pandas": median["pandas"] / median["batch"],
    }


def measure(records: int, runs: int) -> dict[str, dict[str, float]]:
    return {name: measure_one(name, records, runs) for name in GENERATORS}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=20000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    for generator, result in measure(args.records, args.runs).items():
        print(
            f"cpu, {generator} logs: {args.records} bodies -> zstd Parquet, median of {args.runs}:"
        )
        for path in PATHS:
            print(f"  {path:12} {result[f'{path}_records_per_s']:9.0f} records/s")
        print(f"  batch vs pandas {result['batch_vs_pandas']:5.2f}x (target >= 2.5x)")


if __name__ == "__main__":
    main()
