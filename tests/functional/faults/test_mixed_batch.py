"""Many faults in one batch: each message is settled on its own."""

from __future__ import annotations

import io
import json
from pathlib import Path

from lib.core.settings import Settings

from conftest import (
    PROJECT,
    Context,
    make_app,
    read_errors,
    read_rows,
    sqs_event,
)
from fakecbr import FakeCBR, Reply
from faultkit import (
    LOGS,
    THROTTLED,
    always,
    check,
    log_body,
    summary_line,
    timed,
)

# Many faults in one batch


def test_a_mixed_batch_settles_each_message_on_its_own(
    served: FakeCBR, settings: Settings, lake: Path, logs: io.StringIO
) -> None:
    good = sorted(LOGS)
    served.script("fault-reset", *always(Reply(reset=True)))
    served.script("fault-slow", *always(Reply(delay=1.0)))
    served.script("fault-429", *always(Reply(429, THROTTLED)))
    served.script("fault-503", *always(Reply(503, "<html>busy</html>")))
    served.script("fault-500", *always(Reply(500)))
    served.script("fault-403", Reply(403, {"error_code": "APIGW.0302"}))
    served.script("fault-400", Reply(400, {"error_code": "BackupService.9900"}))
    served.script("fault-badjson", *always(Reply(200, "{not json")))
    served.script("fault-html", *always(Reply(200, "<html>login</html>")))
    served.script(good[6], Reply(200, json.dumps(log_body(good[6])), cut_after=50))  # once
    served.add_body("fault-mismatch", log_body(good[3]))
    messages = {
        "ok-bare": good[0],
        "ok-array": json.dumps([good[1], good[2]]),
        "ok-object": json.dumps({"operation_log_id": good[4], "project_id": PROJECT}),
        "ok-same-id-as-ok-bare": good[0],
        "ok-not-found": "fault-404",
        "ok-rejected": "fault-400",
        "ok-mismatch": "fault-mismatch",
        "ok-cut-then-whole": good[6],
        "ok-array-with-not-found": json.dumps([good[5], "fault-404b"]),
        "ok-invalid-id": "bad id!",
        "ok-invalid-message": "{broken",
        "ok-empty-array": "[]",
        "ko-reset": "fault-reset",
        "ko-read-timeout": "fault-slow",
        "ko-429": "fault-429",
        "ko-503-html": "fault-503",
        "ko-403": "fault-403",
        "ko-bad-json": "fault-badjson",
        "ko-200-html": "fault-html",
        "ko-array-with-one-500": json.dumps([good[4], good[7], "fault-500"]),
        "ko-shares-reset-with-ko-reset": json.dumps([good[8], "fault-reset"]),
    }
    event = sqs_event(*messages.values(), ids=list(messages))

    response, elapsed = timed(make_app(settings, http_timeout_s=0.3), event)

    check(event, response, lake, [m for m in messages if m.startswith("ko-")])
    assert elapsed < Context().budget_s  # the 0.3 s timeouts never hold it past its budget
    rows = read_rows(lake)
    written = sorted((r["id"], r["source_message_id"]) for r in rows)
    assert written == sorted(
        [
            (good[0], "ok-bare"),
            (good[1], "ok-array"),
            (good[2], "ok-array"),
            (good[4], "ok-object"),
            (good[0], "ok-same-id-as-ok-bare"),
            (good[3], "ok-mismatch"),
            (good[6], "ok-cut-then-whole"),
            (good[5], "ok-array-with-not-found"),
        ]
    )
    reasons = sorted((e["source_message_id"], e["reason"]) for e in read_errors(lake))
    assert reasons == [
        ("ok-array-with-not-found", "not_found"),
        ("ok-empty-array", "invalid_message"),
        ("ok-invalid-id", "invalid_id"),
        ("ok-invalid-message", "invalid_message"),
        ("ok-mismatch", "id_mismatch"),
        ("ok-not-found", "not_found"),
        ("ok-rejected", "rejected"),
    ]
    assert len(served.cbr_requests(good[0])) == 1  # one fetch serves both messages naming it
    assert summary_line(logs)["failure_reasons"] == {"retriable": 8, "access": 1}
