"""Compaction leaves nothing of Python's to pyarrow's worker threads, so it cannot abort at exit.

pyarrow's Parquet reader hands its source to worker threads, and a worker may drop the last
reference to it after the read returned. When that source is memory a Python object owns (the
bytes the store returned), freeing it takes the interpreter's lock; a worker that asks for the
lock while the interpreter exits is stopped mid-unwind and the process aborts with "terminate
called without an active exception", exit 134, after the command printed its result: about once
in a hundred compactions under concurrent writers (a core dump shows the worker in
`PyBuffer::~PyBuffer` -> `PyGILState_Ensure` -> `pthread_exit` during `Py_FinalizeEx`).

The race at exit is rare; what makes it possible is not. Before the fix, a compaction of 20 small
files let a pyarrow worker free some thirty of the objects the store returned; now the store's
bytes are copied into Arrow's memory, so every one is freed by the main thread, all of them before
the compaction returns (with the cycle collector off, so none waits for it).
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import ClassVar

import pytest

from lib.ingest.flatten import flatten
from lib.lake.compact import Compactor, Selection
from lib.lake.storage import LocalStore
from lib.lake.writer import Lake

from conftest import fixture_logs, read_rows


class Handed(bytes):
    """The bytes of one object read from the store, counted while alive, and the threads
    other than the main one that let go of one."""

    alive = 0
    freed_elsewhere: ClassVar[list[str]] = []

    def __new__(cls, data: bytes) -> Handed:
        cls.alive += 1
        return super().__new__(cls, data)

    def __del__(self) -> None:
        type(self).alive -= 1
        if threading.current_thread() is not threading.main_thread():
            type(self).freed_elsewhere.append(threading.current_thread().name)


class CountingStore(LocalStore):
    """A local lake whose reads are counted until Python lets them go."""

    def get(self, key: str) -> bytes:
        return Handed(super().get(key))


def write_small_files(lake: Path, files: int = 20) -> None:
    template = next(iter(fixture_logs().values()))
    start = datetime(2026, 1, 5, 8, tzinfo=UTC)
    writer = Lake(LocalStore(lake))
    for n in range(files):
        moment = start + timedelta(minutes=n)
        logs = [
            {**template, "id": f"task-{n % 25}", "updated_at": moment.isoformat()},
            {
                **template,
                "id": f"once-{n}",
                "created_at": (moment + timedelta(days=n % 3)).isoformat(),
            },
        ]
        rows = [flatten(log, ingested_at=moment, source_message_id=f"m{n}")[0] for log in logs]
        writer.write(rows, [])


@pytest.fixture
def collector_off() -> Iterator[None]:
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def test_no_object_read_from_the_store_outlives_the_compaction(
    lake: Path, collector_off: None
) -> None:
    # GIVEN a lake of many small files in several partitions
    write_small_files(lake)
    before = sorted((r["id"], r["updated_at"]) for r in read_rows(lake))
    Handed.alive, Handed.freed_elsewhere = 0, []
    # WHEN they are compacted, with Python's cycle collector off
    summary = Compactor(CountingStore(lake)).run(Selection(older_than_days=0)).as_dict()
    # THEN every file was rewritten, and no byte the store handed out is still held
    assert summary["compacted"] == summary["partitions_seen"] >= 3, summary
    assert Handed.alive == 0
    assert Handed.freed_elsewhere == []
    after = sorted((r["id"], r["updated_at"]) for r in read_rows(lake))
    assert after == sorted({(i, max(u for j, u in before if j == i)) for i, _ in before})
