"""Verify's own reading of ListOpLogs: each window's answered count against the tasks received.

Discovery's listing (`lib.ingest.listing`) decides for itself when a window ended; a check of the
lake must not rest on the same reasoning. So verify reads its period in whole-second windows (a
UTC day each, the last one including the period's last instant), pages every window by plain
offsets (the next offset is the last plus the items received) until an empty page, and compares
the `count` the API answered with the distinct tasks it gave. A window whose count disagrees, or
that has none, proves nothing. A window that one answer does not hold (the page was as long as
any met and the count says more) is cut in time, down to a second, so that the count of each
piece is checked against what few answers give; a piece is read again (at most `MAX_PASSES`
times) while its tasks fall short of its count, in case the order moved between pages.
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

MAX_PASSES = 3


@dataclass(frozen=True)
class Piece:
    """A window read whole: the counts the API answered and the distinct tasks it gave."""

    window: Window
    counts: tuple[int | None, ...]
    received: int

    @property
    def agrees(self) -> bool:
        return None not in self.counts and self.received in self.counts

    def as_dict(self) -> dict[str, Any]:
        return {
            "start": format_utc(self.window.start),
            "end": format_utc(self.window.end),
            "counts": list(self.counts),
            "received": self.received,
        }


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
        """Page the window by offset until an empty page, again while its tasks fall short of
        its count and a pass still finds new ones."""
        counts: list[int | None] = []
        tasks: set[str] = set()
        page: LogPage | None = first
        for _ in range(MAX_PASSES):
            before, ended = len(tasks), self._pass(window, page, tasks, counts, result)
            page = None
            agrees = None not in counts and len(tasks) in counts
            if agrees or (ended and len(tasks) == before):
                break
        result.tasks.update(tasks)
        return Piece(window, tuple(dict.fromkeys(counts)), len(tasks))

    def _pass(
        self,
        window: Window,
        page: LogPage | None,
        tasks: set[str],
        counts: list[int | None],
        result: WindowCount,
    ) -> bool:
        """One pass by offset; True when it ended on an empty page, False when a page brought
        only tasks this pass had met (the offset is not honoured)."""
        offset, met = 0, set[str]()
        while True:
            page = page or self._page(window, offset, result)
            counts.append(page.count)
            if not page.logs:
                return True
            ids = [str(log.get("id")) for log in page.logs]
            if met.issuperset(ids):
                return False
            self.keep(page)
            met.update(ids)
            tasks.update(ids)
            offset += len(page.logs)
            page = None

    def _page(self, window: Window, offset: int, result: WindowCount) -> LogPage:
        query: dict[str, str | int] = {**window.query(), "limit": self.page_size, "offset": offset}
        page = self.client.list_page(self.project_id, query, self.deadline, self.fetch_stats)
        result.pages += 1
        return page
