"""template.yaml agrees with the code: handler path, runtime, variable names, security basics."""

from __future__ import annotations

import json
import re
from typing import Any

import yaml

from lib.aws.events import compact_request
from lib.core import settings as settings_module

from conftest import ROOT


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


def function(name: str = "IngestFunction") -> dict[str, Any]:
    return template()["Resources"][name]["Properties"]


def test_handler_path_and_runtime_match_the_code() -> None:
    module, name = function()["Handler"].split(".")
    assert (ROOT / f"{module}.py").exists()
    assert re.search(rf"^def {name}\(", (ROOT / f"{module}.py").read_text(), re.M)
    assert template()["Globals"]["Function"]["Runtime"] == "python3.12"


def test_environment_variables_are_ones_the_settings_read() -> None:
    known = settings_module.variable_names()
    assert set(function()["Environment"]["Variables"]) <= known
    assert set(function("CompactFunction")["Environment"]["Variables"]) <= known


def test_partial_batch_responses_and_a_dead_letter_queue_are_wired() -> None:
    sqs = function()["Events"]["Tasks"]["Properties"]
    assert sqs["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    queue = template()["Resources"]["TaskQueue"]["Properties"]
    assert queue["RedrivePolicy"]["deadLetterTargetArn"] == {"GetAtt": "TaskDeadLetterQueue.Arn"}
    timeout = template()["Globals"]["Function"]["Timeout"]
    assert queue["VisibilityTimeout"] >= 6 * timeout


def statements(name: str = "IngestFunction") -> list[dict[str, Any]]:
    """The function's policy statements, with conditional ones (`!If`) unwrapped."""
    found = []
    for statement in function(name)["Policies"][0]["Statement"]:
        found.append(statement["If"][1] if "If" in statement else statement)
    return found


def actions_of(statement: dict[str, Any]) -> list[str]:
    action = statement["Action"]
    return action if isinstance(action, list) else [action]


def test_no_wildcard_actions_or_resources_on_the_functions_role() -> None:
    for name in ("IngestFunction", "CompactFunction"):
        for statement in statements(name):
            assert not any(a == "*" or a.endswith(":*") for a in actions_of(statement))
            assert statement["Resource"] != "*", statement["Sid"]
    by_sid = {s["Sid"]: s for s in statements()}
    assert set(by_sid) == {
        "WriteLake",
        "ReadLakeForDiscovery",
        "ListLakeForDiscovery",
        "DiscardUnpublishedInventory",
        "ReadCredentials",
        "DrainQueue",
        "SendToTaskQueue",
        "EncryptLake",
    }
    conditional = {
        s["If"][1]["Sid"]: s["If"][0] for s in function()["Policies"][0]["Statement"] if "If" in s
    }
    assert conditional["SendToTaskQueue"] == "SendToQueue"  # following or discovering only
    # The lake is read by discovery (watermarks, rows held) and by the inventory (its states).
    assert conditional["ReadLakeForDiscovery"] == conditional["ListLakeForDiscovery"] == "ReadsLake"
    assert template()["Conditions"]["ReadsLake"] == {
        "Or": [{"Condition": "Discover"}, {"Condition": "TakeInventory"}]
    }
    discard = by_sid["DiscardUnpublishedInventory"]
    assert conditional["DiscardUnpublishedInventory"] == "TakeInventory"
    assert discard["Action"] == "s3:DeleteObject"  # only under inventory/, nowhere else
    assert discard["Resource"]["Sub"][0].endswith("/${LakePrefix}/inventory/*")
    listing = by_sid["ListLakeForDiscovery"]
    assert listing["Condition"] == {"StringLike": {"s3:prefix": {"Sub": "${LakePrefix}/*"}}}


def test_discovery_runs_on_its_schedule_by_default_and_its_event_parses() -> None:
    from lib.aws.events import event_kind

    schedule = function()["Events"]["Discover"]["Properties"]
    assert schedule["State"] == {"If": ["Discover", "ENABLED", "DISABLED"]}
    assert schedule["ScheduleExpression"] == {"Ref": "DiscoverySchedule"}
    assert event_kind(json.loads(schedule["Input"])) == "discover"
    assert parameter_default("DiscoveryEnabled") == "true"
    assert parameter_default("DiscoverySchedule") == "rate(10 minutes)"
    variables = function()["Environment"]["Variables"]
    assert variables["DISCOVER_LOOKBACK_H"] == {"Ref": "DiscoveryLookbackHours"}
    assert variables["DISCOVER_MODE"] == {"Ref": "DiscoveryMode"}
    lag = template()["Resources"]["DiscoveryLagAlarm"]["Properties"]
    assert lag["Threshold"] == {"Ref": "DiscoveryLagAlarmSeconds"}
    failing = template()["Resources"]["DiscoveryFailuresAlarm"]
    assert failing["Condition"] == "Discover"
    assert (failing["Properties"]["Statistic"], failing["Properties"]["Threshold"]) == ("Sum", 0)
    assert lag["TreatMissingData"] == "breaching" and lag["Statistic"] == "Maximum"


def test_the_inventory_runs_daily_by_default_and_its_event_parses() -> None:
    from lib.aws.events import event_kind

    schedule = function()["Events"]["Inventory"]["Properties"]
    assert schedule["State"] == {"If": ["TakeInventory", "ENABLED", "DISABLED"]}
    assert schedule["ScheduleExpression"] == {"Ref": "InventorySchedule"}
    assert event_kind(json.loads(schedule["Input"])) == "inventory"
    assert parameter_default("InventoryEnabled") == "true"
    assert parameter_default("InventorySchedule") == "cron(0 6 * * ? *)"
    assert parameter_default("InventoryTypes") == "server,disk,turbo"
    pattern = template()["Parameters"]["InventoryTypes"]["AllowedPattern"]
    assert re.fullmatch(pattern, "server,disk,turbo") and not re.fullmatch(pattern, "server,tape")
    assert function()["Environment"]["Variables"]["INVENTORY_TYPES"] == {"Ref": "InventoryTypes"}
    keep = function("CompactFunction")["Environment"]["Variables"]["INVENTORY_KEEP_DAYS"]
    assert keep == {"Ref": "InventoryKeepDays"} and parameter_default("InventoryKeepDays") == 400


def test_an_inventory_that_stops_being_published_raises_an_alarm() -> None:
    # Not only a failed run: a schedule switched off or not firing sends no metric at all.
    stale = template()["Resources"]["InventoryStaleAlarm"]
    assert stale["Condition"] == "TakeInventory"
    alarm = stale["Properties"]
    assert (alarm["MetricName"], alarm["Statistic"], alarm["Period"]) == (
        "InventorySnapshots",
        "Sum",
        3600,
    )
    hours = {"Ref": "InventoryStaleAlarmHours"}
    assert alarm["EvaluationPeriods"] == alarm["DatapointsToAlarm"] == hours
    assert (alarm["ComparisonOperator"], alarm["Threshold"]) == ("LessThanThreshold", 1)
    assert alarm["TreatMissingData"] == "breaching"
    # Above the daily schedule's gap by default, within CloudWatch's 7 days of hourly periods.
    parameter = template()["Parameters"]["InventoryStaleAlarmHours"]
    assert 24 < parameter["Default"] <= parameter["MaxValue"] == 7 * 24


def test_compaction_reads_and_rewrites_only_the_lake_and_is_off_by_default() -> None:
    granted = {a for s in statements("CompactFunction") for a in actions_of(s)}
    assert granted == {
        "s3:ListBucket",
        "s3:GetObject",
        "s3:PutObject",
        "s3:DeleteObject",
        "s3:AbortMultipartUpload",
        "kms:GenerateDataKey",
        "kms:Decrypt",
    }
    schedule = function("CompactFunction")["Events"]["Compact"]["Properties"]
    assert schedule["State"] == {"If": ["CompactOnSchedule", "ENABLED", "DISABLED"]}
    assert template()["Parameters"]["CompactionEnabled"]["Default"] == "false"
    event = json.loads(
        schedule["Input"]["Sub"]
        .replace("${CompactionOlderThanDays}", "1")
        .replace("${CompactionTargetMb}", "128")
    )
    assert compact_request(event) == (1, 128.0, False)


def test_buckets_are_encrypted_private_and_refuse_plain_http() -> None:
    resources = template()["Resources"]
    for bucket, policy in (
        ("LakeBucket", "LakeBucketPolicy"),
        ("AthenaResultsBucket", "AthenaResultsBucketPolicy"),
    ):
        (deny,) = resources[policy]["Properties"]["PolicyDocument"]["Statement"]
        assert deny["Effect"] == "Deny"
        assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
        properties = resources[bucket]["Properties"]
        assert properties["BucketEncryption"]["ServerSideEncryptionConfiguration"]
        assert all(properties["PublicAccessBlockConfiguration"].values())
    lake = resources["LakeBucket"]["Properties"]
    assert lake["VersioningConfiguration"]["Status"] == "Enabled"
    rules = {r["Id"]: r for r in lake["LifecycleConfiguration"]["Rules"]}
    assert rules["abort-incomplete-multipart-uploads"]["AbortIncompleteMultipartUpload"]
    for queue in ("TaskQueue", "TaskDeadLetterQueue"):
        assert resources[queue]["Properties"]["SqsManagedSseEnabled"] is True


def parameter_default(name: str) -> Any:
    return template()["Parameters"][name]["Default"]


def test_default_scaling_keeps_under_the_api_rate_limit() -> None:
    invocations = parameter_default("ReservedConcurrency")
    assert parameter_default("CbrMaxRps") * invocations <= parameter_default("ApiRateLimit")
    assert invocations >= parameter_default("MaximumConcurrency") + 1  # the drain needs one more
    variables = function()["Environment"]["Variables"]
    assert variables["CBR_CALLERS"] == {"Ref": "ReservedConcurrency"}
    assert variables["CBR_MAX_RPS"] == {"Ref": "CbrMaxRps"}
    assert function()["ReservedConcurrentExecutions"] == {"Ref": "ReservedConcurrency"}
    sqs = function()["Events"]["Tasks"]["Properties"]
    assert sqs["ScalingConfig"]["MaximumConcurrency"] == {"Ref": "MaximumConcurrency"}
    assert parameter_default("BatchSize") >= 10 and parameter_default("BatchingWindowSeconds") > 0


def test_alarms_watch_the_failure_signals_and_notify_the_topic() -> None:
    alarms = {
        r["Properties"]["MetricName"]: r["Properties"]
        for r in template()["Resources"].values()
        if r["Type"] == "AWS::CloudWatch::Alarm"
    }
    assert set(alarms) == {
        "ApproximateNumberOfMessagesVisible",  # the dead-letter queue
        "ApproximateAgeOfOldestMessage",
        "Errors",
        "Throttles",
        "ErrorRows",
        "DiscoveryLagSeconds",
        "DiscoveryFailures",
        "InventoryFailures",
        "InventorySnapshots",
    }
    for alarm in alarms.values():
        assert alarm["AlarmActions"] == [{"Ref": "AlarmTopic"}]
    dead_letters = alarms["ApproximateNumberOfMessagesVisible"]["Dimensions"][0]["Value"]
    assert dead_letters == {"GetAtt": "TaskDeadLetterQueue.QueueName"}


def test_dashboard_and_alarms_use_metric_names_the_function_emits() -> None:
    from lib.aws.metrics import INVOCATION_METRICS, NAMESPACE

    emitted = {name for name, _ in INVOCATION_METRICS.values()}
    body = template()["Resources"]["Dashboard"]["Properties"]["DashboardBody"]["Sub"][0]
    used = set(re.findall(rf'\["{NAMESPACE}", "(\w+)"', body))
    used |= set(re.findall(r'\[\.?"\.", "(\w+)"', body))
    assert {"Messages", "RowsWritten", "ErrorRows", "Failures", "Retries", "Throttled"} <= used
    assert {"DiscoveryLagSeconds", "TasksDiscovered"} <= used
    assert used - {"Duration", "Errors", "Throttles"} <= emitted
    assert "ApproximateNumberOfMessagesVisible" in body


def test_logs_are_kept_for_the_configured_retention() -> None:
    log_group = template()["Resources"]["IngestLogGroup"]["Properties"]
    assert log_group["RetentionInDays"] == {"Ref": "LogRetentionDays"}
    assert function()["LoggingConfig"]["LogGroup"] == {"Ref": "IngestLogGroup"}


def test_generated_glue_tables_and_queries_are_up_to_date() -> None:
    from lib.reports.athena import generated_block, template_block

    assert template_block(ROOT / "template.yaml") == generated_block(), (
        "template.yaml is stale: run `python -m lib template --write`"
    )


def test_glue_columns_match_the_arrow_schema_exactly() -> None:
    from lib.core.schema import ERRORS_SCHEMA, OPERATION_LOGS_SCHEMA

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

    from lib.reports.catalog import all_reports

    queries = {
        r["Properties"]["Name"].removeprefix("oplog-lake "): r["Properties"]["QueryString"]
        for r in template()["Resources"].values()
        if r["Type"] == "AWS::Athena::NamedQuery"
    }
    assert set(queries) == {*all_reports(), "create-latest-view"}
    for name, sql in queries.items():
        sqlglot.parse_one(sql, read="trino")  # raises on anything Athena's dialect cannot parse
        assert "{" not in sql, name  # every parameter was filled in
        assert "QUANTILE_CONT" not in sql.upper() and "PERCENTILE_CONT" not in sql.upper()
    assert "APPROX_PERCENTILE" in queries["durations"]
    assert "FROM latest" in queries["daily"]


def test_the_controls_reach_athena_as_the_same_sql_with_their_defaults() -> None:
    import sqlglot

    from lib.reports.controls import CONTROL_ORDER

    resources = template()["Resources"]
    queries = {
        r["Properties"]["Name"].removeprefix("oplog-lake "): r["Properties"]["QueryString"]
        for r in resources.values()
        if r["Type"] == "AWS::Athena::NamedQuery"
    }
    for name in ("controls", "resource-compliance"):
        sql = queries[name]
        for control in CONTROL_ORDER:  # every control inlined, with its relations as CTEs
            assert f"'{control}' AS control" in sql, (name, control)
        tree = sqlglot.parse_one(sql, read="trino")
        ctes = [cte.alias for cte in tree.args["with_"].expressions]
        assert (
            ctes[:3] == ["latest", "resources", "backups_by_id"] and "resource_compliance" in ctes
        )
    assert "rpo_hours=24" in queries["controls"] and "> 24 * 3600" in queries["resource-compliance"]
    # Discovery's state and verify's proofs, read as JSON: what coverage says is proven.
    assert "discover_state_files" in queries["coverage"]
    assert "verify_state_files" in queries["coverage"]
    spans = "array<map<string,string>>"
    for logical, name, folder, columns in (
        ("DiscoverStateTable", "discover_state_files", "discover", ["watermark", "listed_from"]),
        ("VerifyStateTable", "verify_state_files", "verify", []),
    ):
        table = resources[logical]["Properties"]["TableInput"]
        serde = table["StorageDescriptor"]["SerdeInfo"]["SerializationLibrary"]
        assert table["Name"] == name and serde == "org.openx.data.jsonserde.JsonSerDe"
        assert f"/_state/{folder}/" in str(table["StorageDescriptor"]["Location"])
        typed = {c["Name"]: c["Type"] for c in table["StorageDescriptor"]["Columns"]}
        assert typed == {
            **{c: "string" for c in columns},
            **({"earlier_listed": spans} if folder == "discover" else {"proven": spans}),
            "updated_at": "string",
        }


def test_both_functions_ship_the_slim_package_built_by_the_makefile() -> None:
    makefile = (ROOT / "Makefile").read_text()
    targets = {
        target
        for line in makefile.splitlines()
        if line.startswith("build-") and ":" in line
        for target in line.split(":", 1)[0].split()
    }
    for name in ("IngestFunction", "CompactFunction"):
        assert template()["Resources"][name]["Metadata"]["BuildMethod"] == "makefile"
        assert f"build-{name}" in targets
    assert '$(PYTHON) tools/package.py build --arch $(LAMBDA_ARCH) --out "$(ARTIFACTS_DIR)"' in (
        makefile
    )


def test_the_template_fits_cloudformations_limit_for_an_uploaded_template() -> None:
    # Too big to send inline (51,200 bytes): sam deploy uploads it, where the limit is 1 MB. The
    # generated Athena queries are most of it, and grow with every report.
    size = (ROOT / "template.yaml").stat().st_size
    assert 51_200 < size < 1_000_000
