"""One inventory snapshot per project: read every list, write the five tables, then publish.

For each project: ListPolicies first (one request), so each vault's row can name its backup
policy; then ListVault (the `vaults` and `vault_resources` tables), ListProtectable for each type
asked for, and ListBackups. Rows are written as each page arrives (`TableFile`, one per table),
and the snapshot is published (named in the project's state, `lib.lake.snapshots`) only once
every list was read whole and every file is in the lake. A failed request, a list that cannot be
read whole, a failed write or the time budget stop the project before that: the files it wrote
are deleted again and the snapshot in force stays the one before.
"""

from __future__ import annotations

import functools
import logging
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from lib.cbr.client import CbrClient, FetchStats
from lib.core.errors import AccessError, FetchError, SinkError
from lib.core.inventory_schema import INVENTORY_TABLES
from lib.core.runtime import Deadline, Scrub, log_event, no_scrub
from lib.core.times import format_utc, now_utc, utc_day
from lib.ingest.inventory.paging import Emit, IncompleteList, ListReader, ListSpec
from lib.ingest.inventory.rows import Item, RowBuilder, identity, vault_policies
from lib.lake.snapshots import Snapshot, Snapshots
from lib.lake.storage import ObjectStore
from lib.lake.writer import TableFile

MIN_LIST_S = 2.0  # do not start a list with less time than this left

POLICIES_LIST = ListSpec(
    "ListPolicies", ("policies",), "policies", "single", None, {}, "cbr:policies:list"
)
# Each vault embeds its resources[]: 100 a page keeps a page of large vaults well under the
# client's cap on a body.
VAULTS_LIST = ListSpec("ListVault", ("vaults",), "vaults", "offset", 100, {}, "cbr:vaults:list")
# Newest first: a backup made while the list is read shifts the pages after it (met again, and
# read again), where oldest first would let an expiring one shift a page past an item unseen.
BACKUPS_LIST = ListSpec(
    "ListBackups",
    ("backups",),
    "backups",
    "offset",
    1000,
    {"sort": "created_at:desc,id:desc"},
    "cbr:backups:list",
)


def protectables_list(protectable_type: str) -> ListSpec:
    return ListSpec(
        f"ListProtectable {protectable_type}",
        ("protectables", protectable_type, "instances"),
        "instances",
        "marker",
        50,  # the API's most per page
        {},
        "cbr:vaults:listProtectables (with ecs:cloudServers:list and evs:volumes:list)",
    )


@dataclass
class ProjectSnapshot:
    """What one project's snapshot run did."""

    project_id: str
    snapshot_id: str
    snapshot_at: datetime
    stopped_by: str = "done"  # done, time, request_failed, list_incomplete, write_failed
    error: str | None = None
    published: bool = False
    rows: dict[str, int] = field(default_factory=dict)
    pages: dict[str, int] = field(default_factory=dict)  # by list API
    requests: int = 0
    bytes: int = 0
    drift: int = 0
    nulled: int = 0
    in_force: str | None = None  # the snapshot readers use after this run
    in_force_at: datetime | None = None

    @property
    def failed(self) -> bool:
        return not self.published

    def as_dict(self) -> dict[str, Any]:
        return {
            key: format_utc(value) if isinstance(value, datetime) else value
            for key, value in self.__dict__.items()
        }


class _OutOfTime(Exception):
    """The budget left is too short to start the next list."""


class _Stopped(Exception):
    """A request failed; the run says which and why."""


class Inventory:
    """Takes snapshots of projects into one lake."""

    def __init__(
        self,
        client: CbrClient,
        store: ObjectStore,
        types: Sequence[str],
        *,
        scrub: Scrub = no_scrub,
        clock: Callable[[], datetime] = now_utc,
    ) -> None:
        self.client, self.store, self.types = client, store, tuple(types)
        self.scrub, self.clock = scrub, clock
        self.snapshots = Snapshots(store)
        # The level of each snapshot's summary line; the CLI lowers it, having said it in words.
        self.done_level: int | None = None

    def run(self, projects: Sequence[str], deadline: Deadline) -> list[ProjectSnapshot]:
        return [self.snapshot(project_id, deadline) for project_id in dict.fromkeys(projects)]

    def snapshot(self, project_id: str, deadline: Deadline) -> ProjectSnapshot:
        at = self.clock()
        run = ProjectSnapshot(project_id, f"{at:%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:8]}", at)
        builder = RowBuilder(project_id, run.snapshot_id, at, self.scrub)
        files = {
            name: TableFile(self.store, table.path, table.schema, utc_day(at))
            for name, table in INVENTORY_TABLES.items()
        }
        reader = ListReader(self.client, project_id, deadline, FetchStats())
        try:
            self._read_all(reader, builder, files, run)
            keys = {name: tuple(file.finish()) for name, file in files.items()}
            run.rows = {name: file.rows for name, file in files.items()}
            run.bytes = sum(file.bytes for file in files.values())
            self.snapshots.publish(Snapshot(project_id, run.snapshot_id, at, run.rows, keys))
            run.published = True
        except _Stopped:
            pass  # stopped_by and error are set
        except _OutOfTime:
            run.stopped_by, run.error = "time", "the time budget ran out before every list was read"
        except IncompleteList as exc:
            run.stopped_by, run.error = "list_incomplete", str(exc)
        except SinkError as exc:
            run.stopped_by, run.error = "write_failed", str(exc)
        finally:
            run.requests = reader.fetch_stats.requests
            if not run.published:
                _discard(files.values())
        self._conclude(run, builder)
        return run

    def _read_all(
        self,
        reader: ListReader,
        builder: RowBuilder,
        files: dict[str, TableFile],
        run: ProjectSnapshot,
    ) -> None:
        policies: list[Item] = []
        self._read(reader, POLICIES_LIST, policies.extend, run)
        self._add(files, "policies", [builder.policy(p) for p in policies], run)
        bound = vault_policies(policies)

        def vaults(page: list[Item]) -> None:
            built = [builder.vault(v, bound.get(str(v.get("id")))) for v in page]
            self._add(files, "vaults", [row for row, _ in built], run)
            self._add(files, "vault_resources", [m for _, members in built for m in members], run)

        def into(table: str, build: Callable[[Item], dict[str, Any]]) -> Emit:
            return lambda page: self._add(files, table, [build(item) for item in page], run)

        self._read(reader, VAULTS_LIST, vaults, run)
        for kind in self.types:
            build = functools.partial(builder.protectable, protectable_type=kind)
            self._read(reader, protectables_list(kind), into("protectables", build), run)
        self._read(reader, BACKUPS_LIST, into("backups", builder.backup), run)

    def _read(self, reader: ListReader, spec: ListSpec, emit: Emit, run: ProjectSnapshot) -> None:
        """One whole list; a request that failed becomes the run's reason to stop."""
        if reader.deadline.remaining() < MIN_LIST_S:
            raise _OutOfTime
        try:
            stats = reader.read(spec, emit)
        except FetchError as exc:
            if reader.deadline.remaining() < MIN_LIST_S:
                raise _OutOfTime from None
            hint = (
                f" (the IAM user needs {spec.permission})" if isinstance(exc, AccessError) else ""
            )
            run.stopped_by, run.error = "request_failed", f"{spec.name}: {exc}{hint}"
            raise _Stopped from None
        run.pages[spec.name] = stats.pages

    @staticmethod
    def _add(
        files: dict[str, TableFile], table: str, rows: list[dict[str, Any]], run: ProjectSnapshot
    ) -> None:
        files[table].add(rows, [f"{run.snapshot_id}|{identity(table, row)}" for row in rows])

    def _conclude(self, run: ProjectSnapshot, builder: RowBuilder) -> None:
        report = builder.report
        run.drift, run.nulled = report.drift.total(), report.nulled.total()
        try:
            latest = self.snapshots.history(run.project_id)[-1:]
        except (SinkError, OSError) as exc:
            log_event(logging.WARNING, f"the inventory state cannot be read: {exc}")
            latest = []
        if latest:
            run.in_force, run.in_force_at = latest[0].snapshot_id, latest[0].snapshot_at
        if report.drift or report.nulled:
            drifted = report.drift + report.nulled
            log_event(logging.WARNING, "schema drift", counts=dict(drifted.most_common(50)))
        for note in report.notes[:20]:
            log_event(logging.WARNING, note, project_id=run.project_id)
        level = logging.ERROR if run.failed else logging.INFO
        log_event(
            level if self.done_level is None else self.done_level,
            "inventory snapshot done",
            **run.as_dict(),
        )


def _discard(files: Any) -> None:
    """Delete the files of a snapshot that will not be published (best effort: files no state
    names are never read, and retention removes what is left)."""
    for file in files:
        try:
            file.discard()
        except SinkError as exc:
            log_event(logging.WARNING, f"could not delete an unpublished file: {exc}")


def summarize(runs: Sequence[ProjectSnapshot]) -> dict[str, Any]:
    """An inventory invocation's result: each project's run, and the figures metrics need."""
    return {
        "projects": [run.as_dict() for run in runs],
        "snapshots": sum(run.published for run in runs),
        "inventory_failures": sum(run.failed for run in runs),
        "requests": sum(run.requests for run in runs),
        "drift": sum(run.drift for run in runs),
        "nulled": sum(run.nulled for run in runs),
    }
