"""List every task of a time window through ListOpLogs, without missing any when pages shift.

The API documents neither the order of its results nor whether paging is stable, and tasks keep
arriving (and, under a status filter, leaving) while a window is read. So:

- a window whose tasks fit one page is read in one request: a single answer cannot shift;
- a larger window is read page by page with pages that overlap by a few tasks, and every
  overlap must repeat exactly what the page before ended with. If it does not (tasks arrived or
  left, or the order is not stable), the window is cut in time into pieces that each fit a page,
  and those are read instead, each in one request (recursively, down to one second). Under a
  status or other filter, where a task leaving and another arriving can cancel out, the window
  goes straight to pieces;
- a single second holding more tasks than a page is paged until a whole pass adds nothing new.

Pieces share their boundary second (the API takes whole seconds), so a task on a boundary is
listed twice, never missed; the sink deduplicates. Every listed log is handed to `emit` as soon
as its page arrives, so memory stays bounded by one page.
"""

from __future__ import annotations

import itertools
import logging
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from lib.cbr.answers import LogPage
from lib.cbr.client import CbrClient, FetchStats
from lib.core.runtime import Deadline, log_event
from lib.core.times import format_query

MAX_PAGE_SIZE = 1000  # the API's largest `limit`
OVERLAP = 50  # tasks each page repeats of the one before (at most 5 % of a page), to detect shifts
FILL = 0.8  # aim pieces at this share of a page, so uneven pieces still fit
MAX_SECOND_PASSES = 3
LIST_FILTERS = ("operation_type", "status", "vault_id")
SECOND = timedelta(seconds=1)

Log = dict[str, Any]
Emit = Callable[[LogPage], None]  # each page: its logs, and their original texts when cut


@dataclass(frozen=True)
class Window:
    """Tasks created from `start` to `end`, both whole seconds, both included in the query."""

    start: datetime
    end: datetime

    @classmethod
    def covering(cls, start: datetime, end: datetime) -> Window:
        """The whole-second window that contains [start, end]."""
        floor = start.replace(microsecond=0)
        ceiling = end.replace(microsecond=0) + (SECOND if end.microsecond else timedelta(0))
        return cls(floor, max(ceiling, floor))

    @property
    def seconds(self) -> int:
        return int((self.end - self.start).total_seconds())

    def split(self, parts: int) -> list[Window]:
        """`parts` pieces (fewer if the window is short) that share their boundary seconds."""
        parts = max(1, min(parts, self.seconds))
        edges = [self.start + SECOND * round(self.seconds * i / parts) for i in range(parts + 1)]
        return [Window(a, b) for a, b in itertools.pairwise(edges) if a < b]

    def query(self) -> dict[str, str]:
        return {"start_time": format_query(self.start), "end_time": format_query(self.end)}


@dataclass
class ListStats:
    """What listing cost: requests answered, logs received, windows cut, shifts seen."""

    pages: int = 0
    listed: int = 0
    splits: int = 0
    shifts: int = 0


@dataclass
class Lister:
    """Lists windows of one project's tasks, handing each page to `emit`."""

    client: CbrClient
    project_id: str
    emit: Emit
    deadline: Deadline
    filters: Mapping[str, str] = field(default_factory=dict)
    page_size: int = MAX_PAGE_SIZE
    call_budget_s: float | None = None  # one request with its retries, within the deadline
    fetch_stats: FetchStats = field(default_factory=FetchStats)
    stats: ListStats = field(default_factory=ListStats)

    def __post_init__(self) -> None:
        if not 1 <= self.page_size <= MAX_PAGE_SIZE:
            raise ValueError(f"the page size must be from 1 to {MAX_PAGE_SIZE}")
        unknown = set(self.filters) - set(LIST_FILTERS)
        if unknown:
            raise ValueError(f"unknown filter {sorted(unknown)[0]!r}")

    def list(self, window: Window) -> None:
        """Every task of the window, or the FetchError of a page that could not be read."""
        first = self._page(window, 0)
        if self._complete(first):
            return
        # Under a filter, a task can leave it while one arrives, and the two shifts cancel out
        # where an overlap looks; only pieces read in one request each are safe then.
        if not self.filters and self._overlapping_pages(window, first):
            return
        self._pieces(window, first.count)

    def _complete(self, page: LogPage) -> bool:
        """The whole window was in this one answer: it did not fill the page. (A full page is
        never taken as the end, whatever `count` says: an API that counted the page instead of
        the query would otherwise end every window after one page.)"""
        return len(page.logs) < self.page_size

    def _overlapping_pages(self, window: Window, first: LogPage) -> bool:
        """Read on with overlapping pages; False (stop) at the first sign of a shift."""
        overlap = max(1, min(OVERLAP, self.page_size // 20)) if self.page_size > 1 else 0
        step = self.page_size - overlap
        previous, offset = first, step
        while True:
            page = self._page(window, offset)
            expected = [_identity(log) for log in previous.logs[step:]]
            if [_identity(log) for log in page.logs[: len(expected)]] != expected:
                self.stats.shifts += 1
                log_event(logging.INFO, "list pages shifted; reading the window in pieces")
                return False
            if len(page.logs) < self.page_size:
                return True
            previous, offset = page, offset + step

    def _pieces(self, window: Window, count: int | None) -> None:
        """Cut the window in time so each piece fits a page, and read each in one request."""
        if window.seconds == 0:
            self._one_crowded_second(window)
            return
        expected = count if count is not None else 2 * self.page_size
        parts = max(2, math.ceil(expected / (self.page_size * FILL)))
        self.stats.splits += 1
        for piece in window.split(parts):
            page = self._page(piece, 0)
            if not self._complete(page):
                self._pieces(piece, page.count)

    def _one_crowded_second(self, window: Window) -> None:
        """More tasks in one second than a page holds: page it until a pass adds nothing."""
        log_event(
            logging.WARNING,
            "one second holds more tasks than a page; paging it until nothing new appears",
            start=format_query(window.start),
        )
        seen: set[str] = set()
        for _ in range(MAX_SECOND_PASSES):
            before, offset = len(seen), 0
            while True:
                page = self._page(window, offset)
                seen.update(_identity(log) for log in page.logs)
                if len(page.logs) < self.page_size:
                    break
                offset += len(page.logs)
            if len(seen) == before:
                return

    def _page(self, window: Window, offset: int) -> LogPage:
        query: dict[str, str | int] = {**window.query(), **self.filters}
        query.update(limit=self.page_size, offset=offset)
        deadline = self.deadline.within(self.call_budget_s)
        page = self.client.list_page(self.project_id, query, deadline, self.fetch_stats)
        self.stats.pages += 1
        self.stats.listed += len(page.logs)
        if page.logs:
            self.emit(page)
        return page


def _identity(log: Log) -> str:
    """What a log is, for comparing overlaps: its id and the state it was listed in."""
    return f"{log.get('id')}|{log.get('updated_at')}|{log.get('status')}"
