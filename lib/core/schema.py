"""The lake's tables, declared once as data.

Every other view of the columns (the flattener, the batch reader, the Arrow schemas, the README
table, the Glue columns) is derived from `SOURCE_COLUMNS`, `LINEAGE_COLUMNS` and `ERRORS_SCHEMA`.
"""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa

TIMESTAMP = pa.timestamp("us", tz="UTC")
STRING = pa.string()
INT32 = pa.int32()
INT64 = pa.int64()

INCLUDE_VOLUMES = pa.list_(pa.struct([("id", STRING), ("os_version", STRING)]))
RESOURCE_EXTRA_INFO = pa.struct(
    [("exclude_volumes", pa.list_(STRING)), ("include_volumes", INCLUDE_VOLUMES)]
)
RESOURCES = pa.list_(
    pa.struct(
        [("id", STRING), ("name", STRING), ("type", STRING), ("extra_info", RESOURCE_EXTRA_INFO)]
    )
)


@dataclass(frozen=True)
class Column:
    """One lake column; `path` is where its value sits in the API's `operation_log` object."""

    path: tuple[str, ...]
    type: pa.DataType

    @property
    def name(self) -> str:
        return "__".join(self.path)


def _group(prefix: str, names: str, type_: pa.DataType) -> list[Column]:
    """Columns for several sibling fields of one nested object (`prefix` is dot-separated)."""
    parent = tuple(prefix.split(".")) if prefix else ()
    return [Column((*parent, name), type_) for name in names.split()]


# Columns taken from the operation_log object, in lake order.
SOURCE_COLUMNS: tuple[Column, ...] = (
    *_group("", "id project_id operation_type status provider_id checkpoint_id", STRING),
    *_group("", "policy_id vault_id vault_name", STRING),
    *_group("", "created_at started_at ended_at updated_at", TIMESTAMP),
    *_group("error_info", "code message", STRING),
    *_group(
        "extra_info.backup",
        "app_consistency_error_code app_consistency_error_message app_consistency_status"
        " backup_id backup_name incremental",
        STRING,
    ),
    *_group("extra_info.common", "progress", INT32),
    *_group("extra_info.common", "request_id task_id", STRING),
    *_group("extra_info.delete", "backup_id backup_name", STRING),
    *_group("extra_info.sync", "sync_backup_num delete_backup_num err_sync_backup_num", INT64),
    *_group("extra_info.remove_resources", "fail_count total_count", INT64),
    Column(("extra_info", "remove_resources", "resources"), RESOURCES),
    *_group(
        "extra_info.replication",
        "destination_backup_id destination_checkpoint_id destination_project_id"
        " destination_region source_backup_id source_checkpoint_id source_project_id"
        " source_region source_backup_name destination_backup_name",
        STRING,
    ),
    *_group("extra_info.resource", "id name type", STRING),
    Column(("extra_info", "resource", "extra_info", "exclude_volumes"), pa.list_(STRING)),
    Column(("extra_info", "resource", "extra_info", "include_volumes"), INCLUDE_VOLUMES),
    *_group(
        "extra_info.restore",
        "backup_id backup_name target_resource_id target_resource_name",
        STRING,
    ),
    *_group("extra_info.vault_delete", "fail_count total_count", INT64),
    *_group("extra_info.update_expiration_time", "affected_backups_count", INT64),
    *_group("extra_info.update_expiration_time", "expiration_day", STRING),
)

# Columns the pipeline adds to each data row.
LINEAGE_COLUMNS: tuple[tuple[str, pa.DataType], ...] = (
    ("raw_json", STRING),
    ("ingested_at", TIMESTAMP),
    ("source_message_id", STRING),
)

OPERATION_LOGS_SCHEMA = pa.schema(
    [pa.field(c.name, c.type) for c in SOURCE_COLUMNS]
    + [pa.field(name, type_) for name, type_ in LINEAGE_COLUMNS]
)

ERRORS_SCHEMA = pa.schema(
    [
        ("operation_log_id", STRING),
        ("project_id", STRING),
        ("source_message_id", STRING),
        ("reason", STRING),
        ("http_status", INT32),
        ("error_code", STRING),
        ("error_msg", STRING),
        ("raw_message", STRING),
        ("observed_at", TIMESTAMP),
    ]
)

DATA_TABLE = "operation_logs"
ERRORS_TABLE = "operation_log_errors"
PARTITION_KEY = "dt"
