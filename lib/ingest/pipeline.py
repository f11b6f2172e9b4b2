"""The stages in order: plan -> fetch -> settle -> write -> follow, and who is acknowledged.

A message is acknowledged only when every ID it names ends as a data row or an error row that the
lake write durably stored (see `lib.ingest.settle`). If the write fails, every message of the batch
is redelivered. Unfinished tasks of acknowledged messages are then handed to the follower.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from typing import Any, Protocol

import pyarrow as pa

from lib.cbr.client import FetchStats
from lib.core.errors import SinkError
from lib.core.runtime import Deadline, Scrub, log_event, no_scrub
from lib.core.settings import CBR_PROJECT_ID
from lib.ingest.fetch import Fetcher, FetchKey, Outcome, fetch_all
from lib.ingest.follow import Follower, unfinished
from lib.ingest.messages import Message
from lib.ingest.settle import NO_PROJECT, Plan, Settlement, plan, settle
from lib.lake.writer import Row, WriteReport


class RowSink(Protocol):
    """Where settled rows go: the lake (`lib.lake.writer.Lake`) or a filter in front of it."""

    def write(self, data: pa.Table | list[Row], error_rows: list[Row]) -> WriteReport: ...


@dataclass
class Counts:
    """What a run did. One type for an SQS batch, a drain (summed over its batches) and a
    backfill, so logs, metrics and summaries name the same things the same way."""

    messages: int = 0
    ids: int = 0
    rows: int = 0  # data rows written
    error_rows: int = 0
    failures: int = 0  # messages left to redeliver
    files: int = 0
    followed: int = 0
    follow_exhausted: int = 0
    drift: int = 0
    nulled: int = 0
    requests: int = 0
    retries: int = 0
    throttled: int = 0
    token_refreshes: int = 0
    latency_s: float = 0.0
    error_reasons: Counter[str] = field(default_factory=Counter)
    failure_reasons: Counter[str] = field(default_factory=Counter)

    def add(self, other: Counts) -> None:
        for name in (f.name for f in fields(self)):
            setattr(self, name, getattr(self, name) + getattr(other, name))

    def take_stats(self, stats: FetchStats) -> None:
        for name in ("requests", "retries", "throttled", "token_refreshes", "latency_s"):
            setattr(self, name, getattr(self, name) + getattr(stats, name))

    def summary(self) -> dict[str, Any]:
        values: dict[str, Any] = {
            f.name: getattr(self, f.name) for f in fields(self) if f.name != "latency_s"
        }
        values["fetch_latency_ms"] = round(1000 * self.latency_s / max(1, self.requests), 1)
        values["error_reasons"] = dict(self.error_reasons)
        values["failure_reasons"] = dict(self.failure_reasons)
        return values


@dataclass
class BatchResult:
    """What happened to one batch of messages."""

    failed: list[str] = field(default_factory=list)  # message IDs to redeliver, in order
    counts: Counts = field(default_factory=Counts)
    files: list[str] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        return self.counts.summary()


class Pipeline:
    def __init__(
        self,
        client: Fetcher,
        sink: RowSink,
        *,
        concurrency: int,
        default_project: str | None,
        follower: Follower | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        scrub: Scrub = no_scrub,
    ) -> None:
        self.client = client
        self.sink = sink
        self.concurrency = concurrency
        self.default_project = default_project
        self.follower = follower
        self.clock = clock
        self.scrub = scrub  # known secrets out of the rows (the log redactor's)

    def process(self, messages: Sequence[Message], deadline: Deadline) -> BatchResult:
        plans = [plan(message, self.default_project) for message in messages]
        stats = FetchStats()
        keys = (key for message_plan in plans for key in message_plan.keys)
        outcomes = fetch_all(self.client, keys, deadline, stats, concurrency=self.concurrency)
        settled = settle(plans, outcomes, self.clock(), self.scrub)
        result, written = self._write(plans, settled)
        if written and self.follower is not None:
            self._follow(plans, outcomes, result, self.follower)
        result.counts.take_stats(stats)
        _log_problems(plans, settled)
        return result

    def _write(self, plans: Sequence[Plan], settled: Settlement) -> tuple[BatchResult, bool]:
        """Write the rows; if that fails (False), every message of the batch is redelivered."""
        counts = Counts(
            messages=len(plans),
            ids=sum(len(p.keys) + len(p.rejects) for p in plans),
            drift=settled.drift.total(),
            nulled=settled.nulled.total(),
        )
        result = BatchResult(list(settled.failed), counts)
        try:
            report = self.sink.write(settled.data, settled.error_rows)
        except SinkError as exc:
            log_event(logging.ERROR, f"lake write failed, whole batch redelivered: {exc}")
            result.failed = [p.message.message_id for p in plans]
            counts.failure_reasons = Counter({"lake_write": len(plans)})
            counts.failures = len(plans)
            return result, False
        counts.rows, counts.error_rows = report.data_rows, report.error_rows
        counts.error_reasons = settled.error_reasons()
        counts.failure_reasons = Counter(settled.failed.values())
        counts.failures = len(result.failed)
        counts.files = len(report.keys)
        result.files = report.keys
        return result, True

    def _follow(
        self,
        plans: Sequence[Plan],
        outcomes: dict[FetchKey, Outcome],
        result: BatchResult,
        follower: Follower,
    ) -> None:
        """Send unfinished tasks of the acknowledged messages back to the queue, for later."""
        acknowledged = {p.message.message_id for p in plans} - set(result.failed)
        follow, exhausted = unfinished(plans, outcomes, acknowledged, follower.max_attempts)
        if not follow and not exhausted:
            return
        report = follower.send(follow, exhausted)
        result.counts.followed += report.sent
        result.counts.follow_exhausted += report.exhausted
        for message_id in sorted(report.failed_messages):
            result.failed.append(message_id)  # redelivered: fetched, written and followed again
            result.counts.failure_reasons["follow_send"] += 1
            result.counts.failures += 1


def _log_problems(plans: Sequence[Plan], settled: Settlement) -> None:
    """A message that names no project, and schema drift: once per batch, not once per record
    (a new API field would otherwise log every row)."""
    for message_plan in plans:
        if settled.failed.get(message_plan.message.message_id) == NO_PROJECT:
            log_event(
                logging.ERROR,
                f"message names no project_id and {CBR_PROJECT_ID} is not set",
                message_id=message_plan.message.message_id,
            )
    if settled.drift or settled.nulled:
        log_event(
            logging.WARNING,
            "schema drift",
            unknown_fields=sorted(settled.drift)[:50],
            nulled_fields=sorted(settled.nulled)[:50],
            counts=dict((settled.drift + settled.nulled).most_common(50)),
        )
