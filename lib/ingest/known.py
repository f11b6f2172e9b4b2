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
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

import pyarrow.dataset as ds

from lib.core.runtime import Scrub, log_event, no_scrub
from lib.core.schema import DATA_TABLE, PARTITION_KEY
from lib.core.settings import LakeLocation
from lib.ingest.flatten import flatten
from lib.ingest.pipeline import RowSink
from lib.lake.reader import LakeNotFound, open_table, scan
from lib.lake.writer import Row, WriteReport, data_identity, data_partition

FLUSH_ROWS = 10_000  # rows buffered before a lake write


class KnownRows:
    """The (id, updated_at) identities the lake already holds, read once per partition."""

    def __init__(self, lake: LakeLocation | str) -> None:
        self._lake = lake
        try:
            self._dataset: ds.Dataset | None = open_table(lake, DATA_TABLE)
        except (LakeNotFound, FileNotFoundError):
            self._dataset = None
        self._loaded: dict[str, set[str]] = {}

    def contains(self, row: Row) -> bool:
        return data_identity(row) in self._partition(data_partition(row))

    def add(self, row: Row) -> None:
        self._partition(data_partition(row)).add(data_identity(row))

    def _partition(self, day: str) -> set[str]:
        known = self._loaded.get(day)
        if known is None:
            known = self._loaded[day] = self._read(day)
        return known

    def _read(self, day: str) -> set[str]:
        if self._dataset is None:
            return set()
        table = scan(
            self._lake,
            DATA_TABLE,
            lambda dataset: dataset.to_table(
                columns=["id", "updated_at"], filter=ds.field(PARTITION_KEY) == day
            ),
            opened=self._dataset,
        )
        return {data_identity(row) for row in table.to_pylist()}


@dataclass
class KnownRowsFilter:
    """A row sink in front of the lake that leaves out data rows it already holds, and rows of
    one write that repeat another's identity (the same task named twice)."""

    lake: RowSink
    known: KnownRows
    skipped: int = 0  # already in the lake
    duplicates: int = 0  # repeated within a write

    def write(self, data_rows: list[Row], error_rows: list[Row]) -> WriteReport:
        new: dict[str, Row] = {}
        for row in data_rows:
            identity = data_identity(row)
            if identity in new:
                self.duplicates += 1
            elif self.known.contains(row):
                self.skipped += 1
            else:
                new[identity] = row
        report = self.lake.write(list(new.values()), error_rows)
        for row in new.values():
            self.known.add(row)
        return report


@dataclass
class SinkTotals:
    received: int = 0
    duplicates: int = 0  # listed twice in this run
    known: int = 0  # already in the lake
    written: int = 0  # rows written, or IDs sent
    files: int = 0


class LogSink(Protocol):
    """Where listed logs go; nothing is durable before `flush` returns."""

    totals: SinkTotals

    @property
    def pending(self) -> int: ...

    def add_logs(self, logs: Sequence[dict[str, Any]], project_id: str) -> int:
        """Take listed logs; how many were new to this run."""
        ...

    def flush(self) -> None: ...


class LakeLogSink:
    """Flattens listed logs and writes the ones the lake does not hold yet."""

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
        self._seen: set[str] = set()
        self._rows: list[Row] = []
        self._drift: Counter[str] = Counter()

    @property
    def pending(self) -> int:
        return len(self._rows)

    def add_logs(self, logs: Sequence[dict[str, Any]], project_id: str) -> int:
        now = self.clock()
        fresh = 0
        for log in logs:
            self.totals.received += 1
            row, report = flatten(log, ingested_at=now, source_message_id=None, scrub=self.scrub)
            identity = data_identity(row)
            if identity in self._seen:
                self.totals.duplicates += 1
                continue
            self._seen.add(identity)
            fresh += 1
            self._drift.update(report.drift + report.nulled)
            if self.known.contains(row):
                self.totals.known += 1
            else:
                self._rows.append(row)
        if len(self._rows) >= self.flush_rows:
            self.flush()
        return fresh

    def flush(self) -> None:
        """Write what is buffered (raises SinkError); once per flush, say what drifted."""
        if self._drift:
            log_event(logging.WARNING, "schema drift", counts=dict(self._drift.most_common(50)))
            self._drift.clear()
        if not self._rows:
            return
        report = self.lake.write(self._rows, [])
        for row in self._rows:
            self.known.add(row)
        self.totals.written += report.data_rows
        self.totals.files += len(report.keys)
        self._rows = []
