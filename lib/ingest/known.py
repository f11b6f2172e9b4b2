"""Listed logs into the lake without adding what it already holds.

ListOpLogs answers whole operation logs, so listed tasks are written as they are, with no request
per task. Listing the same window twice (a second backfill, a discovery lookback, overlapping
pages) must add nothing: a row whose identity (`id` + `updated_at`) the lake already holds, or
that this run already wrote, is skipped. A task whose state changed has a new identity and gets
its new row.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

import pyarrow as pa

from lib.core.errors import SinkError
from lib.core.runtime import Scrub, log_event, no_scrub
from lib.core.schema import DATA_TABLE
from lib.ingest.batch import Record
from lib.ingest.pipeline import RowSink
from lib.ingest.rows import data_table, record
from lib.lake.reader import read_partition
from lib.lake.storage import ObjectStore
from lib.lake.writer import (
    Row,
    WriteReport,
    data_identities,
    data_identity,
    data_partition,
    data_partitions,
    rows_table,
)

FLUSH_ROWS = 10_000  # rows buffered before a lake write


class KnownRows:
    """The (id, updated_at) identities the lake already holds, read once per partition through
    the lake's store (the two columns of each file, not the files)."""

    def __init__(self, store: ObjectStore) -> None:
        store.list(f"{DATA_TABLE}/", limit=1)  # a lake that cannot be read fails now, not later
        self._store = store
        self._loaded: dict[str, set[str]] = {}

    def contains(self, row: Row) -> bool:
        return data_identity(row) in self._partition(data_partition(row))

    def add(self, row: Row) -> None:
        self._partition(data_partition(row)).add(data_identity(row))

    def keep_new(self, table: pa.Table) -> tuple[pa.Table, int, int]:
        """The rows of `table` the lake does not hold yet, each identity once; and how many were
        left out as already held and as repeated. Call `remember` once they are written."""
        days = data_partitions(table).to_pylist()
        identities = data_identities(table).to_pylist()
        keep: list[bool] = []
        taken: set[str] = set()
        known = repeated = 0
        for day, identity in zip(days, identities, strict=True):
            if identity in taken:
                repeated += 1
            elif identity in self._partition(day):
                known += 1
            else:
                taken.add(identity)
                keep.append(True)
                continue
            keep.append(False)
        return table.filter(pa.array(keep, pa.bool_())), known, repeated

    def remember(self, table: pa.Table) -> None:
        """The rows of a table just written: held by the lake from now on."""
        days = data_partitions(table).to_pylist()
        for day, identity in zip(days, data_identities(table).to_pylist(), strict=True):
            self._partition(day).add(identity)

    def _partition(self, day: str) -> set[str]:
        known = self._loaded.get(day)
        if known is None:
            known = self._loaded[day] = self._read(day)
        return known

    def _read(self, day: str) -> set[str]:
        """The identities of one partition; LakeUnreadable (naming the file) when a lake file
        there cannot be read, a failure of the run, not of its options."""
        try:
            table = read_partition(self._store, DATA_TABLE, day, ["id", "updated_at"])
        except LakeUnreadable:
            raise
        except SinkError as exc:
            raise LakeUnreadable(str(exc)) from None
        except (pa.ArrowException, OSError) as exc:
            raise LakeUnreadable(
                f"a lake file of {DATA_TABLE}/dt={day} could not be read: {exc}"
            ) from None
        return set(data_identities(table).to_pylist())


class LakeUnreadable(SinkError):
    """A lake file (corrupt, or not the lake's) could not be read."""


@dataclass
class KnownRowsFilter:
    """A row sink in front of the lake that leaves out data rows it already holds, and rows of
    one write that repeat another's identity (the same task named twice)."""

    lake: RowSink
    known: KnownRows
    skipped: int = 0  # already in the lake
    duplicates: int = 0  # repeated within a write

    def write(self, data: pa.Table | list[Row], error_rows: list[Row]) -> WriteReport:
        table = data if isinstance(data, pa.Table) else rows_table(data)
        new, known, repeated = self.known.keep_new(table)
        self.skipped += known
        self.duplicates += repeated
        report = self.lake.write(new, error_rows)
        self.known.remember(new)
        return report


@dataclass
class SinkTotals:
    received: int = 0
    duplicates: int = 0  # listed twice in this run
    known: int = 0  # already in the lake
    written: int = 0  # rows written, or IDs sent
    files: int = 0
    drift: Counter[str] = field(default_factory=Counter)  # unknown fields met, by path
    nulled: Counter[str] = field(default_factory=Counter)  # values of a wrong type, by path


def log_drift(totals: SinkTotals, **context: Any) -> None:
    """One line for a whole pass or run: the fields the schema does not know (kept in raw_json)
    and the values set to null, counted per field. Each write's detail is at debug level."""
    if totals.drift or totals.nulled:
        log_event(
            logging.WARNING,
            "schema drift",
            unknown_fields=dict(totals.drift.most_common(50)),
            nulled=dict(totals.nulled.most_common(50)),
            **context,
        )


class LogSink(Protocol):
    """Where listed logs go; nothing is durable before `flush` returns."""

    totals: SinkTotals

    @property
    def pending(self) -> int: ...

    def add_logs(
        self,
        logs: Sequence[dict[str, Any]],
        project_id: str,
        texts: Sequence[bytes] | None = None,
    ) -> int:
        """Take listed logs (with their original texts, when known); how many were new to this
        run."""
        ...

    def flush(self) -> None: ...


class LakeLogSink:
    """Writes listed logs the lake does not hold yet, a table at a time through the batch path."""

    def __init__(
        self,
        lake: RowSink,
        known: KnownRows,
        *,
        flush_rows: int = FLUSH_ROWS,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        scrub: Scrub = no_scrub,
    ) -> None:
        self.lake = lake
        self.scrub = scrub
        self.known = known
        self.flush_rows = flush_rows
        self.clock = clock
        self.totals = SinkTotals()
        self._seen: set[tuple[str, str]] = set()
        self._records: list[Record] = []

    @property
    def pending(self) -> int:
        return len(self._records)

    def add_logs(
        self,
        logs: Sequence[dict[str, Any]],
        project_id: str,
        texts: Sequence[bytes] | None = None,
    ) -> int:
        fresh = 0
        for n, log in enumerate(logs):
            self.totals.received += 1
            listed = (repr(log.get("id")), repr(log.get("updated_at")))  # the same snapshot again
            if listed in self._seen:
                self.totals.duplicates += 1
                continue
            self._seen.add(listed)
            fresh += 1
            text = texts[n] if texts is not None else None
            self._records.append(record(log, text, None, self.scrub))
        if len(self._records) >= self.flush_rows:
            self.flush()
        return fresh

    def flush(self) -> None:
        """Write what is buffered (raises SinkError), counting what drifted."""
        if not self._records:
            return
        built = data_table(self._records, self.clock())
        if built.drift_paths or built.nulled_paths:
            self.totals.drift.update(built.drift_paths)
            self.totals.nulled.update(built.nulled_paths)
            drifted = built.drift_paths + built.nulled_paths
            log_event(
                logging.DEBUG, "schema drift in a write", counts=dict(drifted.most_common(50))
            )
        new, known, repeated = self.known.keep_new(built.table)
        self.totals.known += known
        self.totals.duplicates += repeated
        report = self.lake.write(new, [])
        self.known.remember(new)
        self.totals.written += report.data_rows
        self.totals.files += len(report.keys)
        self._records = []
