"""Over random days of tasks and random unkind APIs: discovery's listing gives every task or says
it could not, and verify's census agrees with the API's counts only when it received every task.

Each case draws (from a fixed seed, so a failure replays) tasks spread over a day, a few crowded
seconds, a page size, and a mode of the fake's ListOpLogs: a cap below `limit`, a count that is
missing, too high, too low or the page's own length, ties in a new order on every request,
repeated tasks, an ignored offset. The one thing the listing cannot see through is a count lower
than the tasks the API holds while the order moves (it trusts a count it reaches); the census,
which pages to an empty page and checks every count, is held to the strict rule for every mode.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from lib.aws.app import Root
from lib.core.runtime import Deadline
from lib.core.settings import Settings
from lib.ingest.census import Census
from lib.ingest.listing import Lister, Window, WindowUnreadable

from conftest import PROJECT
from fakecbr import FakeCBR
from fakelist import ListMode
from tasks import make_log

START = datetime(2026, 5, 1, tzinfo=UTC)
DAY = Window(START, START + timedelta(days=1))
CASES = 30


def draw(fake: FakeCBR, seed: int, counts: list[str]) -> tuple[set[str], int, Root]:
    """A fresh day of tasks and an unkind mode on the fake; the IDs, a page size, a root."""
    rng = random.Random(seed)
    logs: list[dict[str, Any]] = []
    for _ in range(rng.randint(0, 50)):
        logs.append(make_log(len(logs), START + timedelta(seconds=rng.randint(0, 86399))))
    for _ in range(rng.randint(0, 3)):
        second = START + timedelta(seconds=rng.randint(0, 86398))
        for _ in range(rng.randint(1, 25)):
            logs.append(make_log(len(logs), second + timedelta(milliseconds=rng.randint(0, 999))))
    for log in logs:
        fake.add_log(log)
    fake.listing.mode = ListMode(
        cap=rng.choice([None, None, 3, 7]),
        count=rng.choice(counts),
        order=rng.choice(["stable", "shuffled"]),
        repeat_every=rng.choice([None, None, 4]),
        ignore_offset=rng.random() < 0.15,
        seed=seed,
    )
    root = Root(Settings(cbr_endpoint=fake.base_url, project_id=PROJECT, log_level="ERROR"))
    return {log["id"] for log in logs}, rng.choice([5, 10, 1000]), root


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(CASES))
def test_the_listing_gives_every_task_or_says_it_could_not(fake: FakeCBR, seed: int) -> None:
    ids, page_size, root = draw(fake, seed, ["exact", "exact", "missing", "high", "page"])
    seen: set[str] = set()

    def keep(page: Any) -> None:
        seen.update(log["id"] for log in page.logs)

    lister = Lister(root.client, PROJECT, keep, Deadline.after(120), page_size=page_size)
    try:
        lister.list(DAY)
    except WindowUnreadable:
        return
    assert ids <= seen


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(CASES))
def test_the_census_agrees_only_when_it_received_every_task(fake: FakeCBR, seed: int) -> None:
    ids, page_size, root = draw(fake, seed, ["exact", "exact", "missing", "high", "low", "page"])
    seen: set[str] = set()

    def keep(page: Any) -> None:
        seen.update(log["id"] for log in page.logs)

    census = Census(root.client, PROJECT, keep, Deadline.after(120), page_size=page_size)
    if census.read(DAY).agrees:
        assert ids <= seen
