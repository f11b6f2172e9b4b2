"""Records nested around every depth limit in one SQS batch with healthy messages.

The batch reader takes records of up to MAX_OPENINGS brackets; whatever walks what it read in
Python (the inferred types of unknown fields) must not meet the interpreter's recursion limit,
whose distance depends on the caller's stack. So every depth from well below to past both limits
is sent, as arrays and as objects, where the schema knows the field and where it does not: no depth
may cost a healthy message, and the deep record itself ends as a data row."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lib.core.settings import Settings

from conftest import Context, failed_ids, fixture_logs, make_app, read_errors, read_rows, sqs_event
from fakecbr import FakeCBR

DEPTHS = range(900, 1011)


def deep_value(levels: int, shape: str) -> str:
    if shape == "array":
        return "[" * levels + "1.5" + "]" * levels
    return '{"k":' * levels + "1.5" + "}" * levels


def log_text(log_id: str, where: str, value: str) -> str:
    return json.dumps({"id": log_id, where: "@@"}).replace('"@@"', value)


@pytest.mark.slow  # 444 invocations; the reader takes up to 0.1 s for a 1,000-deep array
@pytest.mark.parametrize("where", ["unknown", "status"])
@pytest.mark.parametrize("shape", ["array", "object"])
def test_no_depth_fails_a_batch(
    served: FakeCBR, settings: Settings, lake: Path, where: str, shape: str
) -> None:
    healthy = sorted(fixture_logs())
    app = make_app(settings)
    texts = {}
    for levels in DEPTHS:
        # GIVEN a batch of a record nested `levels` deep between two healthy IDs
        log_id = f"deep-{levels}"
        texts[log_id] = log_text(log_id, where, deep_value(levels, shape))
        served.add_body(log_id, f'{{"operation_log": {texts[log_id]}}}')
        batch = [healthy[levels % 3], log_id, healthy[3 + levels % 3]]
        # WHEN the handler takes it
        response = app.handle(sqs_event(*batch), Context())
        # THEN nothing is retried
        assert failed_ids(response) == [], levels
    # AND every healthy and every deep record is a data row, the deep one with its own text
    assert read_errors(lake) == []
    rows = {row["id"]: row for row in read_rows(lake)}
    assert set(rows) == set(healthy[:6]) | set(texts)
    assert {log_id: rows[log_id]["raw_json"] for log_id in texts} == texts
