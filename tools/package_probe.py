"""Run by `tools/package.py check` in the runtime's Python with only the package on its path.

    python3.12 -I -S -B -c "$(cat tools/package_probe.py)" PACKAGE EVENTS

Runs the handler offline on the sample SQS batch and a compaction, reads the lake back, writes
and reads a zstd Parquet file, reads NDJSON with pyarrow.json, computes, builds the AWS clients
the function uses, and checks that nothing was loaded from outside the package and the standard
library, and no operator-only module at all. Prints one line of JSON; raises on any failure.
"""

import io
import json
import os
import sys
import sysconfig

PACKAGE, EVENTS = sys.argv[1], sys.argv[2]
sys.path[:] = [PACKAGE, *(p for p in sys.path if p and "site-packages" not in p)]

import pyarrow as pa  # noqa: E402
import pyarrow.compute as pc  # noqa: E402
import pyarrow.json as pj  # noqa: E402
import pyarrow.parquet as pq  # noqa: E402

import handler  # noqa: E402
from lib.core.runtime import LocalContext  # noqa: E402


def run(event_file: str) -> dict:
    with open(os.path.join(EVENTS, event_file), encoding="utf-8") as handle:
        return handler.lambda_handler(json.load(handle), LocalContext())


def lake_rows(table: str) -> list[dict]:
    root = os.path.join(os.environ["LAKE_URI"], table)
    rows = []
    for folder, _, files in os.walk(root):
        for name in sorted(files):
            rows += pq.read_table(os.path.join(folder, name)).to_pylist()
    return rows


sqs = run("sqs-batch.json")
assert sqs == {"batchItemFailures": []}, sqs
rows = lake_rows("operation_logs")
samples = os.listdir(os.path.join(EVENTS, "operation-logs"))
for row in rows:
    with open(os.path.join(EVENTS, "operation-logs", f"{row['id']}.json"), encoding="utf-8") as f:
        assert json.loads(row["raw_json"]) == json.load(f)["operation_log"], row["id"]
assert len(rows) >= len(samples) - 1, (len(rows), len(samples))
compacted = run("compact.json")
assert "compacted" in compacted, compacted

buffer = io.BytesIO()
pq.write_table(pa.table({"n": list(range(1000))}), buffer, compression="zstd")
assert pq.read_table(pa.BufferReader(buffer.getvalue()))["n"].to_pylist() == list(range(1000))
assert (
    pq.ParquetFile(pa.BufferReader(buffer.getvalue())).metadata.row_group(0).column(0).compression
    == "ZSTD"
)
read = pj.read_json(io.BytesIO(b'{"a": 1}\n{"a": 2}'))
assert pc.sum(read["a"]).as_py() == 3

from lib.cbr.texts import operation_log_text  # noqa: E402
from lib.core.jsontext import decode_json  # noqa: E402
from lib.ingest.batch import Record, to_table  # noqa: E402

texts = []
for name in sorted(samples):
    with open(os.path.join(EVENTS, "operation-logs", name), "rb") as f:
        texts.append(operation_log_text(f.read()))
built = to_table(
    [Record(None, t, None) for t in texts], ingested_at=rows[0]["ingested_at"], decode=decode_json
)
assert built.table.num_rows == len(samples) and built.per_record == 0

import boto3  # noqa: E402

for service in ("s3", "sqs", "secretsmanager", "sts"):
    boto3.client(service, endpoint_url="http://127.0.0.1:9", region_name="eu-west-1")

stdlib = {sysconfig.get_paths()[k] for k in ("stdlib", "platstdlib")}
outside = sorted(
    name
    for name, module in list(sys.modules.items())
    if getattr(module, "__file__", None)
    and not os.path.realpath(module.__file__).startswith(os.path.realpath(PACKAGE))
    and not any(os.path.realpath(module.__file__).startswith(os.path.realpath(s)) for s in stdlib)
)
assert not outside, outside
operator_only = sorted(m for m in sys.modules if m.startswith(("lib.ops", "lib.reports", "tqdm")))
assert not operator_only, operator_only
print(
    json.dumps({"rows": len(rows), "batch_rows": built.table.num_rows, "modules": len(sys.modules)})
)
