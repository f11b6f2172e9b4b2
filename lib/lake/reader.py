"""Reading the lake back: pyarrow datasets over the Hive-style `dt=` partitions (the operator's
tools), and one partition's columns through the lake's store (`read_partition`: the function's
way, through boto3 as it writes, so the package carries no S3 filesystem of pyarrow's).

Only lake files are read: `{table}/dt=YYYY-MM-DD/*.parquet`, not empty, and of the table's
schema. Anything else someone left there (a README, a zero-byte or foreign `.parquet`) is skipped
and named in a warning, so one stray file cannot stop `show`, a report or a backfill. Files the
lake writes itself (`part-<hash>.parquet`) are trusted by name; any other `.parquet` has its
footer read to check its columns. A scan that loses a file to a concurrent compaction (which
deletes the files it merged) is run again over a fresh listing (`scan`).
"""

from __future__ import annotations

import contextlib
import gc
import logging
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from lib.core.errors import ObjectMissing, SinkError
from lib.core.inventory_schema import INVENTORY_TABLES
from lib.core.runtime import log_event
from lib.core.schema import (
    DATA_TABLE,
    ERRORS_SCHEMA,
    ERRORS_TABLE,
    OPERATION_LOGS_SCHEMA,
    PARTITION_KEY,
)
from lib.core.settings import LAKE_URI, LakeLocation
from lib.lake.objects import ObjectStore

SCHEMAS = {DATA_TABLE: OPERATION_LOGS_SCHEMA, ERRORS_TABLE: ERRORS_SCHEMA}
SCHEMAS.update({table.path: table.schema for table in INVENTORY_TABLES.values()})
PARTITIONING = ds.partitioning(pa.schema([(PARTITION_KEY, pa.string())]), flavor="hive")
LAKE_FILE = re.compile(rf"{PARTITION_KEY}=[0-9]{{4}}-[0-9]{{2}}-[0-9]{{2}}/[^/]+\.parquet")
OWN_FILE = re.compile(r"part-[0-9a-f]{32}\.parquet")  # lib.lake.writer.file_key's names
SCAN_ATTEMPTS = 3
T = TypeVar("T")


class LakeNotFound(FileNotFoundError):
    """The lake (or the table asked for) has no files yet."""


def open_table(lake: LakeLocation | str, table: str) -> ds.Dataset:
    """One lake table as a dataset, with `dt` as a string partition column. A plain string is
    a local folder, or an S3 lake reached through AWS's own endpoints. Raises LakeNotFound when
    the table has no folder, SinkError when the store cannot be read."""
    location = lake if isinstance(lake, LakeLocation) else LakeLocation(str(lake))
    filesystem, path = _filesystem(location, table)
    try:
        listed = filesystem.get_file_info(pafs.FileSelector(path, recursive=True))
    except (FileNotFoundError, NotADirectoryError):
        raise LakeNotFound(f"no {table} table under {location.uri}") from None
    except OSError as exc:
        raise _unreadable(location, exc) from None
    files, strays = _lake_files(listed, path)
    schema = SCHEMAS[table].append(pa.field(PARTITION_KEY, pa.string()))
    dataset = ds.dataset(
        [info.path for info in files],
        schema=schema,
        format="parquet",
        partitioning=PARTITIONING,
        partition_base_dir=path,
        filesystem=filesystem,
    )
    dataset = _without_foreign_files(dataset, path, strays)
    _warn_strays(table, strays)
    return dataset


def scan(
    lake: LakeLocation | str,
    table: str,
    read: Callable[[ds.Dataset], T],
    opened: ds.Dataset | None = None,
) -> T:
    """`read(open_table(...))` (or of `opened`, first), listed and run again when a file listed
    is gone by the time it is read (a compaction deleted it after writing its rows elsewhere)."""
    for attempt in range(1, SCAN_ATTEMPTS + 1):
        try:
            dataset = opened if opened is not None and attempt == 1 else open_table(lake, table)
            return read(dataset)
        except LakeNotFound:
            raise
        except OSError as exc:
            if not _lost_file(exc) or attempt == SCAN_ATTEMPTS:
                raise
            log_event(logging.INFO, "a file went away while reading (compaction): reading again")
    raise AssertionError("unreachable")


def read_partition(store: ObjectStore, table: str, day: str, columns: list[str]) -> pa.Table:
    """`columns` of every lake file of one partition (`dt=day`), read through the store: only
    each file's footer and those columns are fetched. The files are chosen as `open_table`
    chooses them; a partition read again when a file listed is gone by the time it is read."""
    schema = pa.schema([SCHEMAS[table].field(name) for name in columns])
    prefix = f"{table}/{PARTITION_KEY}={day}/"
    for attempt in range(1, SCAN_ATTEMPTS + 1):
        try:
            strays: list[str] = []
            tables = [
                read
                for key in store.list(prefix)
                if (read := _read_lake_file(store, table, key, schema, strays)) is not None
            ]
            _warn_strays(table, strays)
            return pa.concat_tables(tables) if tables else schema.empty_table()
        except ObjectMissing:
            if attempt == SCAN_ATTEMPTS:
                raise
            log_event(logging.INFO, "a file went away while reading (compaction): reading again")
    raise AssertionError("unreachable")


def _read_lake_file(
    store: ObjectStore, table: str, key: str, schema: pa.Schema, strays: list[str]
) -> pa.Table | None:
    """One file's columns, or None (and its name in `strays`) when it is not a lake file."""
    relative = key.removeprefix(f"{table}/")
    name = relative.rsplit("/", 1)[-1]
    if name.startswith((".", "_")):
        return None
    if not LAKE_FILE.fullmatch(relative):
        strays.append(relative)
        return None
    with contextlib.closing(store.reader(key)) as file:
        if file.seek(0, 2) == 0:
            strays.append(f"{relative} (empty)")
            return None
        file.seek(0)
        try:
            parquet = pq.ParquetFile(file)
            found = parquet.schema_arrow
        except (OSError, pa.ArrowException) as exc:
            if OWN_FILE.fullmatch(name):
                raise SinkError(
                    f"cannot read the lake file {_file_uri(store, key)}: {exc}"
                ) from exc
            strays.append(f"{relative} (not Parquet)")
            return None
        if not OWN_FILE.fullmatch(name) and not _schema_fits(found, SCHEMAS[table]):
            strays.append(f"{relative} (not of this table's schema)")
            return None
        present = [field.name for field in schema if field.name in found.names]
        return conform(parquet.read(columns=present), schema)


def _warn_strays(table: str, strays: list[str]) -> None:
    if strays:
        shown = ", ".join(strays[:20]) + (
            f" and {len(strays) - 20} more" if len(strays) > 20 else ""
        )
        log_event(
            logging.WARNING, f"skipped {len(strays)} files that are not {table} files: {shown}"
        )


def conform(table: pa.Table, schema: pa.Schema) -> pa.Table:
    """A file's table with exactly the declared columns (missing ones null) and types."""
    columns = [
        table[f.name].cast(f.type) if f.name in table.column_names else pa.nulls(len(table), f.type)
        for f in schema
    ]
    return pa.Table.from_arrays(columns, schema=schema)


def release_native_threads() -> None:
    """Before the interpreter exits: drop readers that only a reference cycle keeps (their
    native threads must end while Arrow is alive) and close the S3 client if one was opened.
    A worker still alive at exit aborts the process with `terminate called without an active
    exception` (exit 134), after the command already printed its result."""
    gc.collect()
    if "pyarrow._s3fs" in sys.modules:
        pafs.ensure_s3_finalized()


def _filesystem(location: LakeLocation, table: str) -> tuple[pafs.FileSystem, str]:
    if location.is_s3:
        from lib.lake.s3 import arrow_filesystem  # boto3/pyarrow S3 only for an S3 lake

        filesystem, root = arrow_filesystem(location)
        return filesystem, f"{root}/{table}"
    return pafs.LocalFileSystem(), f"{Path(location.uri).resolve()}/{table}"


def _lake_files(listed: list[pafs.FileInfo], path: str) -> tuple[list[pafs.FileInfo], list[str]]:
    """The files that look like lake files, and the names of the others (not the writers' own
    hidden temporaries and markers, which are skipped silently)."""
    files, strays = [], []
    for info in listed:
        if info.type != pafs.FileType.File:
            continue
        relative = info.path[len(path) + 1 :]
        if relative.rsplit("/", 1)[-1].startswith((".", "_")):
            continue
        if not LAKE_FILE.fullmatch(relative):
            strays.append(relative)
        elif not info.size:
            strays.append(f"{relative} (empty)")
        else:
            files.append(info)
    return files, strays


def _without_foreign_files(dataset: ds.Dataset, path: str, strays: list[str]) -> ds.Dataset:
    """The dataset less the `.parquet` files not named by the lake whose columns do not fit."""
    kept, dropped = [], False
    for fragment in dataset.get_fragments():
        name = fragment.path.rsplit("/", 1)[-1]
        if OWN_FILE.fullmatch(name) or _fits(fragment, dataset.schema):
            kept.append(fragment)
        else:
            strays.append(f"{fragment.path[len(path) + 1 :]} (not of this table's schema)")
            dropped = True
    if not dropped:
        return dataset
    return ds.FileSystemDataset(kept, dataset.schema, dataset.format, dataset.filesystem)


def _fits(fragment: ds.Fragment, schema: pa.Schema) -> bool:
    """Readable Parquet that `_schema_fits` the table's."""
    try:
        physical = fragment.physical_schema
    except (OSError, pa.ArrowException):
        return False
    return _schema_fits(physical, schema)


def _schema_fits(physical: pa.Schema, schema: pa.Schema) -> bool:
    """Some of the table's columns, each of the declared type (timestamps and integers of
    another unit or width convert)."""
    common = [name for name in physical.names if name in schema.names]
    return bool(common) and all(
        _same_kind(physical.field(name).type, schema.field(name).type) for name in common
    )


def _same_kind(found: pa.DataType, declared: pa.DataType) -> bool:
    return bool(
        found == declared
        or (pa.types.is_timestamp(found) and pa.types.is_timestamp(declared))
        or (pa.types.is_integer(found) and pa.types.is_integer(declared))
    )


def _lost_file(exc: OSError) -> bool:
    text = str(exc)
    return isinstance(exc, FileNotFoundError) or "NoSuchKey" in text or "does not exist" in text


def _unreadable(location: LakeLocation, exc: OSError) -> SinkError:
    reason = str(exc).split(". Detail:")[0].strip()[:300]
    where = (
        " (check AWS_ENDPOINT_URL_S3, the network and the credentials)" if location.is_s3 else ""
    )
    return SinkError(f"cannot read {LAKE_URI}={location.uri}{where}: {reason}")


def _file_uri(store: ObjectStore, key: str) -> str:
    """Where a lake file is, whole: the folder's path or the s3:// URI, then the key."""
    return f"{store.uri.rstrip('/')}/{key}"
