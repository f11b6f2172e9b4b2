"""template.yaml agrees with the code: handler path, runtime, variable names, security basics."""

from __future__ import annotations

import re
from typing import Any

import yaml
from conftest import ROOT

from lib import settings as settings_module


class _Loader(yaml.SafeLoader):
    """Reads CloudFormation short-form tags (!Ref, !Sub, ...) as plain values."""


def _any_tag(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> Any:
    if isinstance(node, yaml.ScalarNode):
        return {suffix: loader.construct_scalar(node)}
    if isinstance(node, yaml.SequenceNode):
        return {suffix: loader.construct_sequence(node, deep=True)}
    return {suffix: loader.construct_mapping(node, deep=True)}


_Loader.add_multi_constructor("!", _any_tag)


def template() -> dict[str, Any]:
    return yaml.load((ROOT / "template.yaml").read_text(), Loader=_Loader)


def function() -> dict[str, Any]:
    return template()["Resources"]["IngestFunction"]["Properties"]


def test_handler_path_and_runtime_match_the_code() -> None:
    module, name = function()["Handler"].split(".")
    assert (ROOT / f"{module}.py").exists()
    assert re.search(rf"^def {name}\(", (ROOT / f"{module}.py").read_text(), re.M)
    assert template()["Globals"]["Function"]["Runtime"] == "python3.12"


def test_environment_variables_are_ones_the_settings_read() -> None:
    known = {v for k, v in vars(settings_module).items() if k.isupper() and isinstance(v, str)}
    assert set(function()["Environment"]["Variables"]) <= known


def test_partial_batch_responses_and_a_dead_letter_queue_are_wired() -> None:
    sqs = function()["Events"]["Tasks"]["Properties"]
    assert sqs["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    queue = template()["Resources"]["TaskQueue"]["Properties"]
    assert queue["RedrivePolicy"]["deadLetterTargetArn"] == {"GetAtt": "TaskDeadLetterQueue.Arn"}
    timeout = template()["Globals"]["Function"]["Timeout"]
    assert queue["VisibilityTimeout"] >= 6 * timeout


def test_no_wildcard_actions_and_the_bucket_refuses_plain_http() -> None:
    for statement in function()["Policies"][0]["Statement"]:
        actions = (
            statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        )
        assert not any(a == "*" or a.endswith(":*") for a in actions)
    (deny,) = template()["Resources"]["LakeBucketPolicy"]["Properties"]["PolicyDocument"][
        "Statement"
    ]
    assert deny["Effect"] == "Deny" and deny["Condition"] == {
        "Bool": {"aws:SecureTransport": "false"}
    }
    bucket = template()["Resources"]["LakeBucket"]["Properties"]
    assert bucket["BucketEncryption"] and all(bucket["PublicAccessBlockConfiguration"].values())
    for queue in ("TaskQueue", "TaskDeadLetterQueue"):
        assert template()["Resources"][queue]["Properties"]["SqsManagedSseEnabled"] is True


def test_generated_glue_tables_and_queries_are_up_to_date() -> None:
    from lib.athena import generated_block, template_block

    assert template_block(ROOT / "template.yaml") == generated_block(), (
        "template.yaml is stale: run `python -m lib template --write`"
    )


def test_glue_columns_match_the_arrow_schema_exactly() -> None:
    from lib.schema import ERRORS_SCHEMA, OPERATION_LOGS_SCHEMA

    resources = template()["Resources"]
    for logical_id, schema in (
        ("OperationLogsTable", OPERATION_LOGS_SCHEMA),
        ("OperationLogErrorsTable", ERRORS_SCHEMA),
    ):
        table = resources[logical_id]["Properties"]["TableInput"]
        columns = table["StorageDescriptor"]["Columns"]
        assert [c["Name"] for c in columns] == schema.names
        assert table["PartitionKeys"] == [{"Name": "dt", "Type": "string"}]
        assert table["Parameters"]["projection.enabled"] == "true"
    data_columns = resources["OperationLogsTable"]["Properties"]["TableInput"]["StorageDescriptor"]
    types = {c["Name"]: c["Type"] for c in data_columns["Columns"]}
    assert types["created_at"] == "timestamp" and types["extra_info__common__progress"] == "int"
    assert types["extra_info__resource__extra_info__include_volumes"] == (
        "array<struct<id:string,os_version:string>>"
    )


def test_every_report_is_a_named_query_that_parses_as_trino() -> None:
    import sqlglot

    from lib.reports import catalog

    queries = {
        r["Properties"]["Name"].removeprefix("oplog-lake "): r["Properties"]["QueryString"]
        for r in template()["Resources"].values()
        if r["Type"] == "AWS::Athena::NamedQuery"
    }
    assert set(queries) == {*catalog(), "create-latest-view"}
    for name, sql in queries.items():
        sqlglot.parse_one(sql, read="trino")  # raises on anything Athena's dialect cannot parse
        assert "{" not in sql, name  # every parameter was filled in
        assert "QUANTILE_CONT" not in sql.upper() and "PERCENTILE_CONT" not in sql.upper()
    assert "APPROX_PERCENTILE" in queries["durations"]
    assert "FROM latest" in queries["daily"]
