"""List every task of a time window through ListOpLogs, ending a window only on evidence.

The API documents neither the order of its results nor whether paging is stable; a gateway may
serve fewer logs than `limit` asks while `count` says more remain; `count` may be wrong or
missing; tasks arrive (and, under a filter, leave) while a window is read. So:

- a window ends only on evidence: a page with nothing past the position reached (an empty
  page), or the distinct tasks received reaching the answer's `count` on a page shorter than the
  longest this listing has met (a page cut short by a cap is never taken for the end). The next
  page starts where the last one ended (its offset plus the items received), less a few tasks it
  repeats to detect shifts;
- the repeated tasks must be what the page before ended with, and no task received before may
  come back after them. If either fails (tasks arrived or left, the order changed, the offset
  was ignored), the window is cut in time into pieces read the same way, from an explicit work
  list. Under a filter a window that needs more than one answer goes straight to pieces, since
  a task leaving it and another arriving can cancel out where the repeat looks;
- a window of one second cannot be cut: it is paged by offset, pass after pass, until a pass
  ends on an empty page and adds nothing, with proof that nothing was left out (a pass that met
  no task twice, or the tasks received reaching `count`); after a few passes without that proof
  it raises `WindowUnreadable`.

Pieces share their boundary second (the API takes whole seconds), so a task on a boundary is
listed twice, never missed; the sink deduplicates. The new logs of every page are handed to
`emit` as soon as it arrives, so memory stays bounded by a page and one window's identities.
"""

from __future__ import annotations

import itertools
import logging
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from lib.cbr.answers import LogPage
from lib.cbr.client import CbrClient, FetchStats
from lib.core.errors import FetchError
from lib.core.runtime import Deadline, log_event
from lib.core.times import format_query

MAX_PAGE_SIZE = 1000  # the API's largest `limit`
OVERLAP = 50  # tasks each page repeats of the one before (at most 5 % of a page), to detect shifts
FILL = 0.8  # aim pieces at this share of a page, so uneven pieces still fit
MAX_PARTS = 64  # pieces one cut makes at most (a wrong `count` must not ask for thousands)
MAX_SECOND_PASSES = 10  # ties in a new order each time: a task escapes 10 passes rarely
LIST_FILTERS = ("operation_type", "status", "vault_id")
SECOND = timedelta(seconds=1)

Log = dict[str, Any]
Emit = Callable[[LogPage], None]  # each page's new logs, and their original texts when cut


class WindowUnreadable(FetchError):
    """A window that could not be read completely: its pass fails, the watermark stays before."""


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

    def describe(self) -> str:
        return f"{format_query(self.start)} to {format_query(self.end)}"


@dataclass
class ListStats:
    """What listing cost: requests answered, logs handed on, windows cut, shifts seen, and
    seconds read pass by pass."""

    pages: int = 0
    listed: int = 0
    splits: int = 0
    shifts: int = 0
    crowded: int = 0


@dataclass(frozen=True)
class _Cut:
    """A window that must be read in pieces, and the count its last answer gave."""

    count: int | None


@dataclass
class _Pass:
    """One pass over a one-second window."""

    counts: set[int | None] = field(default_factory=set)  # every count its answers gave
    ended: bool = False  # an empty page closed it
    clean: bool = True  # no task met twice: with `ended`, it met every task
    added: int = 0  # tasks no earlier pass had met

    @property
    def count(self) -> int | None:
        """The count every answer of the pass gave alike, else None (none to go by)."""
        return next(iter(self.counts)) if len(self.counts) == 1 else None


@dataclass
class Lister:
    """Lists windows of one project's tasks, handing each page's new logs to `emit`."""

    client: CbrClient
    project_id: str
    emit: Emit
    deadline: Deadline
    filters: Mapping[str, str] = field(default_factory=dict)
    page_size: int = MAX_PAGE_SIZE
    call_budget_s: float | None = None  # one request with its retries, within the deadline
    fetch_stats: FetchStats = field(default_factory=FetchStats)
    stats: ListStats = field(default_factory=ListStats)
    before_page: Callable[[], None] | None = None  # e.g. renew a lease before each request
    _longest: int = 0  # the longest page this listing has met: shorter ones may end a window

    def __post_init__(self) -> None:
        if not 1 <= self.page_size <= MAX_PAGE_SIZE:
            raise ValueError(f"the page size must be from 1 to {MAX_PAGE_SIZE}")
        unknown = set(self.filters) - set(LIST_FILTERS)
        if unknown:
            raise ValueError(f"unknown filter {sorted(unknown)[0]!r}")

    def list(self, window: Window) -> None:
        """Every task of the window; the FetchError of a page that could not be read, or
        WindowUnreadable for a second that could not be read completely."""
        work = [window]
        while work:
            piece = work.pop()
            cut = self._sweep(piece)
            if cut is None:
                continue
            if piece.seconds <= 1:
                self._crowded(piece)
                continue
            self.stats.splits += 1
            work.extend(reversed(piece.split(self._parts(cut))))

    def _sweep(self, window: Window) -> _Cut | None:
        """Read the window page after page; None when it ended on evidence, else why to cut it.
        Every page brings at least one task not received before, or the sweep stops: it is
        bounded by the tasks the window holds."""
        received: set[str] = set()
        counts: set[int | None] = set()
        offset, answers, repeat = 0, 0, list[str]()
        while True:
            page = self._page(window, offset)
            answers += 1
            counts.add(page.count)
            marks = [_identity(log) for log in page.logs]
            if marks[: len(repeat)] != repeat:
                if len(marks) < len(repeat) and marks == repeat[: len(marks)]:
                    return None  # the window ended inside the repeat: its oldest tasks left
                return self._shifted(window, page)
            fresh = page.logs[len(repeat) :]
            if not fresh:
                return None  # nothing past the position reached: the end
            ids = [_task(log) for log in fresh]
            if received.intersection(ids):
                return self._shifted(window, page)
            if self.filters and answers > 1:
                return _Cut(page.count)  # under a filter, only what one answer holds is read whole
            self._hand_on(page, fresh)
            received.update(ids)
            short = len(marks) < self._longest
            self._longest = max(self._longest, len(marks))
            if (
                short
                and len(counts) == 1
                and page.count is not None
                and len(received) >= page.count
            ):
                return None  # every task the (steady) count names, on a page shorter than full
            overlap = _overlap(len(marks))
            offset += len(marks) - overlap
            repeat = marks[len(marks) - overlap :]

    def _shifted(self, window: Window, page: LogPage) -> _Cut:
        self.stats.shifts += 1
        log_event(
            logging.INFO,
            "list pages shifted; reading the window in pieces",
            window=window.describe(),
        )
        return _Cut(page.count)

    def _parts(self, cut: _Cut) -> int:
        capacity = self._longest or self.page_size
        expected = cut.count if cut.count is not None else 2 * capacity
        return max(2, min(MAX_PARTS, math.ceil(expected / max(1.0, capacity * FILL))))

    def _crowded(self, window: Window) -> None:
        """A second (or two) that one answer does not hold and that cannot be cut: paged by
        offset until a pass ends on an empty page, adds nothing and proves it saw every task."""
        self.stats.crowded += 1
        log_event(
            logging.WARNING,
            "one second holds more tasks than a page; paging it until nothing new appears",
            window=window.describe(),
        )
        met: set[str] = set()
        for _ in range(MAX_SECOND_PASSES):
            walk = self._pass(window, met)
            proven = walk.clean or (walk.count is not None and len(met) >= walk.count)
            if walk.ended and not walk.added and proven:
                return
        counted = "no steady count" if walk.count is None else f"a count of {walk.count}"
        raise WindowUnreadable(
            f"the tasks created from {window.describe()} could not be read completely: "
            f"{MAX_SECOND_PASSES} passes by offset never ended on an empty page with every task "
            f"seen ({len(met)} seen, {counted})"
        )

    def _pass(self, window: Window, met: set[str]) -> _Pass:
        walk, offset, this_pass = _Pass(), 0, set[str]()
        while True:
            page = self._page(window, offset)
            walk.counts.add(page.count)
            if not page.logs:
                walk.ended = True
                return walk
            ids = [_task(log) for log in page.logs]
            unmet = [i for i in ids if i not in this_pass]
            if len(set(unmet)) < len(ids):
                walk.clean = False
            if not unmet:
                return walk  # a page of tasks this pass already met: the offset is not honoured
            new = [log for log in page.logs if _task(log) not in met]
            walk.added += len({_task(log) for log in new})
            self._hand_on(page, new)
            this_pass.update(ids)
            met.update(ids)
            offset += len(page.logs)

    def _hand_on(self, page: LogPage, logs: Sequence[Log]) -> None:
        """Emit the page's logs that are in `logs` (a subset, in page order), with their texts."""
        if not logs:
            return
        if len(logs) == len(page.logs):
            part = page
        else:
            keep = {id(log) for log in logs}
            chosen = [n for n, log in enumerate(page.logs) if id(log) in keep]
            texts = None if page.texts is None else [page.texts[n] for n in chosen]
            part = LogPage([page.logs[n] for n in chosen], page.count, texts)
        self.stats.listed += len(part.logs)
        self.emit(part)

    def _page(self, window: Window, offset: int) -> LogPage:
        if self.before_page is not None:
            self.before_page()
        query: dict[str, str | int] = {**window.query(), **self.filters}
        query.update(limit=self.page_size, offset=offset)
        deadline = self.deadline.within(self.call_budget_s)
        page = self.client.list_page(self.project_id, query, deadline, self.fetch_stats)
        self.stats.pages += 1
        return page


def _overlap(received: int) -> int:
    """How many of a page's last tasks the next page repeats: up to 5 % of it (50 of 1,000),
    at least one, never the whole page (the next page must start past it)."""
    return max(1, min(OVERLAP, received // 20)) if received > 1 else 0


def _task(log: Log) -> str:
    return str(log.get("id"))


def _identity(log: Log) -> str:
    """What a log is, for comparing repeats: its id and the state it was listed in."""
    return f"{log.get('id')}|{log.get('updated_at')}|{log.get('status')}"
