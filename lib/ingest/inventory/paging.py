"""Reading a whole CBR list without losing an item, however its pages come.

The APIs document neither an order nor stable paging, some cap a page below the `limit` asked
for, and ListProtectable has no `count` at all. So a list ends only on evidence:

- an empty page; or, where the answer carries `count`, the distinct items received reaching it.
  A page shorter than `limit` is not the end by itself. Reaching `count` on a full page is not
  the end either (an API that counted the page, not the query, would end every list there): one
  more page is read; if it brings nothing new `count` stands, if it brings new items `count` is
  ignored from then on;
- offset lists (ListVault, ListBackups) go on at the previous offset plus the items received;
  marker lists (ListProtectable) go on after the last ID received;
- items are told apart by ID: one seen again is not emitted twice. A pass that met the same item
  twice, or a `count` that changed, means the list moved while it was read, so it is read again
  from the start, until a whole pass adds nothing new. (An empty page short of a steady `count`
  ends the list: it is the evidence; the difference is logged.);
- everything is bounded: pages in a row that add nothing (an API that ignores offset or marker
  and repeats itself), passes that keep finding new items, or pages past a hard cap fail the list
  (`IncompleteList`), never loop and never end it early.

Each page's new items are handed to `emit` as they arrive, so memory holds one page, plus the IDs.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from lib.cbr.answers import ListAnswer
from lib.cbr.client import CbrClient, FetchStats
from lib.core.errors import OplogLakeError
from lib.core.runtime import Deadline, log_event
from lib.ingest.flatten import raw_json

MAX_PASSES = 3
MAX_STALE_PAGES = 3  # pages in a row that add nothing: the API repeats itself
MAX_PAGES = 20_000  # per pass; 20 million restore points at 1,000 a page

Item = dict[str, Any]
Emit = Callable[[list[Item]], None]


class IncompleteList(OplogLakeError):
    """A list that could not be read whole; the message says what the API did."""


@dataclass(frozen=True)
class ListSpec:
    """One list API: its path under `/v3/{project_id}/`, the key of its items and how it pages."""

    name: str  # the API's name, for messages: ListVault, ...
    path: tuple[str, ...]
    key: str
    paging: str  # "offset", "marker" or "single" (one request)
    limit: int | None = None
    query: Mapping[str, str] = field(default_factory=dict)
    permission: str = ""  # the IAM action it needs, named when the API refuses


@dataclass
class ListStats:
    """What reading one list cost and met."""

    pages: int = 0
    items: int = 0  # distinct items emitted
    passes: int = 0
    repeated: int = 0  # items met again (a moving list, or overlapping pages)


@dataclass
class _Pass:
    """One read from the start of a list."""

    ids: set[str] = field(default_factory=set)
    added: int = 0
    moved: bool = False  # the list changed under the pass
    count: int | None = None
    count_wrong: bool = False  # more distinct items came than `count` said
    stale: int = 0


@dataclass
class ListReader:
    """Reads whole lists of one project through the client (its retries, auth and pacing)."""

    client: CbrClient
    project_id: str
    deadline: Deadline
    fetch_stats: FetchStats = field(default_factory=FetchStats)

    def read(self, spec: ListSpec, emit: Emit) -> ListStats:
        """Every item of the list, each emitted once; IncompleteList or the client's FetchError
        when that cannot be done."""
        stats, seen = ListStats(), set[str]()
        if spec.paging == "single":
            self._single(spec, emit, stats)
            return stats
        for number in range(1, MAX_PASSES + 1):
            stats.passes = number
            read = self._pass(spec, emit, seen, stats)
            # The first pass stands unless the list moved under it; a later one, once it
            # adds nothing to what the passes before found.
            done = not read.moved if number == 1 else read.added == 0
            if done:
                if read.count is not None and len(read.ids) < read.count:
                    log_event(
                        logging.WARNING,
                        f"{spec.name} counted more items than it listed",
                        project_id=self.project_id,
                        count=read.count,
                        listed=len(read.ids),
                    )
                return stats
            log_event(
                logging.INFO,
                f"{spec.name} moved while it was read: reading it again",
                project_id=self.project_id,
                passes=number,
            )
        raise IncompleteList(
            f"{spec.name} kept changing while it was read: each of {MAX_PASSES} passes found "
            "items the ones before had not"
        )

    def _single(self, spec: ListSpec, emit: Emit, stats: ListStats) -> None:
        answer = self._request(spec, {**spec.query}, stats)
        fresh = _distinct(answer.items, set())
        stats.repeated += len(answer.items) - len(fresh)
        if answer.count is not None and answer.count > len(fresh):
            raise IncompleteList(
                f"{spec.name} answered {len(fresh)} items but counts {answer.count}, and it "
                "cannot be paged"
            )
        stats.items += len(fresh)
        emit(fresh)

    def _pass(self, spec: ListSpec, emit: Emit, seen: set[str], stats: ListStats) -> _Pass:
        read, offset, marker = _Pass(), 0, None
        for _ in range(MAX_PAGES):
            answer = self._request(spec, _query(spec, offset, marker), stats)
            if not answer.items:
                break
            fresh = self._take(spec, answer, read, seen, emit, stats)
            if self._ends(spec, answer, read, fresh):
                break
            offset += len(answer.items)
            marker = answer.items[-1].get("id")
            if spec.paging == "marker" and not isinstance(marker, str):
                raise IncompleteList(f"{spec.name} answered an item without an id to page after")
        else:
            raise IncompleteList(f"{spec.name} gave more than {MAX_PAGES} pages in one pass")
        return read

    @staticmethod
    def _take(
        spec: ListSpec,
        answer: ListAnswer,
        read: _Pass,
        seen: set[str],
        emit: Emit,
        stats: ListStats,
    ) -> int:
        """Note a page's items and emit the ones no pass has emitted yet; how many were new to
        this pass."""
        fresh = _distinct(answer.items, read.ids)
        if len(fresh) < len(answer.items):
            read.moved = True
            stats.repeated += len(answer.items) - len(fresh)
        read.ids.update(_key(item) for item in fresh)
        new = [item for item in fresh if _key(item) not in seen]
        seen.update(_key(item) for item in new)
        read.added += len(new)
        stats.items += len(new)
        if new:
            emit(new)
        read.stale = 0 if fresh else read.stale + 1
        if read.stale >= MAX_STALE_PAGES:
            follow = "offset" if spec.paging == "offset" else "marker"
            raise IncompleteList(
                f"{spec.name} answered {MAX_STALE_PAGES} pages in a row with nothing new: it "
                f"does not seem to follow the {follow}"
            )
        return len(fresh)

    @staticmethod
    def _ends(spec: ListSpec, answer: ListAnswer, read: _Pass, fresh: int) -> bool:
        """Whether `count` says the list is complete (an empty page is checked by the caller):
        reached on a page short of `limit`, or confirmed by a page that brought nothing new."""
        if answer.count is None or read.count_wrong:
            return False
        if read.count is not None and answer.count != read.count:
            read.moved = True
        read.count = answer.count
        if len(read.ids) > read.count:
            read.count_wrong = True  # from now on only an empty page ends the list
            return False
        full = spec.limit is not None and len(answer.items) >= spec.limit
        return len(read.ids) >= read.count and (not full or not fresh)

    def _request(self, spec: ListSpec, query: dict[str, str | int], stats: ListStats) -> ListAnswer:
        answer = self.client.list_items(
            self.project_id, spec.path, spec.key, query, self.deadline, self.fetch_stats
        )
        stats.pages += 1
        return answer


def _query(spec: ListSpec, offset: int, marker: str | None) -> dict[str, str | int]:
    query: dict[str, str | int] = {**spec.query}
    if spec.limit is not None:
        query["limit"] = spec.limit
    if spec.paging == "marker":
        if marker is not None:
            query["marker"] = marker
    elif offset:  # offset 0 is the default; some documents call offset "a positive integer"
        query["offset"] = offset
    return query


def _distinct(items: list[Item], known: set[str]) -> list[Item]:
    """The items not in `known`, each once."""
    fresh, keys = [], set()
    for item in items:
        key = _key(item)
        if key not in known and key not in keys:
            keys.add(key)
            fresh.append(item)
    return fresh


def _key(item: Item) -> str:
    """An item's ID; one without an ID is told apart by its whole content."""
    value = item.get("id")
    return value if isinstance(value, str) and value else "\0" + raw_json(item)
