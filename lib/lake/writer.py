"""Rows -> zstd Parquet files in Hive-style `dt=` partitions, named by the rows they hold.

`Lake` writes the operation logs and their errors; `TableFile` streams the rows of any other
declared table (the inventory's) a page at a time.

A file's name is a hash of its rows' identities (data: `id` + `updated_at`; errors: message ID +
operation_log_id or raw body + reason), so writing the same rows again replaces the file instead
of adding one. One file per partition per write. Data rows may come as dicts or as one Arrow
table (`lib.ingest.batch`); both are partitioned, sorted and named by the same vectorised code,
so the same rows give the same files byte for byte.
"""

from __future__ import annotations

import hashlib
import io
import re
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
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
# Encoding, the one place it is set (compaction writes with the same options). Level 1: on the
# varied bench data levels 1-5 gave files within 1 % of each other, and level 3 took 1.6x the
# time of level 1 (bench/lake.py prints the comparison).
ZSTD_LEVEL = 1
DEFAULT_TARGET_MB = 128  # the size compaction aims its files at
# Columns with a value of their own per task (IDs, times, the raw text): a dictionary there costs
# encoding time and a dictionary page for nothing. Every other column repeats and keeps one.
_PER_TASK = re.compile(r"^(id|raw_json)$|_at$|(checkpoint|backup|request|task)_id$")
# Minimum and maximum of whole JSON texts filter nothing and cost time and footer bytes.
_NO_STATISTICS = frozenset({"raw_json", "raw_message"})


def parquet_options(schema: pa.Schema) -> dict[str, Any]:
    """The keyword arguments of `pq.write_table` / `pq.ParquetWriter` for a lake table."""
    return {
        "compression": "zstd",
        "compression_level": ZSTD_LEVEL,
        "use_dictionary": [name for name in schema.names if not _PER_TASK.search(name)],
        "write_statistics": [name for name in schema.names if name not in _NO_STATISTICS],
    }


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


_ERRORS = _Table(ERRORS_TABLE, ERRORS_SCHEMA, error_partition, error_identity)


class Lake:
    """Writes operation_logs and operation_log_errors rows through an ObjectStore."""

    def __init__(self, store: ObjectStore) -> None:
        self.store = store

    def write(self, data_rows: list[Row] | pa.Table, error_rows: list[Row]) -> WriteReport:
        """Write every row, or raise SinkError; files already written are safe to write again.

        `data_rows` are dicts of the operation_logs columns, or a table of OPERATION_LOGS_SCHEMA."""
        if isinstance(data_rows, pa.Table):
            files = encode_data(data_rows)
        else:  # one day at a time: a table of every row at once would double the peak memory
            days: dict[str, list[Row]] = defaultdict(list)
            for row in data_rows:
                days[data_partition(row)].append(row)
            for rows in days.values():
                rows.sort(key=data_identity)  # then the table needs no reordered copy
            files = [file for _, rows in sorted(days.items()) for file in _encode_rows(rows)]
        report = WriteReport(data_rows=len(data_rows), error_rows=len(error_rows))
        for key, payload in [*files, *_encode(_ERRORS, error_rows)]:
            self.store.put(key, payload)  # backends raise SinkError
            report.keys.append(key)
            report.bytes += len(payload)
        return report


def _encode_rows(rows: list[Row]) -> list[tuple[str, bytes]]:
    return encode_data(rows_table(rows))


def rows_table(rows: list[Row]) -> pa.Table:
    """Data rows as dicts -> a table of OPERATION_LOGS_SCHEMA (SinkError if they do not fit)."""
    try:
        return pa.Table.from_pylist(rows, schema=OPERATION_LOGS_SCHEMA)
    except (pa.ArrowException, ValueError, TypeError) as exc:
        raise SinkError(f"cannot encode {len(rows)} {DATA_TABLE} rows: {exc}") from exc


def encode_data(table: pa.Table) -> list[tuple[str, bytes]]:
    """(key, Parquet bytes) per `dt` partition of an operation_logs table: rows in identity
    order, the file named by their identities (as `_encode` does for rows one by one)."""
    if table.num_rows == 0:
        return []
    if table.schema != OPERATION_LOGS_SCHEMA:
        raise SinkError(f"a {DATA_TABLE} table must have the declared schema, not {table.schema}")
    days, identities = data_partitions(table), data_identities(table)
    if days.null_count:
        raise SinkError(f"{days.null_count} {DATA_TABLE} rows have no time to partition by")
    files = []
    for day in sorted(pc.unique(days).to_pylist()):
        chosen = pc.indices_nonzero(pc.equal(days, day))
        keys = identities.take(chosen)
        order = pc.sort_indices(keys)  # stable, and UTF-8 byte order is code point order
        key = file_key(DATA_TABLE, day, keys.take(order).to_pylist())
        members = _rows_at(table, chosen.take(order))
        try:
            files.append((key, to_parquet(members)))
        except (pa.ArrowException, ValueError) as exc:
            raise SinkError(f"cannot encode {members.num_rows} rows for {key}: {exc}") from exc
    return files


def _rows_at(table: pa.Table, positions: pa.Array) -> pa.Table:
    """The rows at these positions, in one chunk; no copy when that is the whole table."""
    if (
        len(positions) == table.num_rows
        and pc.all(pc.equal(positions, pa.array(range(len(positions)), positions.type))).as_py()
    ):
        return table.combine_chunks()
    return table.take(positions).combine_chunks()


def data_partitions(table: pa.Table) -> pa.Array:
    """`data_partition` for every row: the UTC date of created_at, started_at or ingested_at."""
    moment = pc.coalesce(table["created_at"], table["started_at"], table["ingested_at"])
    return moment.cast(pa.date32()).cast(pa.string()).combine_chunks()


def data_identities(table: pa.Table) -> pa.Array:
    """`data_identity` for every row: `{id}|{updated_at.isoformat()}` (`None|` with no id)."""
    # "YYYY-MM-DD HH:MM:SS.ffffff" (the cast is many times faster than strftime), then spelled
    # as isoformat spells it: a "T", no fraction when it is zero, the UTC offset.
    updated = table["updated_at"].cast(pa.timestamp("us")).cast(pa.string())
    updated = pc.replace_substring(updated, " ", "T", max_replacements=1)
    updated = pc.replace_substring_regex(updated, r"\.000000$", "")
    updated = pc.fill_null(pc.binary_join_element_wise(updated, "+00:00", ""), "")
    ids = pc.fill_null(table["id"], "None")
    return pc.binary_join_element_wise(ids, updated, "|").combine_chunks()


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
    return _named(table, day, digest)


def _named(table: str, day: str, digest: str) -> str:
    return f"{table}/{PARTITION_KEY}={day}/part-{digest[:32]}.parquet"


class TableFile:
    """Rows of any declared table, streamed into zstd Parquet under `{table}/dt={day}/`.

    Rows come a page at a time and are converted at once, written as row groups of about
    `group_rows`, and put as a file when about `target_bytes` are written or at `finish`. Each
    file is named by its rows' identities, as `file_key` names every lake file, so memory holds a
    row group and the file being encoded, never the whole table."""

    def __init__(
        self,
        store: ObjectStore,
        table: str,
        schema: pa.Schema,
        day: str,
        *,
        target_bytes: int = 64 * 1024 * 1024,
        group_rows: int = 16_384,
    ) -> None:
        self.store, self.table, self.schema, self.day = store, table, schema, day
        self.target_bytes, self.group_rows = target_bytes, group_rows
        self.keys: list[str] = []
        self.rows = 0
        self.bytes = 0
        self._pending: list[pa.Table] = []
        self._pending_rows = 0
        self._digest: Any = None  # hashlib sha256 of the open file's identities
        self._sink: io.BytesIO | None = None
        self._writer: pq.ParquetWriter | None = None

    def add(self, rows: list[Row], identities: list[str]) -> None:
        """Take rows (dicts of the schema's columns) and their identities; SinkError if they do
        not fit the schema, or a file cannot be put."""
        if not rows:
            return
        try:
            self._pending.append(pa.Table.from_pylist(rows, schema=self.schema))
        except (pa.ArrowException, ValueError, TypeError) as exc:
            raise SinkError(f"cannot encode {len(rows)} {self.table} rows: {exc}") from exc
        if self._digest is None:
            self._digest = hashlib.sha256(identities[0].encode())
            identities = identities[1:]
        for identity in identities:
            self._digest.update(b"\n" + identity.encode())
        self._pending_rows += len(rows)
        self.rows += len(rows)
        if self._pending_rows >= self.group_rows:
            self._write_group()

    def finish(self) -> list[str]:
        """Put what is left; the keys of every file this table wrote."""
        self._write_group()
        self._put()
        return self.keys

    def discard(self) -> None:
        """Delete the files already put (a write that will not be used); errors are the caller's."""
        self._pending, self._writer, self._sink, self._digest = [], None, None, None
        while self.keys:
            self.store.delete(self.keys.pop())

    def _write_group(self) -> None:
        if not self._pending:
            return
        if self._writer is None:
            self._sink = io.BytesIO()
            self._writer = pq.ParquetWriter(self._sink, self.schema, **parquet_options(self.schema))
        try:
            self._writer.write_table(pa.concat_tables(self._pending))
        except (pa.ArrowException, ValueError) as exc:
            raise SinkError(f"cannot encode {self.table} rows: {exc}") from exc
        self._pending, self._pending_rows = [], 0
        assert self._sink is not None
        if self._sink.tell() >= self.target_bytes:
            self._put()

    def _put(self) -> None:
        if self._writer is None or self._sink is None:
            return
        self._writer.close()
        payload = self._sink.getvalue()
        key = _named(self.table, self.day, self._digest.hexdigest())
        self._writer, self._sink, self._digest = None, None, None
        self.store.put(key, payload)  # backends raise SinkError
        self.keys.append(key)
        self.bytes += len(payload)


def to_parquet(table: pa.Table) -> bytes:
    buffer = io.BytesIO()
    pq.write_table(table, buffer, **parquet_options(table.schema))
    return buffer.getvalue()
