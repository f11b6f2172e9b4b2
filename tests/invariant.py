"""The delivery invariant, checked after every fault scenario.

For every message of an attempt: it is reported failed (redelivered), or every ID it names ended as
a data row or an error row of that message. Never both, never neither. And every file in the lake
opens and has the declared schema (no partial or corrupt Parquet is ever visible).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from lib.core.schema import ERRORS_SCHEMA, OPERATION_LOGS_SCHEMA
from lib.ingest.messages import parse_body

from conftest import read_errors, read_rows


def assert_lake_files_are_whole(lake: Path) -> None:
    for path in sorted(lake.rglob("*")):
        if path.is_file():
            assert path.suffix == ".parquet" and not path.name.startswith("."), path
            schema = pq.read_table(path).schema.remove_metadata()
            expected = OPERATION_LOGS_SCHEMA if "operation_logs" in path.parts else ERRORS_SCHEMA
            assert schema == expected, path


def assert_invariant(event: dict[str, Any], response: dict[str, Any], lake: Path) -> None:
    """Each message: failed XOR all its IDs written (as data or error rows) by this message."""
    failed = {item["itemIdentifier"] for item in response["batchItemFailures"]}
    data = read_rows(lake) if lake.exists() else []
    errors = read_errors(lake) if lake.exists() else []
    for record in event["Records"]:
        message_id, body = record["messageId"], record["body"]
        written = {r["id"] for r in data if r["source_message_id"] == message_id}
        written |= {e["operation_log_id"] for e in errors if e["source_message_id"] == message_id}
        if message_id in failed:
            assert not written, f"{message_id} is failed but has rows {written}"
            continue
        parsed = parse_body(body)
        expected = {ref.operation_log_id for ref in parsed.refs}
        expected |= {reject.operation_log_id for reject in parsed.rejects}
        assert expected <= written, (
            f"{message_id} acknowledged but {expected - written} not written"
        )
    if lake.exists():
        assert_lake_files_are_whole(lake)
