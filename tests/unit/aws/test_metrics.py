"""CloudWatch metrics as embedded-metric-format lines, for every kind of invocation."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from lib.aws.metrics import emf_lines
from lib.ingest.discover_run import ProjectRun, summarize
from lib.ingest.inventory.snapshot import ProjectSnapshot
from lib.ingest.inventory.snapshot import summarize as summarize_inventory


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


def test_a_discovery_pass_reports_its_lag_what_it_found_and_how_each_project_ended() -> None:
    now = datetime(2026, 11, 30, tzinfo=UTC)
    runs = [
        ProjectRun("p1", new_rows=7, watermark_after=now - timedelta(minutes=10)),
        ProjectRun("p2", stopped_by="held", watermark_before=now - timedelta(days=31)),
        ProjectRun("p3", stopped_by="write_failed", lag_from=now - timedelta(days=2)),
        ProjectRun("p4", stopped_by="follow_failed"),
        ProjectRun("p5", stopped_by="incomplete"),
        ProjectRun("p6", stopped_by="state_refused"),
    ]
    summary = {"event": "discover", **summarize(runs, now)}
    (main,) = (json.loads(line) for line in emf_lines(summary, timestamp_ms=1))
    names = {m["Name"]: m["Unit"] for m in main["_aws"]["CloudWatchMetrics"][0]["Metrics"]}
    assert names == {
        "DiscoveryLagSeconds": "Seconds",
        "TasksDiscovered": "Count",
        "DiscoveryGaps": "Count",
        "DiscoveryFailures": "Count",
        "DiscoveryHeld": "Count",
        "DiscoveryPageFailed": "Count",
        "DiscoveryIncompleteWindows": "Count",
        "DiscoveryWriteFailed": "Count",
        "DiscoveryFollowFailed": "Count",
    }
    assert (main["DiscoveryLagSeconds"], main["TasksDiscovered"]) == (2 * 86400.0, 7)
    assert (main["DiscoveryGaps"], main["DiscoveryHeld"], main["DiscoveryFailures"]) == (1, 1, 4)
    assert (main["DiscoveryWriteFailed"], main["DiscoveryFollowFailed"]) == (2, 1)
    assert (main["DiscoveryIncompleteWindows"], main["DiscoveryPageFailed"]) == (1, 0)


def test_an_inventory_run_reports_its_snapshots_even_when_none_was_published() -> None:
    # InventoryStaleAlarm counts hours without a published snapshot: a run that published
    # nothing must send a 0 (breaching), not stay silent.
    at = datetime(2026, 11, 30, 6, tzinfo=UTC)
    published = ProjectSnapshot("p1", "s1", at, published=True, requests=4)
    failed = ProjectSnapshot("p2", "s2", at, stopped_by="request_failed")
    for runs, expected in (([published, failed], (1, 1)), ([failed], (0, 1))):
        summary = {"event": "inventory", **summarize_inventory(runs)}
        (main,) = (json.loads(line) for line in emf_lines(summary, timestamp_ms=1))
        assert (main["InventorySnapshots"], main["InventoryFailures"]) == expected
