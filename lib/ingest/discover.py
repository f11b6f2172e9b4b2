"""Discovery: the lake fills itself from ListOpLogs, project by project, behind a watermark.

One pass per project lists `watermark - lookback` up to now (from `start` when the project has no
state yet), oldest first, in slices of a day. Each slice's listed logs are written (or sent to the
queue) and only then does the watermark move to the slice's end, so it never passes a task that
is not durably stored. A pass that meets its deadline stops between requests and the next pass
continues from the watermark; a page that fails, or a window that cannot be read completely,
holds the watermark before its slice.

The state also records where the listing that reached the watermark began (`listed_from`): the
lake is complete from there to the watermark, and nowhere else on discovery's word. It never
begins earlier than the list API surely still holds tasks, and a watermark that fell behind
that (the API may have dropped tasks in between) starts a new span.

A pass holds the project's lease while it works (`lib.ingest.lease`), renewed before requests and
released however the pass ends; another pass that finds it held stands aside. Anything a pass
raises is caught here, at the project boundary: logged with the project, counted as a failure,
and the next project still runs. Tasks still `running`/`waiting` are listed again while inside
the lookback; those that leave it unfinished are handed to the follower (the queue).
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
from lib.core.runtime import Deadline, log_event, logger
from lib.core.times import format_utc, parse_utc
from lib.ingest.discover_run import LISTABLE, RETENTION, ProjectRun
from lib.ingest.follow import UNFINISHED, Follower, FollowUp
from lib.ingest.known import LakeUnreadable, LogSink, log_drift
from lib.ingest.lease import HeldProject, LeaseLost
from lib.ingest.listing import Lister, Window, WindowUnreadable
from lib.ingest.watermark import LastRun, ProjectState, Span, StateUnreadable, Watermarks

SLICE = timedelta(days=1)
MIN_SLICE_S = 1.0  # do not start a slice with less time than this left


@dataclass(frozen=True)
class DiscoverConfig:
    lookback: timedelta
    start: datetime | None = None  # where a project with no state begins; None: RETENTION ago
    page_size: int = 1000
    slice: timedelta = SLICE


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
        self.current: ProjectRun | None = None  # the pass under way (what an interrupt stopped)
        # The level of each pass's summary line; the CLI lowers it, having said it in sentences.
        self.done_level: int | None = None

    def run(self, projects: Sequence[str], deadline: Deadline) -> list[ProjectRun]:
        return [self.run_project(project, deadline) for project in projects]

    def run_project(self, project_id: str, deadline: Deadline) -> ProjectRun:
        """One pass; whatever it raises ends here as the run's outcome (an interrupt is
        recorded, the lease released, and raised on)."""
        run = self.current = ProjectRun(project_id, lag_from=self.config.start)
        started, held = self.clock(), None
        try:
            taken = HeldProject.take(self.watermarks, project_id, self.owner, self.clock)
            self._note_state(run, taken.state)
            held = taken.held
            if held is None:
                run.stopped_by = "held"
                run.held_until = taken.holder.until if taken.holder else None
            else:
                self._pass(held, run, deadline)
        except LeaseLost as exc:
            run.stopped_by, run.error, held = "held", str(exc), None
        except StateUnreadable as exc:
            run.stopped_by, run.error = "state_refused", str(exc)
        except LakeUnreadable as exc:
            run.stopped_by, run.error = "lake_unreadable", str(exc)
        except SinkError as exc:
            run.stopped_by, run.error = "write_failed", str(exc)
        except Exception as exc:  # the project boundary: the next project still runs
            run.stopped_by, run.error = "error", f"{type(exc).__name__}: {exc}"
            logger.error(
                "discovery pass failed unexpectedly",
                exc_info=True,
                extra={"fields": {"project_id": project_id}},
            )
        except BaseException:  # Ctrl-C, SIGTERM: release the lease, then stop
            run.stopped_by = "interrupted"
            raise
        finally:
            if held is not None:
                run.lease_released = self._release(held, run, started)
            self._log(run)
        return run

    def _note_state(self, run: ProjectRun, state: ProjectState) -> None:
        run.watermark_before = run.watermark_after = state.watermark
        run.listed_from = state.listed_from
        if state.watermark is None and run.lag_from is None:
            run.lag_from = state.first_attempt_at or self.clock()

    def _pass(self, held: HeldProject, run: ProjectRun, deadline: Deadline) -> None:
        config, now, state = self.config, self.clock(), held.state
        start = state.watermark - config.lookback if state.watermark else None
        start = start or config.start or now - RETENTION
        span = self._span_start(run.project_id, state, start, now)
        run.window_from, run.window_to = start, now
        sink, unfinished, stats = self.new_sink(), _Unfinished(), FetchStats()

        def emit(page: LogPage) -> None:
            unfinished.note(page.logs)
            sink.add_logs(page.logs, run.project_id, page.texts)

        lister = Lister(
            self.client,
            run.project_id,
            emit,
            deadline,
            page_size=config.page_size,
            fetch_stats=stats,
            before_page=held.renew_if_due,
        )
        try:
            for piece in _slices(start, now, config.slice):
                if not self._slice(piece, held, run, lister, sink, unfinished, span, deadline):
                    break
        finally:
            totals = sink.totals
            run.pages, run.listed = lister.stats.pages, lister.stats.listed
            run.new_rows, run.known = totals.written, totals.known
            run.duplicates, run.requests = totals.duplicates, stats.requests
            run.drift = dict(totals.drift)
            log_drift(totals, project_id=run.project_id)

    def _slice(
        self,
        piece: tuple[datetime, datetime],
        held: HeldProject,
        run: ProjectRun,
        lister: Lister,
        sink: LogSink,
        unfinished: _Unfinished,
        span: tuple[datetime, tuple[Span, ...]],
        deadline: Deadline,
    ) -> bool:
        """List, write and hand on one slice, then move the watermark to its end; False when
        the pass must stop (and why, in `run`)."""
        if deadline.remaining() < MIN_SLICE_S:
            run.stopped_by = "time"
            return False
        if not self._list(lister, Window.covering(*piece), run, deadline):
            return False
        sink.flush()
        end, (listed_from, earlier) = piece[1], span
        if not self._follow(run, unfinished.leaving(end - self.config.lookback), unfinished):
            return False
        held.change(
            replace(held.state, watermark=end, listed_from=listed_from, earlier_listed=earlier)
        )
        run.watermark_after, run.listed_from = end, listed_from
        return True

    @staticmethod
    def _span_start(
        project_id: str, state: ProjectState, start: datetime, now: datetime
    ) -> tuple[datetime, tuple[Span, ...]]:
        """Where the span this pass extends begins, and the spans listed before it. A span
        never begins before the API surely still holds every task (`LISTABLE`)."""
        edge = now - LISTABLE
        if state.watermark is not None and state.watermark < edge:
            log_event(
                logging.WARNING,
                "the watermark is older than the list API surely keeps tasks: tasks may be lost",
                project_id=project_id,
                watermark=format_utc(state.watermark),
            )
            return edge, state.listed()  # a gap: the listed spans end where the API forgot
        if state.watermark is None or state.listed_from is None:
            return max(start, edge), state.earlier_listed
        return state.listed_from, state.earlier_listed

    @staticmethod
    def _list(lister: Lister, window: Window, run: ProjectRun, deadline: Deadline) -> bool:
        """List one slice; False (and why) when it could not be listed whole."""
        try:
            lister.list(window)
        except WindowUnreadable as exc:
            run.stopped_by, run.error = "incomplete", str(exc)
            return False
        except FetchError as exc:
            run.stopped_by = "time" if deadline.remaining() < MIN_SLICE_S else "page_failed"
            run.error = str(exc)
            return False
        return True

    def _follow(self, run: ProjectRun, leaving: list[str], unfinished: _Unfinished) -> bool:
        """Hand on the unfinished tasks leaving the lookback; False when they could not be."""
        if not leaving or self.follower is None:
            return True
        follow_ups = [FollowUp(log_id, run.project_id, 1, "discover") for log_id in leaving]
        report = self.follower.send(follow_ups, [])
        if report.failed_messages:
            run.stopped_by, run.error = "follow_failed", "unfinished tasks could not be queued"
            return False
        unfinished.sent.update(leaving)
        run.followed += report.sent
        return True

    def _release(self, held: HeldProject, run: ProjectRun, started: datetime) -> bool:
        """Record how the pass ended and give the lease up; if that cannot be written, the
        lease expires by itself within minutes."""
        last = LastRun(started, self.clock(), run.stopped_by, run.error, run.listed, run.new_rows)
        try:
            return held.release(last)
        except Exception as exc:  # also at the project boundary: never lose the run's outcome
            log_event(
                logging.ERROR,
                "the lease could not be released; it expires by itself",
                project_id=run.project_id,
                until=format_utc(held.state.lease.until) if held.state.lease else None,
                error=f"{type(exc).__name__}: {exc}",
            )
            return False

    def _log(self, run: ProjectRun) -> None:
        level = logging.ERROR if run.failed else logging.INFO
        log_event(
            level if self.done_level is None else self.done_level,
            "discovery pass done",
            **run.as_dict(),
            lag_s=run.lag_s(self.clock()),
        )


def _slices(start: datetime, end: datetime, width: timedelta) -> list[tuple[datetime, datetime]]:
    """[start, end] in equal pieces of about `width`, oldest first; a window a little longer
    than `width` (a steady pass: the lookback and a few minutes) stays one piece."""
    count = max(1, round((end - start) / width))
    step = (end - start) / count
    edges = [start + step * i for i in range(count)] + [end]
    return list(itertools.pairwise(edges))
