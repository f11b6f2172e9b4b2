"""`python -m lib backfill` as data: the options, and the run that assembles the parts."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from lib.aws.app import Root
from lib.aws.sqs import QueueLogSink
from lib.core.errors import SinkError
from lib.core.settings import CBR_ENDPOINT, CBR_PROJECT_ID
from lib.ingest.known import KnownRows, KnownRowsFilter, LakeLogSink
from lib.ingest.listing import MAX_PAGE_SIZE
from lib.ops.backfill.checkpoint import BackfillError, Checkpoint, default_checkpoint
from lib.ops.backfill.job import ListJob, digest
from lib.ops.backfill.runners import FileBackfill, FileEnqueue, ListBackfill
from lib.ops.progress import Progress

FLUSH_ROWS = 10_000


@dataclass(frozen=True)
class Options:
    """What the operator asked for; the lake and the API come from the settings."""

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
    """Run a backfill with the objects `root` builds: its summary, or BackfillError (progress
    kept) or ValueError (the options cannot work)."""
    known = KnownRows(root.store)
    try:
        if options.ids_file is not None:
            return _from_file(options, root, known)
        return _from_list(options, root, known)
    except SinkError as exc:
        raise BackfillError(str(exc)) from exc


def _from_list(options: Options, root: Root, known: KnownRows) -> dict[str, Any]:
    settings = root.settings
    project = options.project_id or settings.project_id
    if settings.replay_dir is not None:
        raise ValueError(f"backfill --since lists tasks from the API: set {CBR_ENDPOINT}")
    if project is None:
        raise ValueError(f"name the project: --project or {CBR_PROJECT_ID}")
    if options.since is None:
        raise ValueError("a list backfill needs the start of its window")
    job = ListJob(
        project,
        options.since,
        options.until,
        options.filters,
        page_size=options.page_size,
        slice_width=options.slice_width,
    )
    sink: LakeLogSink | QueueLogSink
    if options.queue_url is not None:
        sink = QueueLogSink(root.aws_client("sqs"), options.queue_url, known)
    else:
        sink = LakeLogSink(root.lake, known, flush_rows=options.flush_rows, scrub=root.scrub)
    checkpoint = Checkpoint.open(_checkpoint_path(options, job.key()), job.key())
    return asdict(ListBackfill(root.client, job, sink, checkpoint).run())


def _from_file(options: Options, root: Root, known: KnownRows) -> dict[str, Any]:
    assert options.ids_file is not None
    path = Path(options.ids_file)
    if not path.is_file():
        raise ValueError(f"no such file: {path}")
    key = digest({"ids_file": str(path.resolve()), "queue": options.queue_url})
    checkpoint = Checkpoint.open(_checkpoint_path(options, key), key)
    progress = Progress("backfill", unit="line")
    if options.queue_url is not None:
        queue = QueueLogSink(root.aws_client("sqs"), options.queue_url, known)
        project = options.project_id or root.settings.project_id
        runner: FileBackfill | FileEnqueue = FileEnqueue(
            path, checkpoint, queue, default_project=project, progress=progress
        )
    else:
        sink = KnownRowsFilter(root.lake, known)
        pipeline = root.pipeline(sink, follow=False)
        runner = FileBackfill(path, checkpoint, pipeline, sink, progress=progress)
    return asdict(runner.run())


def _checkpoint_path(options: Options, job_key: str) -> Path:
    return Path(options.checkpoint) if options.checkpoint else default_checkpoint(job_key)
