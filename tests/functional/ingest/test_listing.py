"""Listing a window through the fake ListOpLogs: one request when it fits, overlapping pages,
pieces of time when pages shift, and a crowded second paged until it is stable."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs

import pytest

from lib.aws.app import Root
from lib.core.runtime import Deadline
from lib.core.settings import Settings
from lib.ingest.listing import Lister, Window, WindowUnreadable

from conftest import PROJECT
from fakecbr import FakeCBR
from fakelist import ListMode
from tasks import make_log

START = datetime(2026, 5, 1, tzinfo=UTC)


def lister(fake: FakeCBR, seen: list[dict[str, Any]], page_size: int) -> Lister:
    root = Root(Settings(cbr_endpoint=fake.base_url, project_id=PROJECT, backoff_base_s=0.01))
    return Lister(
        root.client,
        PROJECT,
        lambda page: seen.extend(page.logs),
        Deadline.after(60),
        page_size=page_size,
    )


def queries(fake: FakeCBR) -> list[tuple[str, str, int]]:
    """(start_time, end_time, offset) of each list request."""
    found = []
    for request in fake.list_requests():
        query = parse_qs(request.path.partition("?")[2])
        found.append((query["start_time"][0], query["end_time"][0], int(query["offset"][0])))
    return found


def add(fake: FakeCBR, count: int, every: timedelta, first: int = 0) -> list[str]:
    logs = [make_log(n, START + every * (n - first)) for n in range(first, first + count)]
    for log in logs:
        fake.add_log(log)
    return [log["id"] for log in logs]


def test_a_window_ends_on_an_empty_page_or_on_the_count_below_a_full_page(fake: FakeCBR) -> None:
    ids, seen = add(fake, 5, timedelta(hours=1)), []
    reader = lister(fake, seen, 10)
    reader.list(Window(START, START + timedelta(days=1)))
    assert sorted(log["id"] for log in seen) == ids
    # The first page may be all a capped API serves: the next one (repeating its last task)
    # shows that nothing comes after it.
    assert [offset for *_, offset in queries(fake)] == [0, 4]
    assert len(seen) == 5  # the repeated task is not handed on twice
    later = add(fake, 3, timedelta(minutes=1), first=10)
    fake.requests.clear()
    reader.list(Window(START, START + timedelta(minutes=3)))  # 4 tasks: shorter than the 5 met
    assert len(fake.list_requests()) == 1 and set(later) <= {log["id"] for log in seen}


def test_a_larger_window_is_read_in_pages_that_overlap(fake: FakeCBR) -> None:
    ids, seen = add(fake, 25, timedelta(minutes=30)), []
    reader = lister(fake, seen, 10)
    reader.list(Window(START, START + timedelta(days=1)))
    assert [offset for _, _, offset in queries(fake)] == [0, 9, 18]  # each repeats one task
    assert sorted({log["id"] for log in seen}) == ids
    assert (reader.stats.shifts, reader.stats.splits) == (0, 0)


def test_a_shift_while_paging_cuts_the_window_into_pieces_read_the_same_way(
    fake: FakeCBR,
) -> None:
    ids, seen = add(fake, 25, timedelta(minutes=30)), []
    late = make_log(99, START + timedelta(hours=12, seconds=1))  # the newest: shifts every page

    def arrive(number: int) -> None:
        if number == 2:
            fake.add_log(late)

    fake.on_list = arrive
    reader = lister(fake, seen, 10)
    reader.list(Window(START, START + timedelta(days=1)))
    assert sorted({log["id"] for log in seen}) == sorted([*ids, late["id"]])
    assert (reader.stats.shifts, reader.stats.splits) == (1, 1)  # the pieces hold still
    pieces = {(a, b) for a, b, _ in queries(fake)[2:]}
    leaves = sorted(
        piece
        for piece in pieces
        if not any(o != piece and piece[0] <= o[0] and o[1] <= piece[1] for o in pieces)
    )
    assert leaves[0][0] == "2026-05-01T00:00:00Z" and leaves[-1][1] == "2026-05-02T00:00:00Z"
    assert all(a[1] == b[0] for a, b in itertools.pairwise(leaves))  # no gap between pieces


def test_a_second_holding_more_than_a_page_is_paged_until_nothing_new_appears(
    fake: FakeCBR,
) -> None:
    ids = add(fake, 7, timedelta(0))  # all in the same second
    seen: list[dict[str, Any]] = []
    late = make_log(50, START)

    def arrive(number: int) -> None:
        if number == 2:
            fake.add_log(late)

    fake.on_list = arrive
    reader = lister(fake, seen, 3)
    reader.list(Window(START, START))
    assert sorted({log["id"] for log in seen}) == sorted([*ids, late["id"]])


@pytest.mark.parametrize(
    ("seconds", "parts", "expected"),
    [(10, 3, [(0, 3), (3, 7), (7, 10)]), (2, 5, [(0, 1), (1, 2)]), (86400, 1, [(0, 86400)])],
)
def test_pieces_share_their_boundary_second_and_never_go_below_one(
    seconds: int, parts: int, expected: list[tuple[int, int]]
) -> None:
    window = Window(START, START + timedelta(seconds=seconds))
    pieces = window.split(parts)
    found = [
        (int((p.start - START).total_seconds()), int((p.end - START).total_seconds()))
        for p in pieces
    ]
    assert found == expected


def test_a_window_covers_fractions_of_a_second_at_both_ends() -> None:
    window = Window.covering(START + timedelta(microseconds=5), START + timedelta(seconds=2.5))
    assert (window.start, window.end) == (START, START + timedelta(seconds=3))


def busy_day(fake: FakeCBR) -> list[str]:
    """45 tasks over a day and 14 more in one second of it (more than a page of 10)."""
    ids = add(fake, 45, timedelta(minutes=30))
    crowded = START + timedelta(hours=7, minutes=45)
    for n in range(14):
        log = make_log(100 + n, crowded + timedelta(milliseconds=60 * n))
        fake.add_log(log)
        ids.append(log["id"])
    return ids


@pytest.mark.parametrize(
    "mode",
    [
        ListMode(cap=7),  # pages shorter than `limit` while `count` says more remain
        ListMode(cap=7, count="missing"),
        ListMode(cap=7, count="high"),
        ListMode(cap=7, count="low"),
        ListMode(cap=7, count="page"),
        ListMode(order="shuffled", seed=3),  # ties within a second in a new order every time
        ListMode(repeat_every=4),  # the same task on two pages, nothing displaced
        ListMode(extra_members=True),
        ListMode(outside=timedelta(seconds=1)),
    ],
    ids=lambda mode: ",".join(
        f"{k}={v}" for k, v in mode.__dict__.items() if v != ListMode().__dict__[k]
    ),
)
def test_an_unkind_api_still_gives_every_task_of_the_window(fake: FakeCBR, mode: ListMode) -> None:
    ids, seen = busy_day(fake), []
    fake.listing.mode = mode
    reader = lister(fake, seen, 10)
    reader.list(Window(START, START + timedelta(days=1)))
    assert set(ids) <= {log["id"] for log in seen}
    assert len(fake.list_requests()) < 150  # bounded: no endless paging, no runaway cutting


def test_a_capped_page_is_never_taken_for_the_end(fake: FakeCBR) -> None:
    ids, seen = add(fake, 400, timedelta(minutes=3)), []
    fake.listing.mode = ListMode(cap=100)  # the API serves 100 of the 1,000 asked
    reader = lister(fake, seen, 1000)
    reader.list(Window(START, START + timedelta(days=1)))
    assert sorted({log["id"] for log in seen}) == ids
    assert [offset for *_, offset in queries(fake)] == [0, 95, 190, 285, 380]


def test_a_crowded_second_with_shifting_pages_is_read_without_recursion(fake: FakeCBR) -> None:
    """More than a page within two adjacent seconds, in a new order on every request."""
    ids = [make_log(n, START + timedelta(seconds=n % 2, milliseconds=37 * n)) for n in range(26)]
    for log in ids:
        fake.add_log(log)
    fake.listing.mode = ListMode(order="shuffled", seed=11)
    seen: list[dict[str, Any]] = []
    reader = lister(fake, seen, 10)
    reader.list(Window(START, START + timedelta(seconds=2)))
    assert {log["id"] for log in seen} == {log["id"] for log in ids}
    assert reader.stats.crowded >= 1 and len(fake.list_requests()) < 200


def test_an_api_that_ignores_the_offset_fails_the_window_after_a_bounded_number_of_requests(
    fake: FakeCBR,
) -> None:
    few = add(fake, 3, timedelta(minutes=10), first=50)  # one answer holds them: read whole
    crowded = [make_log(n, START + timedelta(hours=5, milliseconds=n)) for n in range(25)]
    for log in crowded:
        fake.add_log(log)
    fake.listing.mode = ListMode(ignore_offset=True)
    seen: list[dict[str, Any]] = []
    reader = lister(fake, seen, 10)
    reader.list(Window(START, START + timedelta(hours=1)))
    assert {log["id"] for log in seen} == set(few)
    with pytest.raises(WindowUnreadable, match="could not be read completely"):
        reader.list(Window(START, START + timedelta(days=1)))
    assert len(fake.list_requests()) < 100


def test_a_second_whose_count_is_missing_and_order_unstable_cannot_be_proven(
    fake: FakeCBR,
) -> None:
    for n in range(25):
        fake.add_log(make_log(n, START + timedelta(milliseconds=n)))
    fake.listing.mode = ListMode(order="shuffled", count="missing", seed=5)
    with pytest.raises(WindowUnreadable):
        lister(fake, [], 10).list(Window(START, START + timedelta(seconds=1)))


def test_tasks_that_leave_by_retention_while_a_window_is_read_end_it_cleanly(
    fake: FakeCBR,
) -> None:
    ids, seen = add(fake, 60, timedelta(minutes=20)), []
    fake.listing.mode = ListMode(leave_after=3, leaving=4)  # the four oldest leave mid-window
    lister(fake, seen, 10).list(Window(START, START + timedelta(days=1)))
    still_there = set(ids) - fake.listing.gone
    assert len(still_there) == 56 and still_there <= {log["id"] for log in seen}
