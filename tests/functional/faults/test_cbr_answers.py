"""CBR faults on one ID, next to a healthy message: each settles only its own message."""

from __future__ import annotations

import gzip
import io
import json
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pytest

from lib.aws.app import App
from lib.core.settings import Settings

from conftest import (
    Context,
    lake_files,
    make_app,
    read_errors,
    read_rows,
    sqs_event,
)
from fakecbr import LOG_NOT_FOUND, FakeCBR, Reply, auth_error
from faultkit import (
    HEALTHY_ID,
    LOGS,
    MAX_ATTEMPTS,
    SEED_ID,
    THROTTLED,
    always,
    check,
    free_port,
    log_body,
    summary_line,
    timed,
)

# CBR faults on one ID, next to a healthy message


@dataclass(frozen=True)
class Fault:
    """Scripted answers for one ID, and what must become of its message."""

    replies: Callable[[], list[Reply]]
    failed: bool
    requests: int  # requests the client makes for the faulty ID
    logged: str  # why, as the pipeline logs it
    reason: str | None = None  # the error row of an acknowledged message
    changes: dict[str, Any] = field(default_factory=dict)


def _oversized_body() -> bytes:
    padding = "x" * (17 * 1024 * 1024)
    return json.dumps({"operation_log": {**LOGS[SEED_ID], "padding": padding}}).encode()


def _gzip_bomb() -> bytes:
    """About 100 KB that inflate to 64 MiB of JSON-looking bytes."""
    return gzip.compress(b'{"operation_log": {"x": "' + b"0" * (64 * 1024 * 1024), 1)


FAULTS: dict[str, Fault] = {
    "reset-always": Fault(
        lambda: always(Reply(reset=True)),
        True,
        MAX_ATTEMPTS,
        "request to CBR failed (ConnectionError)",
    ),
    "read-timeout": Fault(
        lambda: always(Reply(delay=1.0)),
        True,
        MAX_ATTEMPTS,
        "request to CBR failed (ReadTimeout)",
        changes={"http_timeout_s": 0.3},
    ),
    "429-storm-no-retry-after": Fault(
        lambda: always(Reply(429, THROTTLED)), True, MAX_ATTEMPTS, "CBR answered 429"
    ),
    **{
        f"{status}-always": Fault(
            lambda status=status: always(Reply(status, {"error_code": "APIGW.0203"})),
            True,
            MAX_ATTEMPTS,
            f"CBR answered {status}",
        )
        for status in (500, 502, 503, 504)
    },
    "401-without-refreshable-auth": Fault(
        lambda: always(auth_error("token expires")),
        True,
        1,
        "CBR rejected the credentials (401)",
    ),
    "403": Fault(
        lambda: [Reply(403, {"error_code": "APIGW.0302", "error_msg": "forbidden"})],
        True,
        1,
        "CBR refused access (403 APIGW.0302)",
    ),
    "404-not-found": Fault(
        lambda: [Reply(404, LOG_NOT_FOUND)], False, 1, "operation log not found", "not_found"
    ),
    "400-rejected": Fault(
        lambda: [Reply(400, {"error_code": "BackupService.9900", "error_msg": "bad parameter"})],
        False,
        1,
        "CBR rejected the request (BackupService.9900)",
        "rejected",
    ),
    # An API error message is text someone else wrote: a lone surrogate escape in it must not
    # make the error row unwritable (and the whole batch redelivered for ever).
    "404-lone-surrogate-in-error-msg": Fault(
        lambda: [Reply(404, '{"error_code": "BackupService.6500", "error_msg": "gone \\ud800"}')],
        False,
        1,
        "operation log not found",
        "not_found",
    ),
    "400-lone-surrogates-in-code-and-msg": Fault(
        lambda: [Reply(400, '{"error_code": "BackupService.99\\udfff", "error_msg": "\\udc00"}')],
        False,
        1,
        "CBR rejected the request (BackupService.99\udfff)",
        "rejected",
    ),
    "200-malformed-json": Fault(
        lambda: always(Reply(200, '{"operation_log": {"id": ')),
        True,
        MAX_ATTEMPTS,
        "CBR answered 200 with a body that is not JSON",
    ),
    "200-without-operation-log": Fault(
        lambda: always(Reply(200, {"operation_logs": [LOGS[SEED_ID]]})),
        True,
        MAX_ATTEMPTS,
        "CBR answered 200 without an operation_log object",
    ),
    "200-operation-log-null": Fault(
        lambda: always(Reply(200, {"operation_log": None})),
        True,
        MAX_ATTEMPTS,
        "CBR answered 200 without an operation_log object",
    ),
    "200-empty-body": Fault(
        lambda: always(Reply(200)),
        True,
        MAX_ATTEMPTS,
        "CBR answered 200 with a body that is not JSON",
    ),
    "200-html": Fault(
        lambda: always(
            Reply(200, "<html><body>Gateway login</body></html>", {"Content-Type": "text/html"})
        ),
        True,
        MAX_ATTEMPTS,
        "CBR answered 200 with a body that is not JSON",
    ),
    "404-html-from-a-proxy": Fault(
        lambda: [Reply(404, "<html>Not Found</html>", {"Content-Type": "text/html"})],
        True,
        1,
        "CBR answered 404 without a BackupService code: check CBR_ENDPOINT",
    ),
    "200-body-over-16MiB": Fault(
        lambda: always(Reply(200, _oversized_body())),
        True,
        MAX_ATTEMPTS,
        "CBR answered with a body over 16777216 bytes",
    ),
    "200-gzip-bomb": Fault(
        lambda: always(Reply(200, _gzip_bomb(), {"Content-Encoding": "gzip"})),
        True,
        MAX_ATTEMPTS,
        "CBR answered with a body over 16777216 bytes",
    ),
}


@pytest.mark.parametrize("fault", FAULTS.values(), ids=FAULTS.keys())
def test_a_cbr_fault_settles_only_its_own_message(
    served: FakeCBR, settings: Settings, lake: Path, logs: io.StringIO, fault: Fault
) -> None:
    served.script(SEED_ID, *fault.replies())
    event = sqs_event(SEED_ID, HEALTHY_ID, ids=["faulty", "healthy"])
    response, elapsed = timed(make_app(settings, **fault.changes), event)

    check(event, response, lake, ["faulty"] if fault.failed else [])
    assert len(served.cbr_requests(SEED_ID)) == fault.requests
    assert elapsed < Context().budget_s  # no fault holds the invocation past its budget
    (logged,) = [
        line["message"]
        for line in map(json.loads, logs.getvalue().splitlines())
        if line.get("operation_log_id") == SEED_ID
    ]
    assert logged == fault.logged
    assert [(r["id"], r["source_message_id"]) for r in read_rows(lake)] == [(HEALTHY_ID, "healthy")]
    errors = read_errors(lake)
    if fault.reason is None:
        assert errors == []
    else:
        (error,) = errors
        assert (error["reason"], error["operation_log_id"], error["source_message_id"]) == (
            fault.reason,
            SEED_ID,
            "faulty",
        )


def test_connection_refused_is_retried_then_redelivered(
    settings: Settings, lake: Path, logs: io.StringIO
) -> None:
    waits: list[float] = []  # the backoff, recorded instead of waited on the wall clock
    app = App.from_settings(
        replace(settings, cbr_endpoint=f"http://127.0.0.1:{free_port()}"), sleep=waits.append
    )
    event = sqs_event(SEED_ID, json.dumps([HEALTHY_ID, SEED_ID]), "bad id!")
    response, elapsed = timed(app, event)
    check(event, response, lake, ["m0", "m1"])
    assert elapsed < Context().budget_s
    assert len(waits) == 2 * (MAX_ATTEMPTS - 1)  # a backoff between the tries of each ID
    summary = summary_line(logs)
    assert summary["requests"] == 2 * MAX_ATTEMPTS and summary["failure_reasons"] == {
        "retriable": 2
    }
    assert [e["reason"] for e in read_errors(lake)] == ["invalid_id"]


def test_429_with_retry_after_waits_as_told_then_redelivers(
    served: FakeCBR, settings: Settings, lake: Path, logs: io.StringIO
) -> None:
    served.script(SEED_ID, *always(Reply(429, THROTTLED, {"Retry-After": "7"})))
    event = sqs_event(SEED_ID, HEALTHY_ID)
    waits: list[float] = []  # the client's sleep, recorded instead of waited on the wall clock
    app = App.from_settings(replace(settings, max_attempts=3), sleep=waits.append)
    response, _ = timed(app, event)
    check(event, response, lake, ["m0"])
    assert len(served.cbr_requests(SEED_ID)) == 3
    assert waits == [7.0, 7.0]  # Retry-After, not the 0.01 s backoff, between the three tries
    assert summary_line(logs)["throttled"] == 3


def test_an_absurd_retry_after_is_not_waited_for(
    served: FakeCBR, settings: Settings, lake: Path
) -> None:
    served.script(SEED_ID, *always(Reply(429, THROTTLED, {"Retry-After": "86400"})))
    event = sqs_event(SEED_ID, HEALTHY_ID)
    waits: list[float] = []  # the client's sleep, recorded instead of waited on the wall clock
    response, _ = timed(App.from_settings(settings, sleep=waits.append), event)
    check(event, response, lake, ["m0"])
    assert waits == []  # waiting a day would outlive the invocation: it gives up at once
    assert len(served.cbr_requests(SEED_ID)) == 1


def test_a_different_id_in_the_answer_is_written_with_an_id_mismatch_row(
    served: FakeCBR, settings: Settings, lake: Path
) -> None:
    asked = "asked-for-this-id"
    served.add_body(asked, log_body(SEED_ID))
    event = sqs_event(asked)
    response = make_app(settings).handle(event, Context())
    check(event, response, lake, [])
    assert [(r["id"], r["source_message_id"]) for r in read_rows(lake)] == [(SEED_ID, "m0")]
    (error,) = read_errors(lake)
    assert (error["reason"], error["operation_log_id"], error["http_status"]) == (
        "id_mismatch",
        asked,
        200,
    )


def test_a_10_mb_answer_is_read_flattened_and_written_whole(
    served: FakeCBR, settings: Settings, lake: Path, logs: io.StringIO
) -> None:
    """10 MB is under the 16 MiB cap: the log is kept, its 10,000 resources and raw_json too."""
    resources = [
        {
            "id": f"{i:08d}-0000-4000-8000-000000000000",
            "name": f"ecs-audit-{i:06d}",
            "type": "OS::Nova::Server",
            "extra_info": {
                "exclude_volumes": [f"{i:08d}-{v:04d}-4000-8000-00000000000a" for v in range(20)],
                "include_volumes": [{"id": f"vol-{i}-c", "os_version": "EulerOS 2.0 (x86_64)"}],
            },
        }
        for i in range(10_000)
    ]
    log = {
        **LOGS[SEED_ID],
        "extra_info": {"remove_resources": {"fail_count": 0, "total_count": len(resources)}},
    }
    log["extra_info"]["remove_resources"]["resources"] = resources
    body = json.dumps({"operation_log": log}).encode()
    assert 10_000_000 <= len(body) < 16 * 1024 * 1024
    served.add_body(SEED_ID, body)
    event = sqs_event(SEED_ID)

    response, elapsed = timed(make_app(settings), event)

    check(event, response, lake, [])
    (row,) = read_rows(lake)
    assert len(row["extra_info__remove_resources__resources"]) == len(resources)
    assert row["extra_info__remove_resources__resources"][-1]["name"] == "ecs-audit-009999"
    assert json.loads(row["raw_json"]) == log
    (data_file,) = [f for f in lake_files(lake) if "operation_logs" in f.parts]
    assert data_file.stat().st_size < len(body)  # zstd keeps the file smaller than the answer
    assert summary_line(logs)["failures"] == 0
    assert elapsed < Context().budget_s  # its speed is measured by the benchmarks
