"""The inventory on the Athena side: its Glue tables, and the snapshot in force as SQL.

The five inventory tables are Glue tables over `inventory/{table}/dt=.../` (partition projection
on `dt`, as the operation logs), named `inventory_{table}`. The state documents that publish the
snapshots, `_state/inventory/{project_id}.json` (one JSON object on one line), are the Glue table
`inventory_state_files`. The relations the report SQL reads (lib/reports/inventory.py) become
common table expressions: per project the latest published snapshot taken at or before the
evaluation time, and the rows of those snapshots only, from the partitions up to that time.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from lib.core.inventory_schema import INVENTORY_STATE_PREFIX, INVENTORY_TABLES
from lib.core.schema import PARTITION_KEY
from lib.reports.inventory import IN_FORCE, SNAPSHOT_TABLES, columns_of

STATE_FILES = "inventory_state_files"
STATE_COLUMNS = [
    {"Name": "project_id", "Type": "string"},
    {"Name": "snapshots", "Type": "array<struct<snapshot_id:string,snapshot_at:string,dt:string>>"},
]


def glue_name(table: str) -> str:
    """The Glue table of an inventory table: `inventory_vaults`, ..."""
    return f"inventory_{table}"


GLUE_TABLES = tuple(glue_name(table) for table in INVENTORY_TABLES)

# The published snapshot of each project taken at or before the evaluation time: the state
# lists every snapshot still kept; the latest of those not after {at} is in force.
IN_FORCE_SQL = f"""SELECT project_id, snapshot_id, snapshot_at, dt
FROM (
    SELECT
        state.project_id,
        published.snapshot_id,
        CAST(from_iso8601_timestamp(published.snapshot_at) AS TIMESTAMP) AS snapshot_at,
        published.dt,
        row_number() OVER (
            PARTITION BY state.project_id
            ORDER BY
                CAST(from_iso8601_timestamp(published.snapshot_at) AS TIMESTAMP) DESC,
                published.snapshot_id DESC
        ) AS recency
    FROM {STATE_FILES} AS state
    CROSS JOIN UNNEST(state.snapshots) AS published (snapshot_id, snapshot_at, dt)
    WHERE CAST(from_iso8601_timestamp(published.snapshot_at) AS TIMESTAMP) <= {{at}}
) AS taken
WHERE recency = 1"""


def snapshot_rows_sql(relation: str) -> str:
    """The rows of the snapshots in force in one inventory table, from the partitions up to the
    evaluation time only (and, at run time, the snapshots' own: the join on dt)."""
    table = SNAPSHOT_TABLES[relation]
    columns = ",\n    ".join(f"kept.{name}" for name in columns_of(table))
    return (
        f"SELECT\n    {columns}\nFROM {glue_name(table)} AS kept\n"
        f"JOIN {IN_FORCE} AS in_force\n"
        "    ON in_force.project_id = kept.project_id\n"
        "    AND in_force.snapshot_id = kept.snapshot_id\n"
        f"    AND in_force.dt = kept.{PARTITION_KEY}\n"
        f"WHERE kept.{PARTITION_KEY} <= strftime({{at}}, '%Y-%m-%d')"
    )


def with_in_force(names: list[str]) -> list[str]:
    """The relations a query reads, with `snapshots_in_force` before the first snapshot table
    when it reads one: on Athena they are computed from it."""
    if IN_FORCE in names or not any(name in SNAPSHOT_TABLES for name in names):
        return names
    first = next(i for i, name in enumerate(names) if name in SNAPSHOT_TABLES)
    return [*names[:first], IN_FORCE, *names[first:]]


def relation_sql(name: str) -> str:
    """One of the inventory relations as Athena computes it (DuckDB dialect, {at} unfilled)."""
    return IN_FORCE_SQL if name == IN_FORCE else snapshot_rows_sql(name)


def state_table(
    glue_table: Callable[..., dict[str, Any]], in_lake: Callable[[str], dict[str, Any]]
) -> dict[str, Any]:
    """The inventory state documents, read as JSON lines (one object per file)."""
    return glue_table(
        STATE_FILES,
        "inventory snapshots published, one JSON object per project",
        Parameters={"classification": "json"},
        StorageDescriptor={
            "Location": in_lake(INVENTORY_STATE_PREFIX),
            "Columns": STATE_COLUMNS,
            "InputFormat": "org.apache.hadoop.mapred.TextInputFormat",
            "OutputFormat": "org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat",
            "SerdeInfo": {
                "SerializationLibrary": "org.openx.data.jsonserde.JsonSerDe",
                "Parameters": {"ignore.malformed.json": "true"},
            },
        },
    )
