"""CloudWatch metrics as embedded-metric-format lines, for every kind of invocation."""

from __future__ import annotations

import json

from lib.aws.metrics import emf_lines


def test_metrics_are_embedded_metric_format_lines() -> None:
    summary = {
        "messages": 3,
        "rows": 2,
        "error_rows": 1,
        "retries": 0,
        "fetch_latency_ms": 12.5,
        "error_reasons": {"not_found": 1},
        "event": "sqs",
    }
    main, by_reason = (json.loads(line) for line in emf_lines(summary, timestamp_ms=1))
    directive = main["_aws"]["CloudWatchMetrics"][0]
    assert directive["Namespace"] == "OplogLake" and directive["Dimensions"] == [["Service"]]
    names = [m["Name"] for m in directive["Metrics"]]
    assert names == ["Messages", "RowsWritten", "ErrorRows", "Retries", "FetchLatency"]
    assert (main["Messages"], main["RowsWritten"], main["FetchLatency"]) == (3, 2, 12.5)
    assert by_reason["Reason"] == "not_found" and by_reason["ErrorRowsByReason"] == 1


def test_a_discovery_pass_reports_its_lag_and_what_it_found() -> None:
    summary = {
        "event": "discover",
        "projects": [{"project_id": "p1"}],
        "discovered": 7,
        "discovery_lag_s": 615.5,
        "discovery_gaps": 0,
        "discovery_failures": 1,
    }
    (main,) = (json.loads(line) for line in emf_lines(summary, timestamp_ms=1))
    names = {m["Name"]: m["Unit"] for m in main["_aws"]["CloudWatchMetrics"][0]["Metrics"]}
    assert names == {
        "DiscoveryLagSeconds": "Seconds",
        "TasksDiscovered": "Count",
        "DiscoveryGaps": "Count",
        "DiscoveryFailures": "Count",
    }
    assert (main["DiscoveryLagSeconds"], main["TasksDiscovered"]) == (615.5, 7)
