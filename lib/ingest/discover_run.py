"""What one discovery pass did for one project, and an invocation's summary for the metrics."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from lib.core.times import format_utc

RETENTION = timedelta(days=30)  # about how long the list API keeps tasks
LISTABLE = timedelta(days=29)  # how far back the list API surely still holds every task

NORMAL = ("done", "time", "held")
# Why a pass failed: a page, a window read incompletely, the lake (a write, a file that cannot be
# read), the follow-up queue, a state file refused, anything unexpected, or a stop by the operator
# (Ctrl-C, SIGTERM).
FAILED = (
    "page_failed",
    "incomplete",
    "write_failed",
    "lake_unreadable",
    "follow_failed",
    "state_refused",
    "error",
    "interrupted",
)


@dataclass
class ProjectRun:
    """What one pass did for one project."""

    project_id: str
    window_from: datetime | None = None
    window_to: datetime | None = None
    pages: int = 0
    listed: int = 0  # logs received (a task on the boundary of two pieces counts twice)
    new_rows: int = 0  # rows written, or IDs sent in queue mode
    known: int = 0  # listed tasks the lake already held in that state
    duplicates: int = 0  # listed twice in this pass (a boundary second shared by two pieces)
    watermark_before: datetime | None = None
    watermark_after: datetime | None = None
    listed_from: datetime | None = None  # where the listed span that ends at the watermark begins
    followed: int = 0  # unfinished tasks handed to the follow-up queue
    stopped_by: str = "done"  # one of NORMAL or FAILED
    error: str | None = None
    requests: int = 0
    held_until: datetime | None = None  # the lease of the pass this one stood aside for
    lag_from: datetime | None = None  # what the lag counts from while there is no watermark
    lease_released: bool = False
    drift: dict[str, int] = field(default_factory=dict)  # unknown fields met, by path

    @property
    def failed(self) -> bool:
        return self.stopped_by in FAILED

    def lag_s(self, now: datetime) -> float | None:
        """How far behind now the lake is complete: from the watermark, or while there is none,
        from DISCOVER_START or the project's first attempt (a project that never succeeds
        lags more and more)."""
        since = self.watermark_after or self.lag_from
        return None if since is None else max(0.0, (now - since).total_seconds())

    def as_dict(self) -> dict[str, Any]:
        return {
            key: format_utc(value) if isinstance(value, datetime) else value
            for key, value in self.__dict__.items()
        }


def summarize(runs: Sequence[ProjectRun], now: datetime) -> dict[str, Any]:
    """A discovery invocation's result: each project's pass, and the figures metrics need."""
    lags = [lag for run in runs if (lag := run.lag_s(now)) is not None]

    def ended(*outcomes: str) -> int:
        return sum(run.stopped_by in outcomes for run in runs)

    return {
        "projects": [run.as_dict() for run in runs],
        "discovered": sum(run.new_rows for run in runs),
        "discovery_lag_s": round(max(lags), 1) if lags else None,
        "discovery_gaps": sum(
            run.watermark_before is not None and run.watermark_before < now - LISTABLE
            for run in runs
        ),
        "discovery_failures": sum(run.failed for run in runs),
        "discovery_held": ended("held"),
        "discovery_page_failed": ended("page_failed"),
        "discovery_incomplete": ended("incomplete"),
        "discovery_write_failed": ended("write_failed", "lake_unreadable", "state_refused"),
        "discovery_follow_failed": ended("follow_failed"),
    }
