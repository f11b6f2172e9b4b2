"""The inventory's tables, declared once as data (as `lib.core.schema` declares the operation logs).

Each table says where its rows come from (a CBR list API), its columns with the path of each value
in the API's object (alternatives: the first present wins; no path: the flattener derives it), and
the fields the API documents for that object. A field outside those stays in `raw_json` and is
counted as drift. The Arrow
schemas, the docs' column tables and the readers all come from `INVENTORY_TABLES`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from lib.core.schema import INT32, INT64, PARTITION_KEY, STRING, TIMESTAMP

BOOL = pa.bool_()
FLOAT64 = pa.float64()
STRINGS = pa.list_(STRING)

INVENTORY_PREFIX = "inventory"
INVENTORY_STATE_PREFIX = "_state/inventory/"

# Every row of every table says which snapshot it belongs to.
SNAPSHOT_COLUMNS: tuple[tuple[str, pa.DataType], ...] = (
    ("project_id", STRING),
    ("snapshot_id", STRING),
    ("snapshot_at", TIMESTAMP),
)
SNAPSHOT_NOTES = {
    "project_id": "the project listed",
    "snapshot_id": "the snapshot the row belongs to",
    "snapshot_at": "when the snapshot was taken",
}
RAW_JSON_NOTE = "the object as the API answered it (compact JSON)"

Known = dict[str, Any]  # documented field -> None (a value) or the Known of its object
LEAF = None


@dataclass(frozen=True)
class Field:
    """One column: its name, its type, and the paths of its value in the API object."""

    name: str
    type: pa.DataType
    paths: tuple[tuple[str, ...], ...] = ()
    note: str = ""  # where a derived value comes from

    @property
    def derived(self) -> bool:
        return not self.paths


def _field(name: str, type_: pa.DataType, *paths: str) -> Field:
    return Field(name, type_, tuple(tuple(path.split(".")) for path in paths))


def _derived(name: str, type_: pa.DataType, note: str) -> Field:
    return Field(name, type_, (), note)


@dataclass(frozen=True)
class InventoryTable:
    name: str
    source: str  # the API and the list its rows come from
    fields: tuple[Field, ...]
    known: Known  # the documented fields of the source object ("x[]": a list of objects)
    raw_json: bool = True
    raw_note: str = RAW_JSON_NOTE

    @property
    def path(self) -> str:
        """Where the table lives in the lake: `inventory/{name}`."""
        return f"{INVENTORY_PREFIX}/{self.name}"

    @property
    def schema(self) -> pa.Schema:
        columns = [*SNAPSHOT_COLUMNS, *((f.name, f.type) for f in self.fields)]
        if self.raw_json:
            columns.append(("raw_json", STRING))
        return pa.schema(columns)

    @property
    def partitioned_schema(self) -> pa.Schema:
        return self.schema.append(pa.field(PARTITION_KEY, STRING))


def _leaves(names: str) -> Known:
    return dict.fromkeys(names.split(), LEAF)


RESOURCE_KNOWN: Known = {
    **_leaves("id name type protect_status size backup_count backup_size auto_protect"),
    "extra_info": _leaves("exclude_volumes include_volumes"),
}
VAULT_KNOWN: Known = {
    **_leaves(
        "id name project_id provider_id description tags enterprise_project_id auto_bind"
        " bind_rules auto_expand smn_notify threshold locked sys_lock_source_service"
        " availability_zone user_id created_at"
    ),
    "billing": _leaves(
        "allocated used size status protect_type object_type spec_code consistent_level"
        " charging_mode cloud_type is_multi_az frozen_scene order_id product_id storage_unit"
    ),
    "resources[]": RESOURCE_KNOWN,
}
POLICY_KNOWN: Known = {
    **_leaves("id name enabled operation_type policy_type"),
    "operation_definition": _leaves(
        "retention_duration_days max_backups day_backups week_backups month_backups year_backups"
        " timezone full_backup_interval destination_region destination_project_id"
        " enable_acceleration cross_account_urn"
    ),
    "trigger": {**_leaves("id name type"), "properties": _leaves("pattern start_time")},
    "associated_vaults[]": _leaves("vault_id destination_vault_id"),
}
PROTECTABLE_KNOWN: Known = {
    **_leaves("id name type status size detail children"),
    "protectable": _leaves("result code reason message vault"),
}
BACKUP_KNOWN: Known = {
    **_leaves(
        "id checkpoint_id name description resource_id resource_name resource_type resource_az"
        " resource_size vault_id project_id enterprise_project_id provider_id status image_type"
        " created_at updated_at expired_at protected_at incremental parent_id children"
        " replication_records version"
    ),
    "extend_info": _leaves(
        "auto_trigger bootable system_disk contain_system_disk encrypted snapshot_id support_lld"
        " supported_restore_mode os_images_data is_multi_az incremental"
    ),
}

VAULTS = InventoryTable(
    "vaults",
    "ListVault `vaults[]`",
    (
        _field("id", STRING, "id"),
        _field("name", STRING, "name"),
        _field("object_type", STRING, "billing.object_type"),
        _field("protect_type", STRING, "billing.protect_type"),
        _field("status", STRING, "billing.status"),
        _field("consistent_level", STRING, "billing.consistent_level"),
        _field("size_gb", INT64, "billing.size"),
        _field("used_mb", INT64, "billing.used"),
        _field("locked", BOOL, "locked"),
        _field("auto_bind", BOOL, "auto_bind"),
        _field("threshold_pct", INT32, "threshold"),
        _field("enterprise_project_id", STRING, "enterprise_project_id"),
        _field("created_at", TIMESTAMP, "created_at"),
        _derived("policy_id", STRING, "the backup policy whose `associated_vaults` name it"),
        _derived("resource_count", INT32, "entries in `resources[]`"),
    ),
    VAULT_KNOWN,
)
VAULT_RESOURCES = InventoryTable(
    "vault_resources",
    "ListVault `vaults[].resources[]`",
    (
        _derived("vault_id", STRING, "the vault whose `resources[]` lists it"),
        _field("resource_id", STRING, "id"),
        _field("resource_name", STRING, "name"),
        _field("resource_type", STRING, "type"),
        _field("protect_status", STRING, "protect_status"),
        _field("size_gb", INT64, "size"),
        _field("backup_count", INT64, "backup_count"),
        _field("auto_protect", BOOL, "auto_protect"),
        _field("exclude_volumes", STRINGS, "extra_info.exclude_volumes"),
    ),
    RESOURCE_KNOWN,
    raw_json=False,  # the vault's raw_json holds the entry
)
POLICIES = InventoryTable(
    "policies",
    "ListPolicies `policies[]`",
    (
        _field("id", STRING, "id"),
        _field("name", STRING, "name"),
        _field("enabled", BOOL, "enabled"),
        _field("operation_type", STRING, "operation_type"),
        *(
            _field(name, INT32, f"operation_definition.{name}")
            for name in (
                "retention_duration_days",
                "max_backups",
                "day_backups",
                "week_backups",
                "month_backups",
                "year_backups",
            )
        ),
        _field("timezone", STRING, "operation_definition.timezone"),
        _field("destination_region", STRING, "operation_definition.destination_region"),
        _field("patterns", STRINGS, "trigger.properties.pattern"),
        _derived("vault_ids", STRINGS, "`associated_vaults[].vault_id`"),
        _derived(
            "max_interval_hours",
            FLOAT64,
            "the longest gap between two runs the patterns schedule; null when one is not read",
        ),
    ),
    POLICY_KNOWN,
)
PROTECTABLES = InventoryTable(
    "protectables",
    "ListProtectable `instances[]`, for each type of INVENTORY_TYPES",
    (
        _derived("protectable_type", STRING, "the type listed: `server`, `disk`, `turbo`, ..."),
        _field("resource_id", STRING, "id"),
        _field("resource_name", STRING, "name"),
        _field("resource_type", STRING, "type"),
        _field("status", STRING, "status"),
        _field("size_gb", INT64, "size"),
        _field("can_protect", BOOL, "protectable.result"),
        _field("code", STRING, "protectable.code"),
        _field("reason", STRING, "protectable.reason"),
        _field("vault_id", STRING, "protectable.vault.id"),
    ),
    PROTECTABLE_KNOWN,
    raw_note=f"{RAW_JSON_NOTE}, less `protectable.vault` (the vault is in `vaults`)",
)
BACKUPS = InventoryTable(
    "backups",
    "ListBackups `backups[]`",
    (
        _field("id", STRING, "id"),
        _field("checkpoint_id", STRING, "checkpoint_id"),
        _field("name", STRING, "name"),
        _field("resource_id", STRING, "resource_id"),
        _field("resource_name", STRING, "resource_name"),
        _field("resource_type", STRING, "resource_type"),
        _field("vault_id", STRING, "vault_id"),
        _field("status", STRING, "status"),
        _field("image_type", STRING, "image_type"),
        _field("created_at", TIMESTAMP, "created_at"),
        _field("protected_at", TIMESTAMP, "protected_at"),
        _field("expired_at", TIMESTAMP, "expired_at"),
        _field("auto_trigger", BOOL, "extend_info.auto_trigger"),
        _field("encrypted", BOOL, "extend_info.encrypted"),
        _field("incremental", BOOL, "incremental", "extend_info.incremental"),
        _field("resource_size_gb", INT64, "resource_size"),
    ),
    BACKUP_KNOWN,
)

INVENTORY_TABLES: dict[str, InventoryTable] = {
    table.name: table for table in (VAULTS, VAULT_RESOURCES, POLICIES, PROTECTABLES, BACKUPS)
}
