"""Discovery: the lake fills itself from ListOpLogs, project by project, behind a watermark.

One pass per project lists `watermark - lookback` up to now (from `start` when the project has no
state yet), oldest first, in slices of a day. Each slice's listed logs are written (or sent to the
queue) and only then does the watermark move to the slice's end, so it never passes a task that
is not durably stored. A pass that meets its deadline stops between requests and the next pass
continues from the watermark; a page that fails holds the watermark before its slice.

A pass holds a lease in the project's state while it works; another pass that finds the lease
held stands aside. Tasks still `running`/`waiting` are listed again while inside the lookback;
those that leave it unfinished are handed to the follower (the queue), so their final state is
fetched later.
"""

from __future__ import annotations

import itertools
import logging
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from lib.cbr.answers import LogPage
from lib.cbr.client import CbrClient, FetchStats
from lib.core.errors import FetchError, SinkError
from lib.core.runtime import Deadline, log_event
from lib.core.times import format_utc, parse_utc
from lib.ingest.follow import UNFINISHED, Follower, FollowUp
from lib.ingest.known import LogSink
from lib.ingest.listing import Lister, Window
from lib.ingest.watermark import Lease, ProjectState, Watermarks

RETENTION = timedelta(days=30)  # how long the list API keeps tasks
SLICE = timedelta(days=1)
MIN_SLICE_S = 1.0  # do not start a slice with less time than this left
LEASE_MARGIN = timedelta(minutes=2)  # a crashed pass's lease expires this long after its deadline


@dataclass(frozen=True)
class DiscoverConfig:
    lookback: timedelta
    start: datetime | None = None  # where a project with no state begins; None: RETENTION ago
    page_size: int = 1000
    slice: timedelta = SLICE


@dataclass
class ProjectRun:
    """What one pass did for one project."""

    project_id: str
    window_from: datetime | None = None
    window_to: datetime | None = None
    pages: int = 0
    listed: int = 0
    new_rows: int = 0  # rows written, or IDs sent in queue mode
    known: int = 0  # listed tasks the lake already held in that state
    watermark_before: datetime | None = None
    watermark_after: datetime | None = None
    followed: int = 0  # unfinished tasks handed to the follow-up queue
    stopped_by: str = "done"  # done, time, held, page_failed, write_failed, follow_failed
    error: str | None = None
    requests: int = 0

    @property
    def failed(self) -> bool:
        return self.stopped_by in ("page_failed", "write_failed", "follow_failed")

    def lag_s(self, now: datetime) -> float | None:
        return (
            None if self.watermark_after is None else (now - self.watermark_after).total_seconds()
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            key: format_utc(value) if isinstance(value, datetime) else value
            for key, value in self.__dict__.items()
        }


@dataclass
class _Unfinished:
    """Tasks listed in this pass whose latest listed state is unfinished, with their creation."""

    tasks: dict[str, datetime] = field(default_factory=dict)
    sent: set[str] = field(default_factory=set)

    def note(self, logs: Sequence[dict[str, Any]]) -> None:
        for log in logs:
            log_id, created = str(log.get("id")), _created(log)
            if log.get("status") in UNFINISHED and created is not None:
                self.tasks[log_id] = created
            else:
                self.tasks.pop(log_id, None)

    def leaving(self, before: datetime) -> list[str]:
        """Unfinished tasks created before `before` (they fall out of the next lookback)."""
        return sorted(i for i, c in self.tasks.items() if c < before and i not in self.sent)


def _created(log: dict[str, Any]) -> datetime | None:
    for name in ("created_at", "started_at"):
        value = log.get(name)
        if isinstance(value, str) and value:
            try:
                return parse_utc(value)
            except ValueError:
                continue
    return None


class Discovery:
    def __init__(
        self,
        client: CbrClient,
        watermarks: Watermarks,
        new_sink: Callable[[], LogSink],
        config: DiscoverConfig,
        *,
        follower: Follower | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.client = client
        self.watermarks = watermarks
        self.new_sink = new_sink
        self.config = config
        self.follower = follower
        self.clock = clock
        self.owner = uuid.uuid4().hex

    def run(self, projects: Sequence[str], deadline: Deadline) -> list[ProjectRun]:
        return [self.run_project(project, deadline) for project in projects]

    def run_project(self, project_id: str, deadline: Deadline) -> ProjectRun:
        run = ProjectRun(project_id)
        try:
            state = self._take_lease(project_id, run, deadline)
            if state is not None:
                self._pass(project_id, state, run, deadline)
        except SinkError as exc:
            run.stopped_by, run.error = "write_failed", str(exc)
        log_event(
            logging.ERROR if run.failed else logging.INFO,
            "discovery pass done",
            **run.as_dict(),
            lag_s=run.lag_s(self.clock()),
        )
        return run

    def _take_lease(
        self, project_id: str, run: ProjectRun, deadline: Deadline
    ) -> ProjectState | None:
        """The project's state with this pass's lease on it, or None if another pass holds it."""
        now = self.clock()
        state = self.watermarks.read(project_id)
        run.watermark_before = run.watermark_after = state.watermark
        if state.held_by_other(self.owner, now):
            run.stopped_by = "held"
            return None
        until = now + timedelta(seconds=deadline.remaining()) + LEASE_MARGIN
        taken = self.watermarks.swap(
            project_id, state, replace(state, lease=Lease(self.owner, until)), now
        )
        if taken is None:  # another pass took it between our read and our write
            run.stopped_by = "held"
        return taken

    def _pass(
        self, project_id: str, state: ProjectState, run: ProjectRun, deadline: Deadline
    ) -> None:
        config, now = self.config, self.clock()
        first = config.start or now - RETENTION
        start = state.watermark - config.lookback if state.watermark else first
        if state.watermark is not None and state.watermark < now - RETENTION:
            log_event(
                logging.WARNING,
                "the watermark is older than the list API keeps tasks: tasks may be lost",
                project_id=project_id,
                watermark=format_utc(state.watermark),
            )
        run.window_from, run.window_to = start, now
        sink, unfinished, stats = self.new_sink(), _Unfinished(), FetchStats()

        def emit(page: LogPage) -> None:
            unfinished.note(page.logs)
            sink.add_logs(page.logs, project_id, page.texts)

        lister = Lister(
            self.client, project_id, emit, deadline, page_size=config.page_size, fetch_stats=stats
        )
        holding = True  # the lease: lost when another pass took the project over
        try:
            for slice_start, slice_end in _slices(start, now, config.slice):
                if deadline.remaining() < MIN_SLICE_S:
                    run.stopped_by = "time"
                    break
                if not self._list(lister, Window.covering(slice_start, slice_end), run, deadline):
                    break
                sink.flush()
                moved = self._commit(project_id, state, slice_end, unfinished, run)
                if moved is None:
                    holding = run.stopped_by != "held"
                    break
                state = moved
        finally:
            run.pages, run.listed = lister.stats.pages, lister.stats.listed
            run.requests, run.new_rows, run.known = stats.requests, *_written(sink)
        if holding:
            self.watermarks.swap(project_id, state, replace(state, lease=None), self.clock())

    @staticmethod
    def _list(lister: Lister, window: Window, run: ProjectRun, deadline: Deadline) -> bool:
        """List one slice; False (and why) when it could not be listed whole."""
        try:
            lister.list(window)
        except FetchError as exc:
            run.stopped_by = "time" if deadline.remaining() < MIN_SLICE_S else "page_failed"
            run.error = str(exc)
            return False
        return True

    def _commit(
        self,
        project_id: str,
        state: ProjectState,
        watermark: datetime,
        unfinished: _Unfinished,
        run: ProjectRun,
    ) -> ProjectState | None:
        """Hand on the tasks leaving the lookback, then move the watermark; the new state, or
        None when the pass must stop."""
        if not self._follow(
            project_id, unfinished.leaving(watermark - self.config.lookback), unfinished, run
        ):
            return None
        moved = self.watermarks.swap(
            project_id, state, replace(state, watermark=watermark), self.clock()
        )
        if moved is None:
            run.stopped_by = "held"  # the lease ran out and another pass took over
            return None
        run.watermark_after = moved.watermark
        return moved

    def _follow(
        self, project_id: str, leaving: list[str], unfinished: _Unfinished, run: ProjectRun
    ) -> bool:
        if not leaving or self.follower is None:
            return True
        follow_ups = [FollowUp(log_id, project_id, 1, "discover") for log_id in leaving]
        report = self.follower.send(follow_ups, [])
        if report.failed_messages:
            run.stopped_by, run.error = "follow_failed", "unfinished tasks could not be queued"
            return False
        unfinished.sent.update(leaving)
        run.followed += report.sent
        return True


def _written(sink: LogSink) -> tuple[int, int]:
    return sink.totals.written, sink.totals.known


def _slices(start: datetime, end: datetime, width: timedelta) -> list[tuple[datetime, datetime]]:
    """[start, end] in equal pieces of about `width`, oldest first; a window a little longer
    than `width` (a steady pass: the lookback and a few minutes) stays one piece."""
    count = max(1, round((end - start) / width))
    step = (end - start) / count
    edges = [start + step * i for i in range(count)] + [end]
    return list(itertools.pairwise(edges))


def summarize(runs: Sequence[ProjectRun], now: datetime) -> dict[str, Any]:
    """A discovery invocation's result: each project's pass, and the figures metrics need."""
    lags = [lag for run in runs if (lag := run.lag_s(now)) is not None]
    return {
        "projects": [run.as_dict() for run in runs],
        "discovered": sum(run.new_rows for run in runs),
        "discovery_lag_s": round(max(lags), 1) if lags else None,
        "discovery_gaps": sum(
            run.watermark_before is not None and run.watermark_before < now - RETENTION
            for run in runs
        ),
        "discovery_failures": sum(run.failed for run in runs),
    }
