"""Which inventory snapshots are complete, and reading them back.

A snapshot's Parquet files are written first; only then does the project's state document
`_state/inventory/{project_id}.json` name it, by a compare-and-swap (S3 conditional writes, a
locked rename locally), so two runs never overwrite each other unseen:

    {"project_id": "...",
     "snapshot_id": "...", "snapshot_at": "...Z", "rows": {"vaults": 3, ...},   # the latest
     "snapshots": [                                     # every one still kept, oldest first
        {"snapshot_id": "...", "snapshot_at": "...Z", "dt": "YYYY-MM-DD",
         "rows": {"vaults": 3, "vault_resources": 9, "policies": 2, ...},
         "files": {"vaults": ["inventory/vaults/dt=.../part-....parquet"], ...}}, ...],
     "updated_at": "...Z"}

Readers use only snapshots a state document names: per project, the latest at or before the time
they evaluate (`Snapshots.latest`), and of it only the files it names (`read_table`). A run that
failed named nothing, so the snapshot before it stays in force. Every read and write goes through
the ObjectStore port, so the function and the operator tools read the same way.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from lib.core.errors import OplogLakeError, SinkError
from lib.core.ids import is_valid_id
from lib.core.inventory_schema import (
    INVENTORY_PREFIX,
    INVENTORY_STATE_PREFIX,
    INVENTORY_TABLES,
)
from lib.core.schema import PARTITION_KEY
from lib.core.times import format_utc, now_utc, parse_utc, utc_day
from lib.lake.storage import ObjectStore

PUBLISH_ATTEMPTS = 5


@dataclass(frozen=True)
class Snapshot:
    """One published snapshot of one project: when it was taken, its row counts, its files."""

    project_id: str
    snapshot_id: str
    snapshot_at: datetime
    rows: Mapping[str, int] = field(default_factory=dict)
    files: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    @property
    def dt(self) -> str:
        return utc_day(self.snapshot_at)

    def to_json(self) -> dict[str, Any]:
        return {
            "snapshot_id": self.snapshot_id,
            "snapshot_at": format_utc(self.snapshot_at),
            "dt": self.dt,
            "rows": dict(self.rows),
            "files": {table: list(keys) for table, keys in self.files.items()},
        }

    @classmethod
    def from_json(cls, project_id: str, document: Mapping[str, Any]) -> Snapshot:
        rows, files = document.get("rows") or {}, document.get("files") or {}
        return cls(
            project_id,
            str(document["snapshot_id"]),
            parse_utc(str(document["snapshot_at"])),
            {str(table): int(count) for table, count in rows.items()},
            {str(table): tuple(str(key) for key in keys) for table, keys in files.items()},
        )


class SnapshotStateUnreadable(SinkError):
    """A state document exists but is not one this product wrote."""


def state_key(project_id: str) -> str:
    if not is_valid_id(project_id):
        raise ValueError(f"refusing inventory state for project {project_id!r}")
    return f"{INVENTORY_STATE_PREFIX}{project_id}.json"


def state_document(project_id: str, history: Sequence[Snapshot], now: datetime) -> bytes:
    document: dict[str, Any] = {"project_id": project_id}
    if history:
        latest = history[-1]
        document.update(
            snapshot_id=latest.snapshot_id,
            snapshot_at=format_utc(latest.snapshot_at),
            rows=dict(latest.rows),
        )
    document["snapshots"] = [snapshot.to_json() for snapshot in history]
    document["updated_at"] = format_utc(now)
    return json.dumps(document, sort_keys=True, ensure_ascii=False).encode()


class Snapshots:
    """The published snapshots of one lake, project by project."""

    def __init__(self, store: ObjectStore) -> None:
        self.store = store

    def history(self, project_id: str) -> list[Snapshot]:
        """Every snapshot the project's state names, oldest first ([] when it has none)."""
        found = self.store.read_versioned(state_key(project_id))
        return [] if found is None else _parse(project_id, found.data)

    def projects(self) -> list[str]:
        """The projects with a state document."""
        names = (key.rsplit("/", 1)[-1] for key in self.store.list(INVENTORY_STATE_PREFIX))
        return sorted(
            name.removesuffix(".json")
            for name in names
            if name.endswith(".json") and is_valid_id(name.removesuffix(".json"))
        )

    def publish(self, snapshot: Snapshot) -> list[Snapshot]:
        """Name the snapshot in its project's state (after its files exist); the history now."""
        return self._change(snapshot.project_id, lambda history: [*history, snapshot])[1]

    def latest(
        self, at: datetime | None = None, projects: Iterable[str] | None = None
    ) -> tuple[list[Snapshot], list[str]]:
        """Per project, the latest snapshot taken at or before `at` (default now), and a note
        for each project whose state could not be read (that project is left out)."""
        moment = at or now_utc()
        chosen, notes = [], []
        for project_id in projects if projects is not None else self.projects():
            try:
                taken = [s for s in self.history(project_id) if s.snapshot_at <= moment]
            except (OplogLakeError, OSError) as exc:
                notes.append(f"inventory state of {project_id} is unreadable: {exc}")
                continue
            if taken:
                chosen.append(taken[-1])
        return chosen, notes

    def expire(self, before: datetime) -> tuple[list[Snapshot], set[str]]:
        """Take every snapshot taken before `before` out of its project's state, except each
        project's latest: the snapshots taken out, and every file the states still name. A
        state that cannot be read is left alone (SnapshotStateUnreadable: nothing is deleted)."""

        def keep(history: list[Snapshot]) -> list[Snapshot]:
            return [s for s in history[:-1] if s.snapshot_at >= before] + history[-1:]

        removed: list[Snapshot] = []
        named: set[str] = set()
        for project_id in self.projects():
            before_change, kept = self._change(project_id, keep)
            kept_ids = {s.snapshot_id for s in kept}
            removed += [s for s in before_change if s.snapshot_id not in kept_ids]
            named.update(key for s in kept for keys in s.files.values() for key in keys)
        return removed, named

    def _change(
        self, project_id: str, change: Callable[[list[Snapshot]], list[Snapshot]]
    ) -> tuple[list[Snapshot], list[Snapshot]]:
        """Apply `change` to the project's history by compare-and-swap, reading again after a
        lost race: (the history it was applied to, the history written)."""
        key = state_key(project_id)
        for _ in range(PUBLISH_ATTEMPTS):
            found = self.store.read_versioned(key)
            history = [] if found is None else _parse(project_id, found.data)
            changed = _ordered(change(history))
            if changed == history and found is not None:
                return history, history
            document = state_document(project_id, changed, now_utc())
            if self.store.put_if(key, document, None if found is None else found.version):
                return history, changed
        raise SinkError(f"{key} kept changing under {PUBLISH_ATTEMPTS} attempts to update it")


def _ordered(history: Iterable[Snapshot]) -> list[Snapshot]:
    """Oldest first, one entry per snapshot ID (the later given wins)."""
    by_id = {snapshot.snapshot_id: snapshot for snapshot in history}
    return sorted(by_id.values(), key=lambda s: (s.snapshot_at, s.snapshot_id))


def _parse(project_id: str, data: bytes) -> list[Snapshot]:
    try:
        document = json.loads(data)
        return _ordered(Snapshot.from_json(project_id, s) for s in document["snapshots"])
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise SnapshotStateUnreadable(
            f"the inventory state {state_key(project_id)} cannot be read ({exc}): move it aside "
            "to start the project's snapshots afresh"
        ) from None


def remove_expired(store: ObjectStore, keep_days: int, now: datetime) -> dict[str, Any]:
    """Retention: snapshots taken more than `keep_days` before `now` leave their project's state
    (never its latest), then their files are deleted, with any file in a partition that old that
    no state names (left by a run that failed). A state that cannot be read stops it all."""
    cutoff = now - timedelta(days=keep_days)
    try:
        removed, named = Snapshots(store).expire(cutoff)
    except SnapshotStateUnreadable as exc:
        return {
            "inventory_snapshots_removed": 0,
            "inventory_files_removed": 0,
            "inventory_retention_error": str(exc),
        }
    doomed = {key for s in removed for keys in s.files.values() for key in keys}
    last_day = utc_day(cutoff)
    for key in store.list(f"{INVENTORY_PREFIX}/"):
        day = _partition_day(key)
        if day is not None and day < last_day:
            doomed.add(key)
    gone = sorted(doomed - named)
    for key in gone:
        store.delete(key)
    return {"inventory_snapshots_removed": len(removed), "inventory_files_removed": len(gone)}


def _partition_day(key: str) -> str | None:
    """`inventory/{table}/dt=YYYY-MM-DD/{file}` -> its day; None for any other key."""
    parts = key.split("/")
    if len(parts) != 4 or not parts[2].startswith(f"{PARTITION_KEY}="):
        return None
    return parts[2].removeprefix(f"{PARTITION_KEY}=")


def read_table(
    store: ObjectStore,
    table: str,
    snapshots: Sequence[Snapshot],
    columns: Sequence[str] | None = None,
) -> pa.Table:
    """The rows of one inventory table in these snapshots, read from the files they name only,
    in the declared schema (or its `columns`); an empty table when they hold none."""
    declared = INVENTORY_TABLES[table].schema
    schema = declared if columns is None else pa.schema([declared.field(c) for c in columns])
    parts = []
    for snapshot in snapshots:
        for key in snapshot.files.get(table, ()):
            file = pq.ParquetFile(pa.BufferReader(store.get(key)))
            wanted = {*schema.names, "snapshot_id"}  # the columns asked for only (no raw_json)
            read = file.read(columns=[c for c in file.schema_arrow.names if c in wanted])
            read = read.filter(pc.equal(read["snapshot_id"], snapshot.snapshot_id))
            parts.append(_conform(read, schema))
    return pa.concat_tables(parts) if parts else schema.empty_table()


def _conform(table: pa.Table, schema: pa.Schema) -> pa.Table:
    """A file's rows with exactly the schema's columns (a column it lacks is null)."""
    columns = [
        table[f.name].cast(f.type) if f.name in table.column_names else pa.nulls(len(table), f.type)
        for f in schema
    ]
    return pa.Table.from_arrays(columns, schema=schema)


@dataclass(frozen=True)
class InventoryView:
    """The inventory as of one moment: per project its latest snapshot at or before it, and the
    rows of those snapshots by table."""

    snapshots: list[Snapshot]
    tables: dict[str, pa.Table]
    notes: list[str]

    def snapshot_of(self, project_id: str) -> Snapshot | None:
        return next((s for s in self.snapshots if s.project_id == project_id), None)


def read_inventory(
    store: ObjectStore,
    at: datetime | None = None,
    projects: Iterable[str] | None = None,
    tables: Iterable[str] | None = None,
) -> InventoryView:
    """Every table (or those named) of the latest complete snapshot of each project (or of
    those named) taken at or before `at` (default now)."""
    snapshots, notes = Snapshots(store).latest(at, projects)
    names = list(tables) if tables is not None else list(INVENTORY_TABLES)
    return InventoryView(
        snapshots, {name: read_table(store, name, snapshots) for name in names}, notes
    )
