"""One partition's columns read through the lake's store (how the function reads the lake): the
same files `open_table` reads, only their footers and the columns asked for fetched, and a file
lost to a compaction read again. On a folder and on S3 (moto's server)."""

from __future__ import annotations

import io
import json
import os
from datetime import UTC, datetime, timedelta

import boto3
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from lib.core.errors import SinkError
from lib.core.schema import DATA_TABLE, OPERATION_LOGS_SCHEMA
from lib.ingest.flatten import flatten
from lib.ingest.known import KnownRows
from lib.lake.objects import ObjectStore, ReadableFile
from lib.lake.reader import read_partition
from lib.lake.s3 import TAIL_BYTES, S3Store
from lib.lake.writer import Lake, file_key, rows_table

from tasks import make_log

DAY = datetime(2026, 11, 20, 8, tzinfo=UTC)
FOLDER = f"{DATA_TABLE}/dt={DAY.date().isoformat()}"
NOW = datetime(2026, 11, 30, tzinfo=UTC)
COLUMNS = ["id", "updated_at"]


def write_logs(store: ObjectStore, first: int, count: int, **fields: object) -> list[tuple]:
    """`count` tasks written as one lake file of DAY's partition: their (id, updated_at)."""
    logs = [make_log(n, DAY + timedelta(seconds=n), **fields) for n in range(first, first + count)]
    rows = [flatten(log, ingested_at=NOW, source_message_id=None)[0] for log in logs]
    Lake(store).write(rows, [])
    return [(row["id"], row["updated_at"]) for row in rows]


def parquet_bytes(table: pa.Table, **options: object) -> bytes:
    buffer = io.BytesIO()
    pq.write_table(table, buffer, **options)
    return buffer.getvalue()


def identities(table: pa.Table) -> list[tuple]:
    return sorted(zip(table["id"].to_pylist(), table["updated_at"].to_pylist(), strict=True))


def test_a_partition_reads_the_lake_files_and_names_the_strays(
    store: ObjectStore, logs: io.StringIO
) -> None:
    written = write_logs(store, 0, 5) + write_logs(store, 5, 3)
    write_logs(store, 100, 1, created_at="2026-11-21T01:00:00Z")  # another partition
    strays = {
        f"{FOLDER}/README.txt": b"what this folder is",
        f"{FOLDER}/empty.parquet": b"",
        f"{FOLDER}/not-parquet.parquet": b"just text",
        f"{FOLDER}/foreign.parquet": parquet_bytes(pa.table({"colour": ["red"]})),
        f"{FOLDER}/wrong-types.parquet": parquet_bytes(pa.table({"id": [[1, 2]]})),
        f"{FOLDER}/deeper/x.parquet": parquet_bytes(pa.table({"id": ["x"]})),
    }
    for key, data in strays.items():
        store.put(key, data)
    store.put(f"{FOLDER}/.part-x.parquet.tmp", b"a writer's temporary")
    kindred = pa.table({"id": ["task-9000"], "updated_at": [DAY]})  # another writer, same columns
    store.put(f"{FOLDER}/kindred.parquet", parquet_bytes(kindred))

    table = read_partition(store, DATA_TABLE, DAY.date().isoformat(), COLUMNS)

    assert table.schema == pa.schema([OPERATION_LOGS_SCHEMA.field(name) for name in COLUMNS])
    assert identities(table) == sorted([*written, ("task-9000", DAY)])
    (warning,) = [json.loads(line)["message"] for line in logs.getvalue().splitlines()]
    assert warning.startswith("skipped 6 files that are not operation_logs files")
    for key in strays:
        assert key.removeprefix(f"{DATA_TABLE}/") in warning
    assert ".tmp" not in warning


def test_a_listing_can_stop_at_its_first_keys(store: ObjectStore) -> None:
    write_logs(store, 0, 1)
    write_logs(store, 1, 1)
    everything = store.list(f"{DATA_TABLE}/")
    assert len(everything) == 2 and store.list(f"{DATA_TABLE}/", limit=1) == everything[:1]


def test_a_partition_without_files_is_empty(store: ObjectStore) -> None:
    table = read_partition(store, DATA_TABLE, "2026-01-01", COLUMNS)
    assert table.num_rows == 0 and table.column_names == COLUMNS


def test_an_unreadable_lake_file_is_an_error_naming_it(store: ObjectStore) -> None:
    key = file_key(DATA_TABLE, DAY.date().isoformat(), ["x"])
    store.put(key, b"PAR1 not really parquet PAR1")
    with pytest.raises(SinkError, match=key):
        read_partition(store, DATA_TABLE, DAY.date().isoformat(), COLUMNS)


class CompactedWhileListed:
    """A store whose first read of a file finds it gone: a compaction moved its rows into a new
    file after the reader listed the partition."""

    def __init__(self, store: ObjectStore) -> None:
        self.store, self.compacted, self.listings = store, False, 0

    def __getattr__(self, name: str) -> object:
        return getattr(self.store, name)

    def list(self, prefix: str, limit: int | None = None) -> list[str]:
        self.listings += 1
        return self.store.list(prefix, limit)

    def reader(self, key: str) -> ReadableFile:
        if not self.compacted:
            self.compacted = True
            keys = self.store.list(f"{FOLDER}/")
            tables = [pq.read_table(io.BytesIO(self.store.get(k))) for k in keys]
            self.store.put(
                f"{FOLDER}/part-{'f' * 32}.parquet", parquet_bytes(pa.concat_tables(tables))
            )
            for old in keys:
                self.store.delete(old)
        return self.store.reader(key)


def test_a_file_lost_to_a_compaction_makes_the_partition_read_again(store: ObjectStore) -> None:
    written = write_logs(store, 0, 4) + write_logs(store, 4, 4)
    moving = CompactedWhileListed(store)
    table = read_partition(moving, DATA_TABLE, DAY.date().isoformat(), COLUMNS)
    assert moving.compacted and moving.listings == 2
    assert identities(table) == sorted(written)


def test_known_rows_are_those_the_lake_holds(store: ObjectStore) -> None:
    write_logs(store, 0, 3)
    known = KnownRows(store)
    held = make_log(1, DAY + timedelta(seconds=1))
    changed = {**held, "updated_at": "2026-11-20T09:00:00Z"}
    rows = [flatten(log, ingested_at=NOW, source_message_id=None)[0] for log in (held, changed)]
    assert [known.contains(row) for row in rows] == [True, False]
    new, already, repeated = known.keep_new(rows_table([rows[1], rows[0], rows[1]]))
    assert (new.num_rows, already, repeated) == (1, 1, 1)


def test_only_the_footer_and_the_columns_asked_for_are_fetched_from_s3(aws: str) -> None:
    client = boto3.client("s3")
    client.create_bucket(
        Bucket="lake", CreateBucketConfiguration={"LocationConstraint": "ap-southeast-1"}
    )
    fetched: list[int] = []
    client.meta.events.register(
        "after-call.s3.GetObject",
        lambda parsed, **_: fetched.append(parsed["ContentLength"]),
    )
    store = S3Store(client, "lake", "audit")
    rows = [
        flatten(make_log(n, DAY, id=f"task-{n:05d}"), ingested_at=NOW, source_message_id=None)[0]
        for n in range(3000)
    ]
    table = rows_table(rows)
    bodies = [os.urandom(3000).hex() for _ in range(len(rows))]  # large, incompressible
    table = table.set_column(table.schema.get_field_index("raw_json"), "raw_json", [bodies])
    data = parquet_bytes(table, row_group_size=1000)
    assert len(data) > 10 * TAIL_BYTES
    store.put(f"{FOLDER}/part-{'a' * 32}.parquet", data)

    read = read_partition(store, DATA_TABLE, DAY.date().isoformat(), COLUMNS)

    assert read.num_rows == 3000
    assert sum(fetched) < 2 * TAIL_BYTES  # the tail, then the two columns of each row group
    assert len(fetched) <= 1 + 2 * 3
