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

import logging
import math
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from lib.errors import ObjectMissing, SinkError
from lib.lake import Row, data_identity, error_identity, file_key, to_parquet
from lib.runtime import Deadline, log_event
from lib.schema import DATA_TABLE, ERRORS_SCHEMA, ERRORS_TABLE, OPERATION_LOGS_SCHEMA, PARTITION_KEY
from lib.storage import ObjectStore

MIB = 1024 * 1024
DEFAULT_TARGET_MB = 128
MIN_PARTITION_S = 5.0  # do not start a partition with less time than this left


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
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        if target_mb <= 0:
            raise ValueError("the target file size must be positive")
        self.store = store
        self.target_bytes = int(target_mb * MIB)
        self.rules = (HISTORY if keep_history else LATEST, ERRORS)
        self.clock = clock

    def run(self, selection: Selection, deadline: Deadline | None = None) -> CompactionSummary:
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
            log_event(logging.INFO, "partition done", **result.as_dict())
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
        """Rewrite one partition; never raises for a partition that cannot be done now."""
        result = PartitionResult(rule.table, dt, len(keys))
        try:
            tables = []
            for key in keys:
                table, size = self._read(key, rule.schema)
                tables.append(table)
                result.bytes_in += size
        except ObjectMissing as exc:
            # Another compaction removed it after we listed: its rows are in that one's output.
            log_event(logging.WARNING, f"partition changed while being read: {exc}", dt=dt)
            result.outcome = "changed_meanwhile"
            return result
        except (SinkError, pa.ArrowException, ValueError) as exc:
            log_event(logging.ERROR, f"cannot read partition {rule.table}/{dt}: {exc}")
            result.outcome = "failed"
            return result
        everything = pa.concat_tables(tables)
        kept = keep_rows(everything, rule)
        result.rows_in, result.rows_out = everything.num_rows, kept.num_rows
        if kept.num_rows == everything.num_rows and len(keys) == 1:
            result.outcome = "already_compact"
            return result
        files = self._encode(rule, dt, kept)
        if kept.num_rows == everything.num_rows and len(keys) <= len(files):
            result.outcome = "already_compact"
            return result
        try:
            for key, payload in files:
                self.store.put(key, payload)
                result.files_out += 1
                result.bytes_out += len(payload)
            written = {key for key, _ in files}
            for key in keys:
                if key not in written:
                    self.store.delete(key)
        except SinkError as exc:
            # Outputs already written hold every row; leftovers are duplicates readers dedupe.
            log_event(logging.ERROR, f"compaction of {rule.table}/{dt} stopped: {exc}")
            result.outcome = "failed"
        return result

    def _read(self, key: str, schema: pa.Schema) -> tuple[pa.Table, int]:
        data = self.store.get(key)
        return conform(pq.read_table(pa.BufferReader(data)), schema), len(data)

    def _encode(self, rule: Rule, dt: str, kept: pa.Table) -> list[tuple[str, bytes]]:
        """The kept rows as files of about the target size, named by their rows.

        Encoding everything once measures the real size (many small files carry far more
        overhead than their rows would take together); only a partition over the target is
        encoded again, in nearly equal slices."""
        whole = to_parquet(kept)
        parts = max(1, math.ceil(len(whole) / self.target_bytes))
        chunks = [kept] if parts == 1 else list(split(kept, parts))
        files = []
        for chunk in chunks:
            identities = map(rule.identity, chunk.select(list(rule.identity_columns)).to_pylist())
            payload = whole if parts == 1 else to_parquet(chunk)
            files.append((file_key(rule.table, dt, identities), payload))
        return files


def keep_rows(table: pa.Table, rule: Rule) -> pa.Table:
    """The rows the rule keeps, in the rule's order: the first of each group of duplicates."""
    if table.num_rows < 2:
        return table
    ordered = table.sort_by(list(rule.order))
    same: Any = None
    for name in rule.keys:
        column = ordered[name]
        later, earlier = column.slice(1), column.slice(0, len(column) - 1)
        equal = pc.fill_null(pc.equal(later, earlier), False)
        if name not in rule.distinct_nulls:
            equal = pc.or_(equal, pc.and_(pc.is_null(later), pc.is_null(earlier)))
        same = equal if same is None else pc.and_(same, equal)
    first = pa.chunked_array([pa.array([True]), *pc.invert(same).chunks])
    return ordered.filter(first)


def conform(table: pa.Table, schema: pa.Schema) -> pa.Table:
    """A file's table with exactly the declared columns (missing ones null) and types."""
    columns = [
        table[f.name].cast(f.type) if f.name in table.column_names else pa.nulls(len(table), f.type)
        for f in schema
    ]
    return pa.Table.from_arrays(columns, schema=schema)


def split(table: pa.Table, parts: int) -> Iterator[pa.Table]:
    """`parts` slices of nearly equal row counts, in order."""
    size = math.ceil(table.num_rows / max(1, parts)) if table.num_rows else 0
    for start in range(0, table.num_rows, max(1, size)):
        yield table.slice(start, size)


def parse_day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ValueError(f"--dt must be a date like 2026-11-20, got {text!r}") from None


def selection_from(
    day: str | None, older_than_days: int | None, *, default_days: int = 1
) -> Selection:
    if day is not None and older_than_days is not None:
        raise ValueError("choose partitions with --dt or --older-than-days, not both")
    if older_than_days is not None and older_than_days < 0:
        raise ValueError("--older-than-days must be 0 or more")
    if day is not None:
        return Selection(day=parse_day(day))
    return Selection(older_than_days=default_days if older_than_days is None else older_than_days)
