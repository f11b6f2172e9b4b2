"""Parquet in and out for compaction: files read from Arrow's own memory, rows written as files
of about the target size, each named by its rows."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.parquet as pq

from lib.lake.storage import ObjectStore
from lib.lake.writer import file_key, parquet_options

MIB = 1024 * 1024
ROW_GROUP_BYTES = 64 * MIB  # a row group is written once its rows reach this many bytes


def read_parquet(data: bytes, columns: list[str] | None = None) -> pa.Table:
    """A file's table (or these columns of it), read from a copy in Arrow's memory."""
    return pq.read_table(pa.BufferReader(arrow_owned(data)), columns=columns)


def arrow_owned(data: bytes) -> pa.Buffer:
    """The bytes copied into memory Arrow owns, for pyarrow's Parquet reader. The reader hands
    its source to worker threads, and one of them may drop the last reference after the call
    returned. Memory a Python object owns can only be let go with the interpreter's lock; a
    worker that asks for it while the interpreter exits is stopped mid-unwind, and the process
    aborts (`terminate called without an active exception`, exit 134) after its work is done.
    Arrow's own memory is freed without Python, by whichever thread holds it last."""
    stream = pa.BufferOutputStream()
    stream.write(data)
    return stream.getvalue()


class Output:
    """Rows into files of about the target size, one row group at a time, each file named by
    its rows once it is complete."""

    def __init__(
        self,
        store: ObjectStore,
        table: str,
        schema: pa.Schema,
        dt: str,
        target_bytes: int,
        group_rows: int,
    ) -> None:
        self.store, self.table, self.schema, self.dt = store, table, schema, dt
        self.target_bytes, self.group_rows = target_bytes, group_rows
        self.written: list[str] = []
        self.bytes = 0
        self._pending: list[pa.Table] = []
        self._pending_rows = 0
        self._pending_bytes = 0
        self._identities: list[str] = []
        self._sink: pa.BufferOutputStream | None = None
        self._writer: pq.ParquetWriter | None = None

    def add(self, rows: pa.Table, identities: list[str]) -> None:
        self._pending.append(rows)
        self._pending_rows += rows.num_rows
        self._pending_bytes += rows.nbytes
        self._identities += identities
        if self._pending_rows >= self.group_rows or self._pending_bytes >= ROW_GROUP_BYTES:
            self._write_group()

    def finish(self) -> None:
        self._write_group()
        self._close_file()

    def _write_group(self) -> None:
        if not self._pending:
            return
        if self._writer is None:
            self._sink = pa.BufferOutputStream()  # Arrow's memory, as for reading
            self._writer = pq.ParquetWriter(self._sink, self.schema, **parquet_options(self.schema))
        self._writer.write_table(pa.concat_tables(self._pending))
        self._pending, self._pending_rows, self._pending_bytes = [], 0, 0
        assert self._sink is not None
        if self._sink.tell() >= self.target_bytes:
            self._close_file()

    def _close_file(self) -> None:
        if self._writer is None or self._sink is None:
            return
        self._writer.close()
        payload = self._sink.getvalue().to_pybytes()
        key = file_key(self.table, self.dt, self._identities)
        self.store.put(key, payload)
        self.written.append(key)
        self.bytes += len(payload)
        self._writer, self._sink, self._identities = None, None, []
