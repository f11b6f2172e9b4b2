"""Rows -> zstd Parquet files in Hive-style `dt=` partitions, named by the rows they hold.

A file's name is a hash of its rows' identities (data: `id` + `updated_at`; errors: message ID +
operation_log_id or raw body + reason), so writing the same rows again replaces the file instead
of adding one. One file per partition per write.
"""

from __future__ import annotations

import hashlib
import io
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from lib.core.errors import SinkError
from lib.core.schema import (
    DATA_TABLE,
    ERRORS_SCHEMA,
    ERRORS_TABLE,
    OPERATION_LOGS_SCHEMA,
    PARTITION_KEY,
)
from lib.lake.storage import ObjectStore

Row = dict[str, Any]
ZSTD_LEVEL = 3
DEFAULT_TARGET_MB = 128  # the size compaction aims its files at


@dataclass
class WriteReport:
    """What one write put in the lake."""

    keys: list[str] = field(default_factory=list)
    data_rows: int = 0
    error_rows: int = 0
    bytes: int = 0


def data_partition(row: Row) -> str:
    """UTC date of created_at, else started_at, else the ingest time."""
    moment = row.get("created_at") or row.get("started_at") or row["ingested_at"]
    return _utc_date(moment)


def error_partition(row: Row) -> str:
    return _utc_date(row["observed_at"])


def _utc_date(moment: datetime) -> str:
    return moment.date().isoformat()  # every timestamp handled here is already in UTC


def data_identity(row: Row) -> str:
    updated = row.get("updated_at")
    return f"{row.get('id')}|{updated.isoformat() if updated else ''}"


def error_identity(row: Row) -> str:
    subject = row.get("operation_log_id") or row.get("raw_message") or ""
    return f"{row.get('source_message_id')}|{subject}|{row.get('reason')}"


@dataclass(frozen=True)
class _Table:
    name: str
    schema: pa.Schema
    partition: Callable[[Row], str]
    identity: Callable[[Row], str]


_DATA = _Table(DATA_TABLE, OPERATION_LOGS_SCHEMA, data_partition, data_identity)
_ERRORS = _Table(ERRORS_TABLE, ERRORS_SCHEMA, error_partition, error_identity)


class Lake:
    """Writes operation_logs and operation_log_errors rows through an ObjectStore."""

    def __init__(self, store: ObjectStore) -> None:
        self.store = store

    def write(self, data_rows: list[Row], error_rows: list[Row]) -> WriteReport:
        """Write every row, or raise SinkError; files already written are safe to write again."""
        report = WriteReport(data_rows=len(data_rows), error_rows=len(error_rows))
        for table, rows in ((_DATA, data_rows), (_ERRORS, error_rows)):
            for key, payload in _encode(table, rows):
                self.store.put(key, payload)  # backends raise SinkError
                report.keys.append(key)
                report.bytes += len(payload)
        return report


def _encode(table: _Table, rows: Iterable[Row]) -> list[tuple[str, bytes]]:
    partitions: dict[str, list[Row]] = defaultdict(list)
    for row in rows:
        partitions[table.partition(row)].append(row)
    files = []
    for day, members in sorted(partitions.items()):
        members.sort(key=table.identity)
        key = file_key(table.name, day, map(table.identity, members))
        try:
            payload = to_parquet(pa.Table.from_pylist(members, schema=table.schema))
        except (pa.ArrowException, ValueError, TypeError) as exc:
            raise SinkError(f"cannot encode {len(members)} rows for {key}: {exc}") from exc
        files.append((key, payload))
    return files


def file_key(table: str, day: str, identities: Iterable[str]) -> str:
    """The name of a file holding rows of these identities: the same rows, the same name."""
    digest = hashlib.sha256("\n".join(identities).encode()).hexdigest()
    return f"{table}/{PARTITION_KEY}={day}/part-{digest[:32]}.parquet"


def to_parquet(table: pa.Table) -> bytes:
    buffer = io.BytesIO()
    pq.write_table(table, buffer, compression="zstd", compression_level=ZSTD_LEVEL)
    return buffer.getvalue()
