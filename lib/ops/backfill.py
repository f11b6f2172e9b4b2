"""Backfill: put past tasks in the lake (or on the queue), resumably, without adding duplicates.

Two sources:
- a time window listed through ListOpLogs (`GET /v3/{project_id}/operation-logs`). The window is
  cut into slices (a day by default); each slice is paged by `offset` from 0 in pages of up to
  1000. The list already carries whole operation logs, so they are written as they are, not
  fetched again one by one. Order is not documented and new tasks can arrive while paging, so
  logs are deduplicated by `id`, and a slice whose pages held fewer distinct IDs than the API's
  `count` is paged once more;
- a file of IDs (one message body per line: a bare ID, an object or an array), fetched through
  the same pipeline as queue messages.

Two sinks: the lake, skipping every row whose (`id`, `updated_at`) it already holds, so running
a backfill twice adds nothing; or the queue (`--enqueue`), ten messages per SendMessageBatch.

Progress is kept in a small JSON checkpoint after every flush; an interrupted run resumes from
the last flushed page (or chunk of lines) and the checkpoint is removed when the run completes.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

import pyarrow.dataset as ds

from lib.aws.app import Root
from lib.aws.sqs import send_batches
from lib.cbr.answers import LogPage
from lib.cbr.client import CbrClient, FetchStats
from lib.core.errors import FetchError, SinkError
from lib.core.ids import ID_PATTERN, ID_RULE
from lib.core.runtime import Deadline, log_event
from lib.core.schema import DATA_TABLE, PARTITION_KEY
from lib.core.settings import CBR_ENDPOINT, CBR_PROJECT_ID, LakeLocation
from lib.core.times import format_query
from lib.ingest.flatten import flatten
from lib.ingest.messages import Message, parse_body
from lib.ingest.pipeline import Pipeline, RowSink
from lib.lake.reader import LakeNotFound, open_table
from lib.lake.writer import Lake, Row, WriteReport, data_identity, data_partition
from lib.ops.progress import Progress

MAX_PAGE_SIZE = 1000  # the API's maximum `limit`
LIST_FILTERS = ("operation_type", "status", "vault_id")
FLUSH_ROWS = 10_000  # rows buffered before a lake write (and a checkpoint)
CALL_BUDGET_S = 300.0  # one page (or chunk of IDs) with all its retries
EXTRA_PASSES = 1  # re-page a slice whose distinct IDs fell short of the API's count
SEND_ATTEMPTS = 3
CHECKPOINT_DIR = ".oplog-lake"


class BackfillError(RuntimeError):
    """The backfill stopped; progress so far is kept in the checkpoint."""


# The job


@dataclass(frozen=True)
class ListJob:
    """Which tasks to list: one project, a time window and optional filters."""

    project_id: str
    since: datetime
    until: datetime
    filters: Mapping[str, str] = field(default_factory=dict)
    page_size: int = MAX_PAGE_SIZE
    slice_width: timedelta = timedelta(days=1)

    def __post_init__(self) -> None:
        if not ID_PATTERN.fullmatch(self.project_id):
            raise ValueError(f"the project ID must be {ID_RULE}")
        if self.since >= self.until:
            raise ValueError("--since must be earlier than --until")
        if not 1 <= self.page_size <= MAX_PAGE_SIZE:
            raise ValueError(f"the page size must be from 1 to {MAX_PAGE_SIZE}")
        if self.slice_width < timedelta(minutes=1):
            raise ValueError("a slice must be at least one minute long")
        unknown = set(self.filters) - set(LIST_FILTERS)
        if unknown:
            raise ValueError(f"unknown filter {sorted(unknown)[0]!r}")

    def slices(self) -> list[tuple[datetime, datetime]]:
        """[start, end) pieces of the window, in order."""
        pieces = []
        start = self.since
        while start < self.until:
            end = min(start + self.slice_width, self.until)
            pieces.append((start, end))
            start = end
        return pieces

    def query(self, start: datetime, end: datetime) -> dict[str, str | int]:
        # end_time is sent as the slice's end itself: if the API counts it inclusively a task
        # exactly on the boundary is listed twice (and deduplicated), never missed.
        return {
            "start_time": format_query(start),
            "end_time": format_query(end),
            **self.filters,
        }

    def key(self) -> str:
        """Names the job in its checkpoint: the same command line resumes the same job."""
        return _digest(
            {
                "project": self.project_id,
                "since": self.since.isoformat(),
                "until": self.until.isoformat(),
                "filters": dict(sorted(self.filters.items())),
                "slice_s": self.slice_width.total_seconds(),
            }
        )


def _digest(document: Any) -> str:
    return hashlib.sha256(json.dumps(document, sort_keys=True).encode()).hexdigest()[:16]


# The checkpoint


@dataclass
class Checkpoint:
    """Where an interrupted backfill resumes: a JSON file replaced atomically after each flush."""

    path: Path
    job: str
    position: dict[str, int] = field(default_factory=dict)
    resumed: bool = False

    @classmethod
    def open(cls, path: Path, job: str) -> Checkpoint:
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return cls(path, job)
        except (OSError, ValueError) as exc:
            raise BackfillError(f"cannot read the checkpoint {path}: {exc}") from exc
        if document.get("job") != job:
            raise BackfillError(
                f"the checkpoint {path} belongs to another backfill; remove it or pass "
                "another --checkpoint"
            )
        return cls(path, job, dict(document.get("position", {})), resumed=True)

    def save(self, **position: int) -> None:
        self.position = position
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.path.with_name(self.path.name + ".tmp")
        document = {"job": self.job, "position": position, "saved_at": _now().isoformat()}
        temporary.write_text(json.dumps(document), encoding="utf-8")
        os.replace(temporary, self.path)

    def clear(self) -> None:
        self.path.unlink(missing_ok=True)


def default_checkpoint(job_key: str) -> Path:
    return Path(CHECKPOINT_DIR) / f"backfill-{job_key}.json"


def _now() -> datetime:
    return datetime.now(UTC)


# Sinks


class Sink(Protocol):
    """Where backfilled tasks go; nothing is durable before `flush` returns."""

    pending: int
    totals: SinkTotals

    def add_logs(self, logs: Sequence[dict[str, Any]], project_id: str) -> int: ...

    def flush(self) -> None: ...


class KnownRows:
    """The (id, updated_at) identities the lake already holds, read once per partition."""

    def __init__(self, lake: LakeLocation) -> None:
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
        table = self._dataset.to_table(
            columns=["id", "updated_at"], filter=ds.field(PARTITION_KEY) == day
        )
        return {data_identity(row) for row in table.to_pylist()}


@dataclass
class SinkTotals:
    received: int = 0
    duplicates: int = 0  # listed twice in this run
    known: int = 0  # already in the lake
    written: int = 0  # rows written, or IDs sent
    files: int = 0


class LakeSink:
    """Flattens listed logs and writes the ones the lake does not hold yet."""

    def __init__(self, lake: Lake, known: KnownRows, *, clock: Callable[[], datetime] = _now):
        self.lake = lake
        self.known = known
        self.clock = clock
        self.totals = SinkTotals()
        self._seen: set[str] = set()
        self._rows: list[Row] = []

    @property
    def pending(self) -> int:
        return len(self._rows)

    def add_logs(self, logs: Sequence[dict[str, Any]], project_id: str) -> int:
        """Buffer the new ones; returns how many were new to this run."""
        now = self.clock()
        fresh = 0
        for log in logs:
            self.totals.received += 1
            row, _ = flatten(log, ingested_at=now, source_message_id=None)
            identity = data_identity(row)
            if identity in self._seen:
                self.totals.duplicates += 1
                continue
            self._seen.add(identity)
            fresh += 1
            if self.known.contains(row):
                self.totals.known += 1
                continue
            self._rows.append(row)
        return fresh

    def flush(self) -> None:
        if not self._rows:
            return
        report: WriteReport = self.lake.write(self._rows, [])  # raises SinkError
        for row in self._rows:
            self.known.add(row)
        self.totals.written += report.data_rows
        self.totals.files += len(report.keys)
        self._rows = []


class QueueSink:
    """Sends `{"operation_log_id", "project_id"}` messages, ten per SendMessageBatch."""

    def __init__(self, sqs: Any, queue_url: str, known: KnownRows | None = None) -> None:
        self.sqs = sqs
        self.queue_url = queue_url
        self.known = known
        self.totals = SinkTotals()
        self._seen: set[tuple[str, str]] = set()
        self._bodies: list[str] = []

    @property
    def pending(self) -> int:
        return len(self._bodies)

    def add_logs(self, logs: Sequence[dict[str, Any]], project_id: str) -> int:
        now = _now()
        fresh = 0
        for log in logs:
            self.totals.received += 1
            log_id = log.get("id")
            if not isinstance(log_id, str) or not ID_PATTERN.fullmatch(log_id):
                log_event(logging.WARNING, "listed log without a usable id skipped", id=log_id)
                continue
            if (log_id, project_id) in self._seen:
                self.totals.duplicates += 1
                continue
            self._seen.add((log_id, project_id))
            fresh += 1
            if self.known is not None:
                row, _ = flatten(log, ingested_at=now, source_message_id=None)
                if self.known.contains(row):
                    self.totals.known += 1
                    continue
            self.add_ref(log_id, project_id)
        return fresh

    def add_ref(self, log_id: str, project_id: str | None) -> None:
        body: dict[str, str] = {"operation_log_id": log_id}
        if project_id:
            body["project_id"] = project_id
        self._bodies.append(json.dumps(body))

    def flush(self) -> None:
        """Send what is buffered; entries the queue turned away for a while are sent again."""
        entries = [{"MessageBody": body} for body in self._bodies]
        for _ in range(SEND_ATTEMPTS):
            not_sent = send_batches(self.sqs, self.queue_url, entries)
            if not not_sent:
                break
            refused = [n for n in not_sent if n.sender_fault]
            if refused:
                raise BackfillError(f"the queue refused a message: {refused[0].detail}")
            entries = [entries[n.index] for n in not_sent]
        else:
            raise BackfillError(
                f"{len(entries)} messages not sent to {self.queue_url} after {SEND_ATTEMPTS} "
                f"tries: {not_sent[0].detail}"
            )
        self.totals.written += len(self._bodies)
        self._bodies = []


# Listing


@dataclass
class RunSummary:
    """What a backfill did; printed as JSON at the end."""

    pages: int = 0
    listed: int = 0
    slices: int = 0
    extra_passes: int = 0
    resumed: bool = False
    requests: int = 0
    retries: int = 0
    throttled: int = 0
    failed_lines: list[int] = field(default_factory=list)
    invalid_lines: list[int] = field(default_factory=list)

    def as_dict(self, totals: SinkTotals) -> dict[str, Any]:
        return {
            **{k: v for k, v in self.__dict__.items() if not k.endswith("_lines")},
            "failed_lines": len(self.failed_lines),
            "invalid_lines": len(self.invalid_lines),
            **totals.__dict__,
        }


class ListBackfill:
    """Pages through ListOpLogs slice by slice, flushing the sink and saving the checkpoint."""

    def __init__(
        self,
        client: CbrClient,
        job: ListJob,
        sink: Sink,
        checkpoint: Checkpoint,
        *,
        flush_rows: int = FLUSH_ROWS,
        progress: Progress | None = None,
    ) -> None:
        self.client = client
        self.job = job
        self.sink = sink
        self.checkpoint = checkpoint
        self.flush_rows = flush_rows
        self.progress = progress or Progress("backfill")
        self.stats = FetchStats()
        self.summary = RunSummary(resumed=checkpoint.resumed)

    def run(self) -> RunSummary:
        pieces = self.job.slices()
        first = self.checkpoint.position.get("slice", 0)
        offset = self.checkpoint.position.get("offset", 0)
        counts = {i: self._count(pieces[i]) for i in range(first, len(pieces))}
        self.progress.add_total(sum(counts.values()) - offset)
        for index in range(first, len(pieces)):
            if counts[index]:
                self._slice(index, pieces[index], offset if index == first else 0)
            self.summary.slices += 1
            self._flush(index + 1, 0)
        self.checkpoint.clear()
        self._copy_stats()
        self.progress.close(written=self.sink.totals.written, pages=self.summary.pages)
        return self.summary

    def _count(self, piece: tuple[datetime, datetime]) -> int:
        """How many tasks the slice holds (a one-task page): for the ETA, and to skip empty
        slices. An API that gives no count is paged anyway."""
        page = self._page(piece, 0, 1, probe=True)
        return page.count if page.count is not None else 1

    def _slice(self, index: int, piece: tuple[datetime, datetime], offset: int) -> None:
        distinct: set[str] = set()
        resumed_mid_slice = offset > 0
        count = 0
        for extra in range(EXTRA_PASSES + 1):
            while True:
                page = self._page(piece, offset, self.job.page_size)
                if not page.logs:
                    break
                count = page.count if page.count is not None else count
                distinct.update(str(log.get("id")) for log in page.logs)
                fresh = self.sink.add_logs(page.logs, self.job.project_id)
                self.progress.update(fresh, written=self.sink.totals.written)
                offset += len(page.logs)
                if self.sink.pending >= self.flush_rows:
                    self._flush(index, offset)
            # Pages that shifted while we read them can hide a task; the count tells.
            short = count - len(distinct)
            if short <= 0 or resumed_mid_slice or extra == EXTRA_PASSES:
                if short > 0 and not resumed_mid_slice:
                    log_event(
                        logging.WARNING,
                        "a slice listed fewer distinct tasks than the API counts",
                        start=piece[0].isoformat(),
                        missing=short,
                    )
                return
            self.summary.extra_passes += 1
            offset = 0

    def _page(
        self, piece: tuple[datetime, datetime], offset: int, limit: int, *, probe: bool = False
    ) -> LogPage:
        query = {**self.job.query(*piece), "limit": limit, "offset": offset}
        try:
            page = self.client.list_page(
                self.job.project_id, query, Deadline.after(CALL_BUDGET_S), self.stats
            )
        except FetchError as exc:
            self._copy_stats()
            raise BackfillError(
                f"listing tasks from {query['start_time']} at offset {offset} failed: {exc}"
            ) from exc
        if not probe:
            self.summary.pages += 1
            self.summary.listed += len(page.logs)
        return page

    def _flush(self, slice_index: int, offset: int) -> None:
        self.sink.flush()
        self.checkpoint.save(slice=slice_index, offset=offset)

    def _copy_stats(self) -> None:
        self.summary.requests = self.stats.requests
        self.summary.retries = self.stats.retries
        self.summary.throttled = self.stats.throttled


# A file of IDs


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


@dataclass
class KnownRowsFilter:
    """A row sink in front of the lake that leaves out data rows it already holds (same id and
    updated_at)."""

    lake: RowSink
    known: KnownRows

    def write(self, data_rows: list[Row], error_rows: list[Row]) -> WriteReport:
        new = [row for row in data_rows if not self.known.contains(row)]
        report = self.lake.write(new, error_rows)
        for row in new:
            self.known.add(row)
        return report


class FileBackfill:
    """IDs from a file, in chunks of lines: fetched into the lake, or sent to the queue."""

    def __init__(
        self,
        path: Path,
        checkpoint: Checkpoint,
        *,
        pipeline: Pipeline | None = None,
        queue: QueueSink | None = None,
        chunk_lines: int = 1000,
        default_project: str | None = None,
        progress: Progress | None = None,
    ) -> None:
        if (pipeline is None) == (queue is None):
            raise ValueError("a file backfill needs exactly one of a pipeline or a queue")
        self.path = path
        self.checkpoint = checkpoint
        self.pipeline = pipeline
        self.queue = queue
        self.chunk_lines = chunk_lines
        self.default_project = default_project
        self.progress = progress or Progress("backfill", unit="line")
        self.summary = RunSummary(resumed=checkpoint.resumed)
        self.totals = SinkTotals()

    def run(self) -> RunSummary:
        done = self.checkpoint.position.get("line", 0)
        lines = [item for item in read_lines(self.path) if item[0] > done]
        self.progress.add_total(len(lines))
        for chunk in chunks(lines, self.chunk_lines):
            if self.pipeline is not None:
                self._fetch(chunk, self.pipeline)
            else:
                self._send(chunk)
            self.checkpoint.save(line=chunk[-1][0])
            self.progress.update(len(chunk), written=self.totals.written)
        self.checkpoint.clear()
        self.progress.close(written=self.totals.written, failed=len(self.summary.failed_lines))
        return self.summary

    def _fetch(self, chunk: list[tuple[int, str]], pipeline: Pipeline) -> None:
        messages = {f"line-{n}": n for n, _ in chunk}
        result = pipeline.process(
            [Message(f"line-{n}", body, from_queue=False) for n, body in chunk],
            Deadline.after(CALL_BUDGET_S),
        )
        counts = result.counts
        self.summary.failed_lines.extend(sorted(messages[m] for m in result.failed))
        self.summary.listed += counts.ids
        self.summary.requests += counts.requests
        self.summary.retries += counts.retries
        self.summary.throttled += counts.throttled
        self.totals.received += counts.ids
        self.totals.written += counts.rows + counts.error_rows
        self.totals.files += counts.files
        for message_id in result.failed:
            log_event(
                logging.WARNING,
                "line not written; run the backfill again to retry it",
                line=message_id,
                reasons=dict(counts.failure_reasons),
            )

    def _send(self, chunk: list[tuple[int, str]]) -> None:
        assert self.queue is not None
        for number, body in chunk:
            parsed = parse_body(body)
            if parsed.rejects:
                self.summary.invalid_lines.append(number)
                log_event(
                    logging.WARNING,
                    "line not sent: not a valid message",
                    line=number,
                    detail=parsed.rejects[0].detail,
                )
                continue
            for ref in parsed.refs:
                self.queue.add_ref(ref.operation_log_id, ref.project_id or self.default_project)
                self.summary.listed += 1
        self.queue.flush()
        self.totals.written = self.queue.totals.written


# The command


@dataclass(frozen=True)
class Options:
    """`python -m lib backfill` as data."""

    ids_file: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    project_id: str | None = None
    filters: Mapping[str, str] = field(default_factory=dict)
    queue_url: str | None = None
    page_size: int = MAX_PAGE_SIZE
    slice_width: timedelta = timedelta(days=1)
    flush_rows: int = FLUSH_ROWS
    checkpoint: str | None = None


def run(options: Options, root: Root) -> dict[str, Any]:
    """Run a backfill with the objects `root` builds; the summary, or BackfillError."""
    settings = root.settings
    project = options.project_id or settings.project_id
    known = KnownRows(settings.lake)
    queue = (
        QueueSink(root.aws_client("sqs"), options.queue_url, known) if options.queue_url else None
    )
    try:
        if options.ids_file is not None:
            return _file_backfill(options, root, known, queue, project)
        if settings.replay_dir is not None:
            raise ValueError(f"backfill --since lists tasks from the API: set {CBR_ENDPOINT}")
        if project is None:
            raise ValueError(f"name the project: --project or {CBR_PROJECT_ID}")
        job = ListJob(
            project,
            options.since or _now(),
            options.until or _now(),
            options.filters,
            page_size=options.page_size,
            slice_width=options.slice_width,
        )
        sink: LakeSink | QueueSink = queue or LakeSink(root.lake, known)
        lister = ListBackfill(
            root.client,
            job,
            sink,
            Checkpoint.open(_checkpoint_path(options, job.key()), job.key()),
            flush_rows=options.flush_rows,
        )
        return lister.run().as_dict(sink.totals)
    except SinkError as exc:
        raise BackfillError(str(exc)) from exc


def _file_backfill(
    options: Options, root: Root, known: KnownRows, queue: QueueSink | None, project: str | None
) -> dict[str, Any]:
    assert options.ids_file is not None
    path = Path(options.ids_file)
    if not path.is_file():
        raise ValueError(f"no such file: {path}")
    key = _digest({"ids_file": str(path.resolve()), "queue": options.queue_url})
    pipeline = None if queue else root.pipeline(KnownRowsFilter(root.lake, known), follow=False)
    runner = FileBackfill(
        path,
        Checkpoint.open(_checkpoint_path(options, key), key),
        pipeline=pipeline,
        queue=queue,
        default_project=project,
        progress=Progress("backfill", unit="line"),
    )
    return runner.run().as_dict(runner.totals)


def _checkpoint_path(options: Options, job_key: str) -> Path:
    return Path(options.checkpoint) if options.checkpoint else default_checkpoint(job_key)
