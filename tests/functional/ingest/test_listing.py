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
from lib.ingest.listing import Lister, Window

from conftest import PROJECT
from fakecbr import FakeCBR
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


def test_a_window_that_fits_a_page_takes_one_request(fake: FakeCBR) -> None:
    ids, seen = add(fake, 5, timedelta(hours=1)), []
    lister(fake, seen, 10).list(Window(START, START + timedelta(days=1)))
    assert sorted(log["id"] for log in seen) == ids
    assert len(fake.list_requests()) == 1


def test_a_larger_window_is_read_in_pages_that_overlap(fake: FakeCBR) -> None:
    ids, seen = add(fake, 25, timedelta(minutes=30)), []
    reader = lister(fake, seen, 10)
    reader.list(Window(START, START + timedelta(days=1)))
    assert [offset for _, _, offset in queries(fake)] == [0, 9, 18]  # each repeats one task
    assert sorted({log["id"] for log in seen}) == ids
    assert (reader.stats.shifts, reader.stats.splits) == (0, 0)


def test_a_shift_while_paging_cuts_the_window_into_pieces_that_fit_one_request(
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
    assert reader.stats.shifts == 1 and reader.stats.splits >= 1
    pieces = [(a, b) for a, b, _ in queries(fake)[2:]]
    assert all(offset == 0 for *_, offset in queries(fake)[2:])  # each piece in one request
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
