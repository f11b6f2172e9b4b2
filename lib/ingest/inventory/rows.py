"""Pure: one object of a CBR list answer -> the row(s) of its inventory table.

Values are converted as the operation logs' are (`lib.ingest.flatten`): a conversion that loses
nothing is made and counted, an impossible one sets null and is counted, a field the API does not
document stays in `raw_json` and is counted as drift (by dotted path, `[]` for list elements,
prefixed with the table). Nothing here fails a row. No I/O.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from lib.core.inventory_schema import (
    BACKUPS,
    BOOL,
    POLICIES,
    PROTECTABLES,
    VAULT_RESOURCES,
    VAULTS,
    InventoryTable,
    Known,
)
from lib.core.runtime import Scrub, no_scrub
from lib.ingest.flatten import Converter, FlattenReport, converter_for, raw_json
from lib.ingest.inventory.schedule import read_schedule, start_date

Row = dict[str, Any]
Item = dict[str, Any]
TRUE_FALSE = {"true": True, "false": False}


def _to_bool(value: Any, path: str, report: FlattenReport) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in TRUE_FALSE:
        report.coerced.append(path)
        return TRUE_FALSE[value.lower()]
    report.nulled.append(path)  # 0/1 as true/false would be a guess, not a conversion
    return None


def _converter(table: InventoryTable, name: str) -> Converter:
    type_ = next(f.type for f in table.fields if f.name == name)
    return _to_bool if type_ == BOOL else converter_for(type_)


_CONVERTERS: dict[str, dict[str, Converter]] = {
    table.name: {f.name: _converter(table, f.name) for f in table.fields if not f.derived}
    for table in (VAULTS, VAULT_RESOURCES, POLICIES, PROTECTABLES, BACKUPS)
}


@dataclass
class InventoryReport:
    """What building a snapshot's rows noticed, by `table.path`."""

    drift: Counter[str] = field(default_factory=Counter)  # undocumented fields
    coerced: Counter[str] = field(default_factory=Counter)
    nulled: Counter[str] = field(default_factory=Counter)
    notes: list[str] = field(default_factory=list)  # e.g. the trigger patterns not read


@dataclass
class RowBuilder:
    """Rows of one snapshot: every row carries the project, the snapshot's ID and its time."""

    project_id: str
    snapshot_id: str
    snapshot_at: datetime
    scrub: Scrub = no_scrub
    report: InventoryReport = field(default_factory=InventoryReport)

    def vault(self, vault: Item, policy_id: str | None) -> tuple[Row, list[Row]]:
        """The vault's row and one row per entry of its resources[]."""
        row = self._row(VAULTS, vault)
        resources = vault.get("resources")
        entries = (
            [r for r in resources if isinstance(r, dict)] if isinstance(resources, list) else []
        )
        row["policy_id"] = policy_id
        row["resource_count"] = len(resources) if isinstance(resources, list) else None
        members = []
        for entry in entries:
            member = self._row(VAULT_RESOURCES, entry, walk=False)  # walked with the vault
            member["vault_id"] = row["id"]
            members.append(member)
        return row, members

    def policy(self, policy: Item) -> Row:
        row = self._row(POLICIES, policy)
        vaults = policy.get("associated_vaults")
        row["vault_ids"] = [
            a["vault_id"]
            for a in (vaults if isinstance(vaults, list) else [])
            if isinstance(a, dict) and isinstance(a.get("vault_id"), str)
        ]
        trigger = policy.get("trigger")
        properties = trigger.get("properties") if isinstance(trigger, dict) else None
        start = start_date(properties.get("start_time")) if isinstance(properties, dict) else None
        schedule = read_schedule(row["patterns"] or [], start)
        row["max_interval_hours"] = schedule.max_interval_hours
        if schedule.unreadable:
            self.report.drift["policies.trigger.properties.pattern[]"] += len(schedule.unreadable)
            self.report.notes.append(f"policy {row['id']}: patterns not read: {schedule.reason}")
        return row

    def protectable(self, instance: Item, protectable_type: str) -> Row:
        """The resource's row; its raw_json leaves out the embedded vault (`vaults` holds it)."""
        row = self._row(PROTECTABLES, instance, raw=_without_vault(instance))
        row["protectable_type"] = protectable_type
        return row

    def backup(self, backup: Item) -> Row:
        return self._row(BACKUPS, backup)

    def _row(
        self, table: InventoryTable, item: Item, *, raw: Item | None = None, walk: bool = True
    ) -> Row:
        report = FlattenReport()
        row: Row = {
            "project_id": self.project_id,
            "snapshot_id": self.snapshot_id,
            "snapshot_at": self.snapshot_at,
        }
        converters = _CONVERTERS[table.name]
        for column in table.fields:
            row[column.name] = None
            if column.derived:
                continue
            value, where = _first_present(item, column.paths)
            if value is not None:
                row[column.name] = converters[column.name](value, where, report)
        if table.raw_json:
            row["raw_json"] = self._text(item if raw is None else raw)
        if walk:
            report.drift.extend(undocumented(item, table.known))
        self._count(table.name, report)
        return row

    def _text(self, item: Item) -> str:
        text = raw_json(item)
        return self.scrub(text)

    def _count(self, table: str, report: FlattenReport) -> None:
        for counter, paths in (
            (self.report.drift, report.drift),
            (self.report.coerced, report.coerced),
            (self.report.nulled, report.nulled),
        ):
            counter.update(f"{table}.{path}" for path in paths)


def _first_present(item: Item, paths: Iterable[tuple[str, ...]]) -> tuple[Any, str]:
    """The first non-null value at one of the paths, and that path (dotted)."""
    last = ""
    for path in paths:
        value: Any = item
        for key in path:
            value = value.get(key) if isinstance(value, dict) else None
        last = ".".join(path)
        if value is not None:
            return value, last
    return None, last


def undocumented(item: Item, known: Known, prefix: str = "") -> list[str]:
    """The paths of the fields of `item` (and of its documented objects) that `known` lacks."""
    found = []
    for key, value in item.items():
        if key in known:
            below = known[key]
            if isinstance(below, dict) and isinstance(value, dict):
                found += undocumented(value, below, f"{prefix}{key}.")
        elif f"{key}[]" in known:
            if isinstance(value, list):
                for element in value:
                    if isinstance(element, dict):
                        found += undocumented(element, known[f"{key}[]"], f"{prefix}{key}[].")
        else:
            found.append(prefix + key)
    return found


def _without_vault(instance: Item) -> Item:
    protectable = instance.get("protectable")
    if not isinstance(protectable, dict) or "vault" not in protectable:
        return instance
    return {**instance, "protectable": {k: v for k, v in protectable.items() if k != "vault"}}


def vault_policies(policies: Iterable[Item]) -> dict[str, str]:
    """vault ID -> the backup policy bound to it (from `associated_vaults`); where two claim one
    vault (the API allows one), the enabled one, then the lower ID."""
    ranked = sorted(
        (
            p
            for p in policies
            if p.get("operation_type") == "backup" and isinstance(p.get("id"), str)
        ),
        key=lambda p: (p.get("enabled") is not True, p["id"]),
    )
    bound: dict[str, str] = {}
    for policy in ranked:
        vaults = policy.get("associated_vaults")
        for entry in vaults if isinstance(vaults, list) else []:
            if isinstance(entry, dict) and isinstance(entry.get("vault_id"), str):
                bound.setdefault(entry["vault_id"], policy["id"])
    return bound


def identity(table: str, row: Mapping[str, Any]) -> str:
    """What a row is within its snapshot (names files, and tells repeated items apart)."""
    key: Callable[[Mapping[str, Any]], str] = _IDENTITIES.get(table, lambda r: str(r.get("id")))
    return key(row)


_IDENTITIES: dict[str, Callable[[Mapping[str, Any]], str]] = {
    VAULT_RESOURCES.name: lambda r: f"{r.get('vault_id')}|{r.get('resource_id')}",
    PROTECTABLES.name: lambda r: f"{r.get('protectable_type')}|{r.get('resource_id')}",
}
