"""Compare-and-swap on the lake's stores, and the discovery state built on it."""

from __future__ import annotations

import multiprocessing
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from lib.core.errors import SinkError
from lib.ingest.watermark import Lease, ProjectState, StateUnreadable, Watermarks, state_key
from lib.lake.storage import LocalStore, ObjectStore

from conftest import PROJECT

NOW = datetime(2026, 11, 30, 12, tzinfo=UTC)


def test_a_write_names_the_version_it_replaces(store: ObjectStore) -> None:
    first = store.put_if("_state/x.json", b"1", None)
    assert first is not None
    assert store.put_if("_state/x.json", b"2", None) is None  # it exists now
    second = store.put_if("_state/x.json", b"3", first)
    assert second is not None and second != first
    assert store.put_if("_state/x.json", b"4", first) is None  # first is no longer current
    found = store.read_versioned("_state/x.json")
    assert found is not None and (found.data, found.version) == (b"3", second)
    assert store.read_versioned("_state/missing.json") is None


def test_the_watermark_never_moves_back_and_a_stale_swap_loses(store: ObjectStore) -> None:
    book = Watermarks(store)
    empty = book.read(PROJECT, NOW)
    later = book.swap(PROJECT, empty, ProjectState(watermark=NOW), NOW)
    assert later is not None and book.read(PROJECT, NOW).watermark == NOW
    assert book.swap(PROJECT, empty, ProjectState(watermark=NOW), NOW) is None  # stale version
    back = book.swap(PROJECT, later, ProjectState(watermark=NOW - timedelta(days=1)), NOW)
    assert back is not None and book.read(PROJECT, NOW).watermark == NOW  # kept, not moved back


def test_a_lease_is_seen_by_others_until_it_expires(store: ObjectStore) -> None:
    book = Watermarks(store)
    held = ProjectState(lease=Lease("pass-a", NOW + timedelta(minutes=5)))
    assert book.swap(PROJECT, book.read(PROJECT, NOW), held, NOW) is not None
    state = book.read(PROJECT, NOW)
    assert state.held_by_other("pass-b", NOW) and not state.held_by_other("pass-a", NOW)
    assert not state.held_by_other("pass-b", NOW + timedelta(minutes=6))


def test_a_state_the_product_did_not_write_is_refused_with_a_sentence(store: ObjectStore) -> None:
    store.put(state_key(PROJECT), b'{"watermark": "not a time"}')
    with pytest.raises(StateUnreadable, match="remove it to start the project again"):
        Watermarks(store).read(PROJECT, NOW)
    assert issubclass(StateUnreadable, SinkError)
    with pytest.raises(ValueError, match="refusing"):
        state_key("../etc")


def test_a_watermark_later_than_now_is_never_written_nor_used(store: ObjectStore) -> None:
    book = Watermarks(store)
    soon, later = NOW + timedelta(minutes=4), NOW + timedelta(minutes=6)  # 5 minutes allowed
    assert book.swap(PROJECT, book.read(PROJECT, NOW), ProjectState(watermark=soon), NOW)
    with pytest.raises(StateUnreadable, match="later than now"):
        book.swap(PROJECT, book.read(PROJECT, NOW), ProjectState(watermark=later), NOW)
    assert book.read(PROJECT, NOW).watermark == soon  # nothing was written
    store.put(state_key(PROJECT), b'{"watermark": "2027-06-01T00:00:00Z"}')
    with pytest.raises(StateUnreadable) as refused:
        book.read(PROJECT, NOW)
    message = str(refused.value)
    assert state_key(PROJECT) in message and "2027-06-01T00:00:00Z" in message
    assert "\n" not in message


def _race(root: str, barrier: Any, results: Any) -> None:
    store = LocalStore(root)
    seen = store.read_versioned("_state/race.json")
    barrier.wait()
    results.put(store.put_if("_state/race.json", b"mine", seen.version if seen else None))


def test_two_processes_racing_on_a_local_lake_let_exactly_one_win(tmp_path: Path) -> None:
    context = multiprocessing.get_context("spawn")
    barrier, results = context.Barrier(4), context.Queue()
    workers = [
        context.Process(target=_race, args=(str(tmp_path / "lake"), barrier, results))
        for _ in range(4)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
    outcomes = [results.get(timeout=5) for _ in workers]
    assert sum(outcome is not None for outcome in outcomes) == 1
