"""The Athena side picks the same snapshots and rows as the CLI.

No Athena is reachable from the tests, so the SQL the saved queries inline for the inventory
(lib/reports/athena_inventory.py, before it is transpiled to Trino) runs in DuckDB over the lake's
own files: the state documents read as JSON lines (as the Glue table's JSON SerDe reads them) and
the Parquet partitions (as partition projection lays them out). Two Trino spellings DuckDB lacks
are swapped for their DuckDB equivalents: from_iso8601_timestamp, and UNNEST of an array of rows
into one column per field. What is left must give, for every evaluation time, the snapshots
lib/lake/snapshots.py gives and the rows the CLI registers.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pytest
from inventory_lake import write_inventory_lake

from lib.core.inventory_schema import INVENTORY_TABLES
from lib.core.settings import LakeLocation
from lib.lake.snapshots import Snapshots
from lib.lake.storage import LocalStore
from lib.reports.athena_inventory import (
    IN_FORCE_SQL,
    STATE_COLUMNS,
    glue_name,
    relation_sql,
)
from lib.reports.inventory import IN_FORCE, SNAPSHOT_TABLES, LakeInventory, columns_of
from lib.reports.parameters import Scope

TRINO_UNNEST = "CROSS JOIN UNNEST(state.snapshots) AS published (snapshot_id, snapshot_at, dt)"
DUCKDB_UNNEST = (
    "CROSS JOIN LATERAL (SELECT UNNEST(state.snapshots, recursive := true)) AS published"
)
MOMENTS = [
    datetime(2026, 11, 1, tzinfo=UTC),  # before any snapshot
    datetime(2026, 11, 20, 6, tzinfo=UTC),  # the instant the first was taken
    datetime(2026, 11, 25, tzinfo=UTC),
    datetime(2026, 12, 1, tzinfo=UTC),
    datetime(2026, 12, 3, tzinfo=UTC),  # after the last: both projects have one
]


@pytest.fixture(scope="module")
def lake(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return Path(write_inventory_lake(tmp_path_factory.mktemp("athena")))


@pytest.fixture(scope="module")
def athena(lake: Path) -> duckdb.DuckDBPyConnection:
    """The Glue tables, as DuckDB reads the same files."""
    connection = duckdb.connect()
    connection.execute("SET TimeZone = 'UTC'")
    connection.execute("CREATE MACRO from_iso8601_timestamp(s) AS CAST(s AS TIMESTAMPTZ)")
    (snapshots,) = [c["Type"] for c in STATE_COLUMNS if c["Name"] == "snapshots"]
    duck_type = "STRUCT(snapshot_id VARCHAR, snapshot_at VARCHAR, dt VARCHAR)[]"
    assert snapshots == "array<struct<snapshot_id:string,snapshot_at:string,dt:string>>"
    connection.execute(
        f"CREATE VIEW inventory_state_files AS SELECT * FROM read_json("
        f"'{lake}/_state/inventory/*.json', columns={{'project_id': 'VARCHAR', "
        f"'snapshots': '{duck_type}'}})"
    )
    for table in INVENTORY_TABLES:
        connection.execute(
            f"CREATE VIEW {glue_name(table)} AS SELECT * FROM read_parquet("
            f"'{lake}/inventory/{table}/*/*.parquet', hive_partitioning = true, "
            "hive_types = {'dt': 'VARCHAR'})"
        )
    return connection


def athena_sql(name: str, at: datetime) -> str:
    literal = Scope(None, None, at, {}).literals()["at"]
    sql = relation_sql(name).replace("{at}", literal)
    if name == IN_FORCE:
        assert TRINO_UNNEST in IN_FORCE_SQL
        sql = sql.replace(TRINO_UNNEST, DUCKDB_UNNEST)
    return sql


def run_as_athena(connection: duckdb.DuckDBPyConnection, name: str, at: datetime) -> list[tuple]:
    if name != IN_FORCE:
        connection.execute(f"CREATE OR REPLACE TEMP TABLE {IN_FORCE} AS {athena_sql(IN_FORCE, at)}")
    return sorted(connection.execute(athena_sql(name, at)).fetchall(), key=repr)


@pytest.mark.parametrize("at", MOMENTS, ids=lambda moment: moment.isoformat())
def test_athena_picks_the_snapshot_in_force_as_the_lake_reader_does(athena, lake, at) -> None:
    expected, _notes = Snapshots(LocalStore(lake)).latest(at)
    found = run_as_athena(athena, IN_FORCE, at)
    assert [(row[0], row[1], row[3]) for row in found] == sorted(
        (s.project_id, s.snapshot_id, s.dt) for s in expected
    )
    assert [row[2].replace(tzinfo=UTC) for row in found] == [
        s.snapshot_at for s in sorted(expected, key=lambda s: s.project_id)
    ]


@pytest.mark.parametrize("name", list(SNAPSHOT_TABLES))
def test_athena_reads_the_rows_the_cli_reads(athena, lake, name: str) -> None:
    for at in MOMENTS:
        cli = LakeInventory(LakeLocation(str(lake))).relation(name, at)
        assert cli.column_names == columns_of(SNAPSHOT_TABLES[name])
        local = duckdb.connect()
        local.execute("SET TimeZone = 'UTC'")
        local.register("cli", cli)
        expected = sorted(local.execute("SELECT * FROM cli").fetchall(), key=repr)
        assert run_as_athena(athena, name, at) == expected, (name, at)
    assert expected, name  # the last moment has rows in every table
