"""Compaction: rewrite a partition's many small files as a few large ones, keeping the latest rows.

For each chosen `dt` partition of each table: list its files, read exactly those, keep one row per
task (operation_logs: the greatest `updated_at`, then `ingested_at`, the readers' rule; with
`keep_history`, one row per distinct snapshot; errors: one row per identity, the latest observed),
write the rows as files of about the target size, and only then delete exactly the files that were
read. A file written meanwhile is not among them and survives. A crash between writing and
deleting leaves duplicates that readers already dedupe and that the next run removes. Outputs are
named by their rows and a partition is rewritten only when that drops rows or files, so a second
run finds nothing to do.
"""

from __future__ import annotations

import bisect
import hashlib
import logging
import math
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from lib.core.errors import ObjectMissing, SinkError
from lib.core.jsontext import content_key, decode_json
from lib.core.runtime import Deadline, log_event
from lib.core.schema import (
    DATA_TABLE,
    ERRORS_SCHEMA,
    ERRORS_TABLE,
    OPERATION_LOGS_SCHEMA,
    PARTITION_KEY,
)
from lib.lake.compact_io import MIB, Output, read_parquet
from lib.lake.reader import conform
from lib.lake.storage import ObjectStore
from lib.lake.writer import DEFAULT_TARGET_MB, Row, data_identity, error_identity

ROW_GROUP_ROWS = 32_768  # rows buffered per row group written (and see ROW_GROUP_BYTES)
MIN_PARTITION_S = 5.0  # do not start a partition with less time than this left
MIN_TARGET_MB = 0.01  # an output file of at least 10 KiB...
MAX_TARGET_MB = 10_240.0  # ...and at most 10 GiB, the most memory a function can have
MAX_OLDER_THAN_DAYS = 36_500  # a century: "older than" that chooses nothing a lake holds


@dataclass(frozen=True)
class Rule:
    """How one table's duplicates are recognised and which of them is kept."""

    table: str
    schema: pa.Schema
    keys: tuple[str, ...]  # rows equal on these are duplicates
    order: tuple[tuple[str, str], ...]  # sorted so, the row kept comes first among duplicates
    identity: Callable[[Row], str]  # names the output files, as the lake names its files
    identity_columns: tuple[str, ...]
    distinct_nulls: tuple[str, ...] = ()  # a null here never equals another null


LATEST = Rule(
    DATA_TABLE,
    OPERATION_LOGS_SCHEMA,
    keys=("id",),
    order=(("id", "ascending"), ("updated_at", "descending"), ("ingested_at", "descending")),
    identity=data_identity,
    identity_columns=("id", "updated_at"),
    distinct_nulls=("id",),
)
HISTORY = Rule(
    DATA_TABLE,
    OPERATION_LOGS_SCHEMA,
    keys=("id", "updated_at", "raw_json"),
    order=(
        ("id", "ascending"),
        ("updated_at", "descending"),
        ("raw_json", "ascending"),
        ("ingested_at", "descending"),
    ),
    identity=data_identity,
    identity_columns=("id", "updated_at"),
    distinct_nulls=("id",),
)
_ERROR_KEYS = ("source_message_id", "operation_log_id", "raw_message", "reason")
ERRORS = Rule(
    ERRORS_TABLE,
    ERRORS_SCHEMA,
    keys=_ERROR_KEYS,
    order=(*((name, "ascending") for name in _ERROR_KEYS), ("observed_at", "descending")),
    identity=error_identity,
    identity_columns=_ERROR_KEYS,
)


@dataclass(frozen=True)
class Selection:
    """Which partitions: one day, or every day at least `older_than_days` before today (UTC)."""

    day: date | None = None
    older_than_days: int = 1

    def __post_init__(self) -> None:
        if not 0 <= self.older_than_days <= MAX_OLDER_THAN_DAYS:
            raise ValueError(f"older_than_days must be from 0 to {MAX_OLDER_THAN_DAYS}")

    def __call__(self, dt: str, today: date) -> bool:
        try:
            partition = date.fromisoformat(dt)
        except ValueError:
            return False
        if self.day is not None:
            return partition == self.day
        return partition <= today - timedelta(days=self.older_than_days)


@dataclass
class PartitionResult:
    table: str
    dt: str
    files_in: int
    rows_in: int = 0
    files_out: int = 0
    rows_out: int = 0
    bytes_in: int = 0
    bytes_out: int = 0
    outcome: str = "compacted"  # or: already_compact, changed_meanwhile, failed

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class CompactionSummary:
    partitions: list[PartitionResult] = field(default_factory=list)
    left: int = 0  # partitions not reached before the deadline

    def as_dict(self) -> dict[str, Any]:
        done = [p for p in self.partitions if p.outcome == "compacted"]
        return {
            "partitions_seen": len(self.partitions) + self.left,
            "compacted": len(done),
            "already_compact": sum(p.outcome == "already_compact" for p in self.partitions),
            "changed_meanwhile": sum(p.outcome == "changed_meanwhile" for p in self.partitions),
            "failed": sum(p.outcome == "failed" for p in self.partitions),
            "left": self.left,
            "files_in": sum(p.files_in for p in done),
            "files_out": sum(p.files_out for p in done),
            "rows_dropped": sum(p.rows_in - p.rows_out for p in done),
        }


class Compactor:
    def __init__(
        self,
        store: ObjectStore,
        *,
        target_mb: float = DEFAULT_TARGET_MB,
        keep_history: bool = False,
        row_group_rows: int = ROW_GROUP_ROWS,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.row_group_rows = row_group_rows
        if not MIN_TARGET_MB <= target_mb <= MAX_TARGET_MB:  # NaN too
            raise ValueError(f"the target file size must be {MIN_TARGET_MB} to {MAX_TARGET_MB} MB")
        self.store = store
        self.target_bytes = int(target_mb * MIB)
        self.rules = (HISTORY if keep_history else LATEST, ERRORS)
        self.clock = clock

    def run(
        self,
        selection: Selection,
        deadline: Deadline | None = None,
        *,
        log_level: int = logging.INFO,
    ) -> CompactionSummary:
        """Every chosen partition, each logged when done at `log_level` (the function's log
        is where its runs are read; the CLI prints a table instead and logs them at DEBUG)."""
        summary = CompactionSummary()
        work = [
            (rule, dt, keys)
            for rule in self.rules
            for dt, keys in sorted(self.partitions(rule.table).items())
            if selection(dt, self.clock().date())
        ]
        for number, (rule, dt, keys) in enumerate(work):
            if deadline is not None and deadline.remaining() < MIN_PARTITION_S:
                summary.left = len(work) - number
                break
            result = self.compact(rule, dt, keys)
            summary.partitions.append(result)
            log_event(log_level, "partition done", **result.as_dict())
        return summary

    def partitions(self, table: str) -> dict[str, list[str]]:
        """dt -> the Parquet files of that partition."""
        found: dict[str, list[str]] = defaultdict(list)
        for key in self.store.list(f"{table}/"):
            parts = key.split("/")
            if (
                len(parts) == 3
                and parts[1].startswith(f"{PARTITION_KEY}=")
                and parts[2].endswith(".parquet")
            ):
                found[parts[1].removeprefix(f"{PARTITION_KEY}=")].append(key)
        return dict(found)

    def compact(self, rule: Rule, dt: str, keys: list[str]) -> PartitionResult:
        """Rewrite one partition; never raises for a partition that cannot be done now.

        Two passes bound the memory: the key columns of every file first (to choose the rows to
        keep), then one file at a time into the output, in row groups."""
        result = PartitionResult(rule.table, dt, len(keys))
        try:
            index, sizes = self._read_keys(rule, keys)
            result.bytes_in = sum(sizes)
            kept = kept_positions(index, rule)
            result.rows_in, result.rows_out = index.num_rows, len(kept)
            if result.rows_out == result.rows_in and len(keys) <= self._expected_files(result):
                result.outcome = "already_compact"
                return result
            identities = [
                rule.identity(row)
                for row in index.select(list(rule.identity_columns)).take(kept).to_pylist()
            ]
            written = self._rewrite(rule, dt, keys, sizes, kept, identities, result)
            for key in keys:
                if key not in written:
                    self.store.delete(key)
        except ObjectMissing as exc:
            # Another compaction removed it after we listed: its rows are in that one's output.
            log_event(logging.WARNING, f"partition changed while being compacted: {exc}", dt=dt)
            result.outcome = "changed_meanwhile"
        except (SinkError, pa.ArrowException, ValueError) as exc:
            # Outputs already written hold every row; leftovers are duplicates readers dedupe.
            log_event(logging.ERROR, f"compaction of {rule.table}/{dt} stopped: {exc}")
            result.outcome = "failed"
        return result

    def _read_keys(self, rule: Rule, keys: list[str]) -> tuple[pa.Table, list[int]]:
        """The key columns of every file; a body (raw_message, raw_json: up to megabytes a row)
        is replaced by its 32-byte digest as each file is read, so the index of a partition
        grows with its rows, not with their bodies."""
        columns = list(
            dict.fromkeys([*rule.keys, *(n for n, _ in rule.order), *rule.identity_columns])
        )
        schema = pa.schema([rule.schema.field(name) for name in columns])
        tables, sizes = [], []
        for key in keys:
            data = self.store.get(key)
            tables.append(_digested(conform(read_parquet(data, columns), schema)))
            sizes.append(len(data))
        return pa.concat_tables(tables), sizes

    def _read(self, key: str, schema: pa.Schema) -> pa.Table:
        return conform(read_parquet(self.store.get(key)), schema)

    def _expected_files(self, result: PartitionResult) -> int:
        expected = result.bytes_in * result.rows_out / max(1, result.rows_in)
        return max(1, math.ceil(expected / self.target_bytes))

    def _rewrite(
        self,
        rule: Rule,
        dt: str,
        keys: list[str],
        sizes: list[int],
        kept: list[int],
        identities: list[str],
        result: PartitionResult,
    ) -> set[str]:
        output = Output(
            self.store, rule.table, rule.schema, dt, self.target_bytes, self.row_group_rows
        )
        start = taken = 0
        for key in keys:
            table = self._read(key, rule.schema)
            end = start + table.num_rows
            stop = bisect.bisect_left(kept, end, lo=taken)
            rows = [position - start for position in kept[taken:stop]]
            if rows:
                output.add(table.take(rows), identities[taken:stop])
            start, taken = end, stop
        output.finish()
        result.files_out = len(output.written)
        result.bytes_out = output.bytes
        return set(output.written)


def kept_positions(index: pa.Table, rule: Rule) -> list[int]:
    """Row numbers (ascending) of the rows the rule keeps: the first of each group of
    duplicates in the rule's order. Only the key columns are sorted."""
    if index.num_rows < 2:
        return list(range(index.num_rows))
    order = pc.sort_indices(index, sort_keys=list(rule.order))
    ordered = index.take(order)
    same: Any = None
    for name in rule.keys:
        column = ordered[name]
        later, earlier = column.slice(1), column.slice(0, len(column) - 1)
        equal = pc.fill_null(pc.equal(later, earlier), False)
        if name not in rule.distinct_nulls:
            equal = pc.or_(equal, pc.and_(pc.is_null(later), pc.is_null(earlier)))
        same = equal if same is None else pc.and_(same, equal)
    first = pa.chunked_array([pa.array([True]), *pc.invert(same).chunks])
    return sorted(order.filter(first).to_pylist())


BODIES = ("raw_message", "raw_json")  # key columns compared by digest in the first pass
DIGEST = pa.binary(32)


def _digested(table: pa.Table) -> pa.Table:
    """Bodies replaced by 32-byte digests: raw_message by its text's, raw_json by its content's
    (the same snapshot keeps one key whether it was written re-serialised or as the API spelled
    it, so --keep-history keeps it once)."""
    for name in BODIES:
        if name in table.column_names:
            digest = _content_digest if name == "raw_json" else _text_digest
            digests = pa.array([digest(text) for text in table[name].to_pylist()], DIGEST)
            index = table.column_names.index(name)
            table = table.set_column(index, pa.field(name, DIGEST), digests)
    return table


def _text_digest(text: str | None) -> bytes | None:
    return None if text is None else hashlib.sha256(text.encode()).digest()


def _content_digest(text: str | None) -> bytes | None:
    if text is None:
        return None
    try:
        return content_key(decode_json(text.encode()))
    except (ValueError, RecursionError):  # not JSON (written by hand?): its text, then
        return _text_digest(text)
