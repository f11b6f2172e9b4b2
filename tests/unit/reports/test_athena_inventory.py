"""The inventory on Athena, as template.yaml deploys it: a Glue table per inventory table in the
lake's layout with partition projection on dt, the state documents as JSON lines, and saved
queries that read the snapshot in force from them."""

from __future__ import annotations

from typing import Any

import sqlglot
import yaml
from sqlglot import exp

from lib.core.inventory_schema import INVENTORY_TABLES
from lib.reports.athena import hive_type
from lib.reports.athena_inventory import GLUE_TABLES, STATE_FILES
from lib.reports.catalog import INVENTORY_REPORTS

from conftest import ROOT


class _Loader(yaml.SafeLoader):
    """Reads CloudFormation short-form tags (!Ref, !Sub, ...) as plain values."""


_Loader.add_multi_constructor("!", lambda loader, suffix, node: None)


def resources() -> dict[str, Any]:
    return yaml.load((ROOT / "template.yaml").read_text(), Loader=_Loader)["Resources"]


def glue_tables() -> dict[str, dict[str, Any]]:
    return {
        r["Properties"]["TableInput"]["Name"]: r["Properties"]["TableInput"]
        for r in resources().values()
        if r["Type"] == "AWS::Glue::Table"
    }


def queries() -> dict[str, str]:
    return {
        r["Properties"]["Name"].removeprefix("oplog-lake "): r["Properties"]["QueryString"]
        for r in resources().values()
        if r["Type"] == "AWS::Athena::NamedQuery"
    }


def test_every_inventory_table_is_a_glue_table_of_its_columns_partitioned_by_dt() -> None:
    tables = glue_tables()
    for table in INVENTORY_TABLES.values():
        glue = tables[f"inventory_{table.name}"]
        columns = glue["StorageDescriptor"]["Columns"]
        assert [(c["Name"], c["Type"]) for c in columns] == [
            (f.name, hive_type(f.type)) for f in table.schema
        ]
        assert glue["PartitionKeys"] == [{"Name": "dt", "Type": "string"}]
        parameters = glue["Parameters"]
        assert parameters["projection.enabled"] == "true"
        assert parameters["projection.dt.type"] == "date"
        template = parameters["storage.location.template"]["Fn::Sub"][0]
        assert template.endswith(f"/inventory/{table.name}/dt=${{!dt}}/")
    types = {
        c["Name"]: c["Type"] for c in tables["inventory_policies"]["StorageDescriptor"]["Columns"]
    }
    assert (types["enabled"], types["max_interval_hours"], types["patterns"]) == (
        "boolean",
        "double",
        "array<string>",
    )


def test_the_state_documents_are_read_as_json_lines() -> None:
    state = glue_tables()[STATE_FILES]
    descriptor = state["StorageDescriptor"]
    assert descriptor["SerdeInfo"]["SerializationLibrary"] == "org.openx.data.jsonserde.JsonSerDe"
    assert descriptor["Location"]["Fn::Sub"][0].endswith("/_state/inventory/")
    assert [c["Name"] for c in descriptor["Columns"]] == ["project_id", "snapshots"]


def test_the_inventory_reports_read_the_snapshot_in_force_and_not_the_operation_logs() -> None:
    saved = queries()
    for name in INVENTORY_REPORTS:
        tree = sqlglot.parse_one(saved[name], read="trino")
        read = {table.name for table in tree.find_all(exp.Table)}
        assert STATE_FILES in read and read & set(GLUE_TABLES), name
        assert "operation_logs" not in read, name  # nothing of the logs is scanned
        ctes = [cte.alias for cte in tree.args["with_"].expressions]
        assert ctes[0] == "snapshots_in_force", name
    controls = sqlglot.parse_one(saved["controls"], read="trino")
    ctes = [cte.alias for cte in controls.args["with_"].expressions]
    order = ["resources", "snapshots_in_force", "snapshot_resources", "evaluated_resources"]
    assert [name for name in ctes if name in order] == order  # each defined before it is read
