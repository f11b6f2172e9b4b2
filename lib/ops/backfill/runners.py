"""The two kinds of backfill: a window listed slice by slice, and a file of IDs read in chunks.

Both save their position after each durable step and resume from it: a list backfill from the
first slice not yet written whole (re-listing a slice adds nothing the lake holds), a file
backfill from the first line not yet done, retrying first the lines that failed before.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from lib.aws.sqs import QueueLogSink
from lib.cbr.answers import LogPage
from lib.cbr.client import CbrClient, FetchStats
from lib.core.errors import FetchError
from lib.core.runtime import Deadline, log_event
from lib.core.times import format_utc, now_utc, parse_utc
from lib.ingest.known import KnownRowsFilter, LogSink, log_drift
from lib.ingest.listing import Lister, ListStats, Window
from lib.ingest.messages import Message, parse_body
from lib.ingest.pipeline import Counts, Pipeline
from lib.ops.backfill.checkpoint import BackfillError, Checkpoint
from lib.ops.backfill.job import ListJob
from lib.ops.progress import Progress

CALL_BUDGET_S = 300.0  # one page (or chunk of lines) with all its retries
RUN_BUDGET_S = 7 * 24 * 3600.0  # an operator's backfill is bounded by its calls, not a budget
CHUNK_LINES = 1000


@dataclass
class ListSummary:
    """What a list backfill did."""

    slices: int = 0
    pages: int = 0
    listed: int = 0
    splits: int = 0  # windows cut in time because pages shifted or did not fit
    shifts: int = 0
    resumed: bool = False
    requests: int = 0
    retries: int = 0
    throttled: int = 0
    received: int = 0
    duplicates: int = 0  # listed twice in this run
    known: int = 0  # already in the lake in that state
    written: int = 0  # rows written, or IDs sent
    files: int = 0


class ListBackfill:
    """Lists the job's window slice by slice into the sink, saving the checkpoint after each."""

    def __init__(
        self,
        client: CbrClient,
        job: ListJob,
        sink: LogSink,
        checkpoint: Checkpoint,
        *,
        progress: Progress | None = None,
    ) -> None:
        self.client = client
        self.job = job
        self.sink = sink
        self.checkpoint = checkpoint
        self.progress = progress or Progress("backfill", unit="slice")
        self.stats = FetchStats()
        self.list_stats = ListStats()
        self.summary = ListSummary(resumed=checkpoint.resumed)

    def run(self) -> ListSummary:
        until = self._until()
        pieces = self.job.slices(until)
        first = int(self.checkpoint.position.get("slice", 0))
        self.checkpoint.save(until=format_utc(until), slice=first)
        self.progress.add_total(len(pieces) - first)
        try:
            for index in range(first, len(pieces)):
                self._slice(pieces[index])
                self.sink.flush()  # raises SinkError: the checkpoint stays before this slice
                self.checkpoint.save(until=format_utc(until), slice=index + 1)
                self.summary.slices += 1
                self.progress.update(1, written=self.sink.totals.written)
        finally:
            self._copy_stats()
            log_drift(self.sink.totals, project_id=self.job.project_id)
        self.checkpoint.clear()
        self.progress.close(written=self.sink.totals.written, pages=self.summary.pages)
        return self.summary

    def _until(self) -> datetime:
        """The window's end: as the checkpoint resolved it, else as given, else now."""
        saved = self.checkpoint.position.get("until")
        if saved:
            return parse_utc(str(saved))
        return self.job.until or now_utc()

    def _slice(self, piece: tuple[datetime, datetime]) -> None:
        lister = Lister(
            self.client,
            self.job.project_id,
            self._take,
            Deadline.after(RUN_BUDGET_S),
            filters=self.job.filters,
            page_size=self.job.page_size,
            call_budget_s=CALL_BUDGET_S,
            fetch_stats=self.stats,
            stats=self.list_stats,
        )
        try:
            lister.list(Window.covering(*piece))
        except FetchError as exc:
            raise BackfillError(f"listing tasks from {format_utc(piece[0])} failed: {exc}") from exc

    def _take(self, page: LogPage) -> None:
        self.sink.add_logs(page.logs, self.job.project_id, page.texts)

    def _copy_stats(self) -> None:
        summary, totals, listing = self.summary, self.sink.totals, self.list_stats
        summary.pages, summary.listed = listing.pages, listing.listed
        summary.splits, summary.shifts = listing.splits, listing.shifts
        summary.requests, summary.retries = self.stats.requests, self.stats.retries
        summary.throttled = self.stats.throttled
        summary.received, summary.duplicates = totals.received, totals.duplicates
        summary.known, summary.written, summary.files = totals.known, totals.written, totals.files


@dataclass
class FileSummary:
    """What a file backfill did, line by line."""

    lines: int = 0
    invalid_lines: int = 0  # a body of no accepted shape or an ID that fails the pattern
    failed_lines: int = 0  # still failing after the retries: run again to retry them
    resumed: bool = False
    rows: int = 0  # data rows written (or IDs sent, with a queue)
    error_rows: int = 0
    duplicates: int = 0  # the same task and state named on more than one line
    known: int = 0  # already in the lake in that state
    files: int = 0
    requests: int = 0
    retries: int = 0
    throttled: int = 0
    failed: list[int] = field(default_factory=list, repr=False)


def read_lines(path: Path) -> Iterator[tuple[int, str]]:
    """(line number, body) for every non-blank line; a body is a message as the queue takes it."""
    with open(path, encoding="utf-8", errors="surrogateescape", newline="") as handle:
        for number, line in enumerate(handle, start=1):
            body = line.rstrip("\r\n")
            if body.strip():
                yield number, body


def chunks(lines: Iterable[tuple[int, str]], size: int) -> Iterator[list[tuple[int, str]]]:
    chunk: list[tuple[int, str]] = []
    for item in lines:
        chunk.append(item)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


class FileBackfill:
    """IDs from a file, in chunks of lines, fetched through the pipeline into the lake."""

    def __init__(
        self,
        path: Path,
        checkpoint: Checkpoint,
        pipeline: Pipeline,
        sink: KnownRowsFilter,
        *,
        chunk_lines: int = CHUNK_LINES,
        progress: Progress | None = None,
    ) -> None:
        self.path = path
        self.checkpoint = checkpoint
        self.pipeline = pipeline
        self.sink = sink
        self.chunk_lines = chunk_lines
        self.progress = progress or Progress("backfill", unit="line")
        self.summary = FileSummary(resumed=checkpoint.resumed)

    def run(self) -> FileSummary:
        done = int(self.checkpoint.position.get("line", 0))
        retry = {int(n) for n in self.checkpoint.position.get("failed", [])}
        lines = [item for item in read_lines(self.path) if item[0] > done or item[0] in retry]
        self.progress.add_total(len(lines))
        failed: set[int] = set()
        for chunk in chunks(lines, self.chunk_lines):
            failed |= self._fetch(chunk)
            done = max(done, chunk[-1][0])
            retry -= {n for n, _ in chunk}
            self.checkpoint.save(line=done, failed=sorted(failed | retry))
            self.progress.update(len(chunk), written=self.summary.rows)
        self.summary.failed = sorted(failed)
        self.summary.failed_lines = len(failed)
        self.summary.duplicates, self.summary.known = self.sink.duplicates, self.sink.skipped
        if not failed:
            self.checkpoint.clear()  # else it keeps the failed lines, for the next run
        self.progress.close(written=self.summary.rows, failed=len(failed))
        return self.summary

    def _fetch(self, chunk: list[tuple[int, str]]) -> set[int]:
        """Process one chunk; the numbers of the lines that failed."""
        by_id = {f"line-{n}": n for n, _ in chunk}
        messages = [Message(f"line-{n}", body, from_queue=False) for n, body in chunk]
        result = self.pipeline.process(messages, Deadline.after(CALL_BUDGET_S))
        self._count(chunk, result.counts)
        failed = {by_id[message_id] for message_id in result.failed}
        for number in sorted(failed):
            log_event(
                logging.WARNING,
                "line not written; run the backfill again to retry it",
                line=number,
                reasons=dict(result.counts.failure_reasons),
            )
        return failed

    def _count(self, chunk: list[tuple[int, str]], counts: Counts) -> None:
        summary = self.summary
        summary.lines += len(chunk)
        summary.invalid_lines += sum(bool(parse_body(body).rejects) for _, body in chunk)
        summary.rows += counts.rows
        summary.error_rows += counts.error_rows
        summary.files += counts.files
        summary.requests += counts.requests
        summary.retries += counts.retries
        summary.throttled += counts.throttled


class FileEnqueue:
    """IDs from a file sent to the queue (`--enqueue`), for the function to fetch."""

    def __init__(
        self,
        path: Path,
        checkpoint: Checkpoint,
        queue: QueueLogSink,
        *,
        default_project: str | None,
        chunk_lines: int = CHUNK_LINES,
        progress: Progress | None = None,
    ) -> None:
        self.path = path
        self.checkpoint = checkpoint
        self.queue = queue
        self.default_project = default_project
        self.chunk_lines = chunk_lines
        self.progress = progress or Progress("backfill", unit="line")
        self.summary = FileSummary(resumed=checkpoint.resumed)

    def run(self) -> FileSummary:
        done = int(self.checkpoint.position.get("line", 0))
        lines = [item for item in read_lines(self.path) if item[0] > done]
        self.progress.add_total(len(lines))
        for chunk in chunks(lines, self.chunk_lines):
            for number, body in chunk:
                self._add(number, body)
            self.queue.flush()  # raises SinkError: the checkpoint stays before this chunk
            self.checkpoint.save(line=chunk[-1][0])
            self.progress.update(len(chunk), written=self.queue.totals.written)
        self.summary.rows = self.queue.totals.written
        self.checkpoint.clear()
        self.progress.close(written=self.summary.rows, invalid=self.summary.invalid_lines)
        return self.summary

    def _add(self, number: int, body: str) -> None:
        self.summary.lines += 1
        parsed = parse_body(body)
        if parsed.rejects:
            self.summary.invalid_lines += 1
            log_event(
                logging.WARNING,
                "line not sent: not a valid message",
                line=number,
                detail=parsed.rejects[0].detail,
            )
            return
        for ref in parsed.refs:
            self.queue.add_ref(ref.operation_log_id, ref.project_id or self.default_project)
