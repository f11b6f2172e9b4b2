"""The inventory snapshot in force, as relations the report SQL reads.

Per project, the snapshot in force at the evaluation time is the latest one its state document
(`_state/inventory/{project_id}.json`) names that was taken at or before it
(lib/lake/snapshots.py): a snapshot no state names, or one taken later, is never read. The SQL
reads it through six relations, the same on both engines:

- `snapshots_in_force`: one row per project with a snapshot in force (project_id, snapshot_id,
  snapshot_at, dt);
- `snapshot_vaults`, `snapshot_vault_resources`, `snapshot_policies`, `snapshot_protectables`,
  `snapshot_backups`: the rows of those snapshots, in the columns of the lake's tables
  (lib/core/inventory_schema.py) less `raw_json`.

The CLI registers them in DuckDB as Arrow tables read through the lake's snapshot reader; the
Athena queries compute them from the Glue tables (lib/reports/athena_inventory.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import pyarrow as pa

from lib.core.errors import OplogLakeError
from lib.core.inventory_schema import INVENTORY_TABLES
from lib.core.schema import STRING, TIMESTAMP
from lib.core.settings import LakeLocation
from lib.core.times import format_second
from lib.lake.snapshots import Snapshot, Snapshots, read_table
from lib.lake.storage import open_store
from lib.reports.declaration import ReportError
from lib.reports.result import InForce

IN_FORCE = "snapshots_in_force"
PREFIX = "snapshot_"
# relation -> the lake table it holds the rows of, in the order they are defined
SNAPSHOT_TABLES = {f"{PREFIX}{name}": name for name in INVENTORY_TABLES}
RELATIONS = (IN_FORCE, *SNAPSHOT_TABLES)
IN_FORCE_SCHEMA = pa.schema(
    [("project_id", STRING), ("snapshot_id", STRING), ("snapshot_at", TIMESTAMP), ("dt", STRING)]
)


def columns_of(table: str) -> list[str]:
    """The columns a snapshot relation has: the lake table's, less raw_json (read by no SQL)."""
    return [name for name in INVENTORY_TABLES[table].schema.names if name != "raw_json"]


@dataclass
class LakeInventory:
    """The lake's published snapshots, read once per report run."""

    lake: LakeLocation
    notes: list[str] = field(default_factory=list)
    _projects: list[str] | None = None
    _in_force: dict[datetime | None, list[Snapshot]] = field(default_factory=dict)
    _tables: dict[tuple[str, datetime | None], pa.Table] = field(default_factory=dict)

    def _snapshots(self) -> Snapshots:
        return Snapshots(open_store(self.lake))

    def projects(self) -> list[str]:
        """The projects with an inventory state (none when the lake has no inventory)."""
        if self._projects is None:
            try:
                self._projects = self._snapshots().projects()
            except (OplogLakeError, OSError) as exc:
                raise ReportError(
                    f"the inventory state in {self.lake.uri} cannot be listed: {exc}"
                ) from None
        return self._projects

    def exists(self) -> bool:
        """Whether any project has a state document: then the inventory controls run."""
        return bool(self.projects())

    def in_force(self, at: datetime | None) -> list[Snapshot]:
        """Per project, the latest snapshot its state names taken at or before `at`."""
        if at not in self._in_force:
            chosen, notes = self._snapshots().latest(at, self.projects())
            self.notes.extend(note for note in notes if note not in self.notes)
            self._in_force[at] = chosen
        return self._in_force[at]

    def by_project(self, at: datetime | None) -> tuple[InForce, ...]:
        """(project, snapshot ID, taken at) of the snapshot in force of each project with a
        readable state; (project, None, None) where none was taken by `at`."""
        chosen = {s.project_id: s for s in self.in_force(at)}
        found: list[InForce] = []
        for project in self.projects():
            if any(note.startswith(f"inventory state of {project} ") for note in self.notes):
                continue  # unreadable: its note says so
            snapshot = chosen.get(project)
            if snapshot is None:
                found.append((project, None, None))
            else:
                found.append((project, snapshot.snapshot_id, snapshot.snapshot_at))
        return tuple(found)

    def statements(self, at: datetime | None) -> list[str]:
        """One sentence per project: the snapshot the reports judged by, or that there is none."""
        lines = []
        for project, snapshot_id, taken in self.by_project(at):
            if snapshot_id is None or taken is None:
                lines.append(f"inventory of {project}: no snapshot taken by the evaluation time")
            else:
                taken_at = format_second(taken)
                lines.append(f"inventory of {project}: snapshot {snapshot_id} taken at {taken_at}")
        return lines + self.notes

    def relation(self, name: str, at: datetime | None) -> pa.Table:
        """One of RELATIONS as an Arrow table."""
        if name == IN_FORCE:
            return in_force_table(self.in_force(at))
        key = (name, at)
        if key not in self._tables:
            table = SNAPSHOT_TABLES[name]
            try:
                store = open_store(self.lake)
                self._tables[key] = read_table(store, table, self.in_force(at), columns_of(table))
            except (OplogLakeError, OSError) as exc:
                raise ReportError(f"the inventory table {table} cannot be read: {exc}") from None
        return self._tables[key]


def in_force_table(snapshots: Sequence[Snapshot]) -> pa.Table:
    rows: dict[str, list[Any]] = {name: [] for name in IN_FORCE_SCHEMA.names}
    for snapshot in snapshots:
        rows["project_id"].append(snapshot.project_id)
        rows["snapshot_id"].append(snapshot.snapshot_id)
        rows["snapshot_at"].append(snapshot.snapshot_at)
        rows["dt"].append(snapshot.dt)
    return pa.table(rows, schema=IN_FORCE_SCHEMA)
