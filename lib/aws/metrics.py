"""CloudWatch metrics as embedded-metric-format (EMF) log lines: one small formatter.

CloudWatch Logs turns each line into metrics in the `OplogLake` namespace, with no API call and no
extra dependency. Error rows are also broken down by `Reason`.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from typing import Any

NAMESPACE = "OplogLake"
SERVICE = "oplog-lake"

# Summary key -> (metric name, unit). Summaries are `Counts.summary()`, alone (an SQS batch) or
# with the queue's side of a drain, or a compaction's summary.
INVOCATION_METRICS = {
    "messages": ("Messages", "Count"),
    "ids": ("TaskIds", "Count"),
    "rows": ("RowsWritten", "Count"),
    "error_rows": ("ErrorRows", "Count"),
    "failures": ("Failures", "Count"),
    "retries": ("Retries", "Count"),
    "requests": ("Requests", "Count"),
    "throttled": ("Throttled", "Count"),
    "token_refreshes": ("TokenRefreshes", "Count"),
    "followed": ("FollowUpsSent", "Count"),
    "follow_exhausted": ("FollowUpsExhausted", "Count"),
    "drift": ("SchemaDrift", "Count"),
    "nulled": ("ValuesNulled", "Count"),
    "fetch_latency_ms": ("FetchLatency", "Milliseconds"),
    "received": ("DrainReceived", "Count"),
    "deleted": ("DrainDeleted", "Count"),
    "delete_failed": ("DrainDeleteFailed", "Count"),
    "compacted": ("PartitionsCompacted", "Count"),
    "discovery_lag_s": ("DiscoveryLagSeconds", "Seconds"),
    "discovered": ("TasksDiscovered", "Count"),
    "discovery_gaps": ("DiscoveryGaps", "Count"),
    "discovery_failures": ("DiscoveryFailures", "Count"),
    "discovery_held": ("DiscoveryHeld", "Count"),
    "discovery_page_failed": ("DiscoveryPageFailed", "Count"),
    "discovery_incomplete": ("DiscoveryIncompleteWindows", "Count"),
    "discovery_write_failed": ("DiscoveryWriteFailed", "Count"),
    "discovery_follow_failed": ("DiscoveryFollowFailed", "Count"),
    "rows_dropped": ("CompactionRowsDropped", "Count"),
    "snapshots": ("InventorySnapshots", "Count"),
    "inventory_failures": ("InventoryFailures", "Count"),
}


def emf_lines(summary: Mapping[str, Any], timestamp_ms: int | None = None) -> list[str]:
    """EMF JSON lines for one invocation's summary."""
    stamp = timestamp_ms if timestamp_ms is not None else int(time.time() * 1000)
    values = {
        name: (summary[key], unit)
        for key, (name, unit) in INVOCATION_METRICS.items()
        if isinstance(summary.get(key), int | float)
    }
    lines = [_blob(stamp, {"Service": SERVICE}, values)]
    reasons = summary.get("error_reasons") or {}
    for reason, count in sorted(reasons.items()):
        dimensions = {"Service": SERVICE, "Reason": reason}
        lines.append(_blob(stamp, dimensions, {"ErrorRowsByReason": (count, "Count")}))
    return lines


def _blob(stamp: int, dimensions: dict[str, str], values: dict[str, tuple[float, str]]) -> str:
    document: dict[str, Any] = {
        "_aws": {
            "Timestamp": stamp,
            "CloudWatchMetrics": [
                {
                    "Namespace": NAMESPACE,
                    "Dimensions": [list(dimensions)],
                    "Metrics": [{"Name": name, "Unit": unit} for name, (_, unit) in values.items()],
                }
            ],
        },
        **dimensions,
        **{name: value for name, (value, _) in values.items()},
    }
    return json.dumps(document, separators=(",", ":"))
