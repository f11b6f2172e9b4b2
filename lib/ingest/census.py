"""Verify's own reading of ListOpLogs: each window's answered count against the tasks received.

Discovery's listing (`lib.ingest.listing`) decides for itself when a window ended; a check of the
lake must not rest on the same reasoning. So verify reads its period in whole-second windows (a
UTC day each, the last one including the period's last instant), pages every window by plain
offsets (the next offset is the last plus the items received) until an empty page, and compares
the `count` the API answered with the distinct tasks it gave. A window whose count disagrees, or
that has none, proves nothing. A window that one answer does not hold (the page was as long as
any met and the count says more) is cut in time, down to a second, so that the count of each
piece is checked against what few answers give. A piece agrees when a pass that ended on an
empty page received exactly the count that every one of its answers gave (or, when the order moved
between pages, the passes together did, under one steady count); it is read again, at most
`MAX_PASSES` times, until it agrees or a pass met every task once (another would give the same).
An API that ignores `offset` never shows an empty page, so it never agrees.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from lib.cbr.answers import LogPage
from lib.cbr.client import CbrClient, FetchStats
from lib.core.runtime import Deadline
from lib.core.times import format_utc
from lib.ingest.listing import FILL, MAX_PAGE_SIZE, MAX_PARTS, Window

MAX_PASSES = 10


@dataclass(frozen=True)
class Piece:
    """A window read whole: the counts the API answered, the distinct tasks it gave, and
    whether they agree."""

    window: Window
    counts: tuple[int | None, ...]
    received: int
    agrees: bool

    def as_dict(self) -> dict[str, Any]:
        return {
            "start": format_utc(self.window.start),
            "end": format_utc(self.window.end),
            "counts": list(self.counts),
            "received": self.received,
        }


@dataclass
class _Pass:
    """One pass over a piece by offset."""

    tasks: set[str] = field(default_factory=set)
    counts: list[int | None] = field(default_factory=list)  # as each answer gave it
    ended: bool = False  # an empty page closed it
    clean: bool = True  # no task met twice

    @property
    def count(self) -> int | None:
        """The count every answer of the pass gave alike, else None."""
        return self.counts[0] if len(set(self.counts)) == 1 else None


def _agree(passes: list[_Pass], tasks: set[str]) -> bool:
    """The API's count and the tasks it gave agree: a pass that ended on an empty page, every
    answer giving the same count, received exactly that many tasks; or every pass gave the same
    count, one ended, and together they received exactly that many (the order moved between
    pages, the tasks did not). A count that changed, or none, never agrees."""
    if any(
        walk.ended and walk.count is not None and len(walk.tasks) == walk.count for walk in passes
    ):
        return True
    counts = {walk.count for walk in passes}
    steady = next(iter(counts)) if len(counts) == 1 else None
    return steady is not None and any(walk.ended for walk in passes) and len(tasks) == steady


@dataclass
class WindowCount:
    """One of verify's windows: its pieces, the tasks received, the requests it took."""

    window: Window
    pieces: list[Piece] = field(default_factory=list)
    tasks: set[str] = field(default_factory=set)
    pages: int = 0

    @property
    def disagreements(self) -> list[Piece]:
        return [piece for piece in self.pieces if not piece.agrees]

    @property
    def agrees(self) -> bool:
        return not self.disagreements

    def as_dict(self) -> dict[str, Any]:
        return {
            "start": format_utc(self.window.start),
            "end": format_utc(self.window.end),
            "tasks": len(self.tasks),
            "pieces": len(self.pieces),
            "pages": self.pages,
            "agrees": self.agrees,
            "disagreements": [piece.as_dict() for piece in self.disagreements],
        }


@dataclass
class Census:
    """Reads windows of one project's tasks, handing every page to `keep`."""

    client: CbrClient
    project_id: str
    keep: Callable[[LogPage], None]
    deadline: Deadline
    page_size: int = MAX_PAGE_SIZE
    fetch_stats: FetchStats = field(default_factory=FetchStats)
    _longest: int = 0  # the longest page met: a page as long may be cut short by a cap

    def read(self, window: Window) -> WindowCount:
        """Count the window, cutting it where one answer does not hold it; FetchError when a
        page cannot be read."""
        result = WindowCount(window)
        work = [window]
        while work:
            piece = work.pop()
            first = self._page(piece, 0, result)
            received = len(first.logs)
            looks_full = received >= self._longest
            self._longest = max(self._longest, received)
            if (
                first.count is not None
                and first.count > received > 0
                and looks_full
                and piece.seconds > 1
            ):
                self.keep(first)
                parts = math.ceil(first.count / max(1.0, received * FILL))
                work.extend(reversed(piece.split(max(2, min(MAX_PARTS, parts)))))
                continue
            result.pieces.append(self._count(piece, first, result))
        return result

    def _count(self, window: Window, first: LogPage, result: WindowCount) -> Piece:
        """Page the window by offset until an empty page, pass after pass until its tasks
        agree with its count or a pass met every task once (another would give the same)."""
        passes: list[_Pass] = []
        tasks: set[str] = set()
        page: LogPage | None = first
        for _ in range(MAX_PASSES):
            walk = self._pass(window, page, result)
            page = None
            passes.append(walk)
            tasks |= walk.tasks
            if _agree(passes, tasks) or (walk.ended and walk.clean and len(set(walk.counts)) == 1):
                break  # agreed, or this pass met every task once under one count: it will stay so
        result.tasks.update(tasks)
        counts = tuple(dict.fromkeys(c for walk in passes for c in walk.counts))
        return Piece(window, counts, len(tasks), _agree(passes, tasks))

    def _pass(self, window: Window, page: LogPage | None, result: WindowCount) -> _Pass:
        """One pass by offset, until an empty page or a page of tasks this pass had met (the
        offset is not honoured)."""
        walk, offset = _Pass(), 0
        while True:
            page = page or self._page(window, offset, result)
            walk.counts.append(page.count)
            if not page.logs:
                walk.ended = True
                return walk
            ids = [str(log.get("id")) for log in page.logs]
            if walk.tasks.issuperset(ids):
                return walk
            walk.clean = walk.clean and walk.tasks.isdisjoint(ids) and len(set(ids)) == len(ids)
            self.keep(page)
            walk.tasks.update(ids)
            offset += len(page.logs)
            page = None

    def _page(self, window: Window, offset: int, result: WindowCount) -> LogPage:
        query: dict[str, str | int] = {**window.query(), "limit": self.page_size, "offset": offset}
        page = self.client.list_page(self.project_id, query, self.deadline, self.fetch_stats)
        result.pages += 1
        return page
