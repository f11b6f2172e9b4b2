"""The inventory's state documents and table files on a real store: races, damage, file names."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from lib.core.errors import SinkError
from lib.core.inventory_schema import BACKUPS
from lib.lake.snapshots import (
    Snapshot,
    Snapshots,
    SnapshotStateUnreadable,
    remove_expired,
    state_key,
)
from lib.lake.storage import LocalStore
from lib.lake.writer import TableFile

PROJECT = "04f1829c788037ac2fb8c01eb2b04b95"


def taken(day: int, name: str = "") -> Snapshot:
    return Snapshot(
        PROJECT, name or f"s{day}", datetime(2026, 11, day, tzinfo=UTC), {"vaults": day}
    )


class RacingStore(LocalStore):
    """A store where another writer publishes between our read and our conditional write."""

    def __init__(self, root: Path, rival: Snapshot) -> None:
        super().__init__(root)
        self.rival: Snapshot | None = rival

    def put_if(self, key: str, data: bytes, version: str | None) -> str | None:
        if self.rival is not None:
            rival, self.rival = self.rival, None
            Snapshots(LocalStore(self.root)).publish(rival)
        return super().put_if(key, data, version)


def test_a_publish_that_loses_a_race_reads_again_and_keeps_both(tmp_path: Path) -> None:
    Snapshots(LocalStore(tmp_path)).publish(taken(1))
    store = RacingStore(tmp_path, rival=taken(3))

    history = Snapshots(store).publish(taken(2))

    assert [s.snapshot_id for s in history] == ["s1", "s2", "s3"]
    document = json.loads((tmp_path / state_key(PROJECT)).read_text())
    assert document["snapshot_id"] == "s3"  # the latest by time, whoever wrote last
    assert [s["snapshot_id"] for s in document["snapshots"]] == ["s1", "s2", "s3"]


def test_a_damaged_state_is_refused_and_retention_then_deletes_nothing(tmp_path: Path) -> None:
    store = LocalStore(tmp_path)
    (tmp_path / "_state" / "inventory").mkdir(parents=True)
    (tmp_path / state_key(PROJECT)).write_text('{"snapshots": [{"snapshot_id": 1}]}')
    old = (
        tmp_path
        / "inventory"
        / "vaults"
        / "dt=2020-01-01"
        / "part-0123456789abcdef0123456789abcdef.parquet"
    )
    old.parent.mkdir(parents=True)
    old.write_bytes(b"x")

    with pytest.raises(SnapshotStateUnreadable, match="move it aside"):
        Snapshots(store).publish(taken(1))
    result = remove_expired(store, keep_days=1, now=datetime(2026, 12, 1, tzinfo=UTC))

    assert (
        result["inventory_files_removed"] == 0
        and "cannot be read" in result["inventory_retention_error"]
    )
    assert old.exists()
    latest, notes = Snapshots(store).latest()
    assert latest == [] and "unreadable" in notes[0]


def test_table_files_are_cut_by_size_and_named_by_their_rows(tmp_path: Path) -> None:
    store = LocalStore(tmp_path)
    snapshot_at = datetime(2026, 11, 1, tzinfo=UTC)

    def write(rows: int, target_bytes: int) -> TableFile:
        file = TableFile(
            store,
            BACKUPS.path,
            BACKUPS.schema,
            "2026-11-01",
            target_bytes=target_bytes,
            group_rows=100,
        )
        for start in range(0, rows, 250):
            page = [
                {
                    "project_id": PROJECT,
                    "snapshot_id": "s1",
                    "snapshot_at": snapshot_at,
                    "id": f"b{n}",
                    "raw_json": hashlib.sha256(str(n).encode()).hexdigest() * 4,
                }
                for n in range(start, min(rows, start + 250))
            ]
            file.add(page, [f"s1|{row['id']}" for row in page])
        file.finish()
        return file

    small = write(1000, target_bytes=20_000)
    assert len(small.keys) > 1 and small.rows == 1000
    assert sum(pq.read_table(tmp_path / key).num_rows for key in small.keys) == 1000
    again = write(1000, target_bytes=20_000)
    assert again.keys == small.keys  # the same rows, the same names: a rewrite replaces
    again.discard()
    assert not any((tmp_path / key).exists() for key in small.keys)


def test_rows_that_do_not_fit_the_schema_fail_the_write_in_one_sentence(tmp_path: Path) -> None:
    file = TableFile(LocalStore(tmp_path), BACKUPS.path, BACKUPS.schema, "2026-11-01")
    with pytest.raises(SinkError, match="cannot encode 1 inventory/backups rows"):
        file.add([{"id": ["not", "a", "string"]}], ["x"])
