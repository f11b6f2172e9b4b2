"""Fault injection: the handler against failing CBR, IAM, lake, queue and clock.

Every scenario checks the exact `batchItemFailures` (or drain summary), the delivery invariant
(`assert_invariant`: each message failed XOR all its IDs written by it) and that every lake file is
whole. Helper servers that the fake CBR cannot play (a drip-feeding CBR, an SQS endpoint that fails
ReceiveMessage) live in this file.
"""

from __future__ import annotations

import contextlib
import gzip
import http.client
import io
import json
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

import boto3
import pytest
import requests

from lib.aws.app import App
from lib.core.errors import ConfigError
from lib.core.settings import IamPassword, Settings

from conftest import (
    PROJECT,
    Context,
    failed_ids,
    fixture_logs,
    lake_files,
    load_event,
    make_app,
    read_errors,
    read_rows,
    sqs_event,
)
from fakecbr import LOG_NOT_FOUND, FakeCBR, Reply, auth_error
from invariant import assert_invariant, assert_lake_files_are_whole

Event = dict[str, Any]
Response = dict[str, Any]

LOGS = fixture_logs()
SEED_ID = "4827f2da-b008-4507-ab7d-42d0df5ed912"  # created 2019-05-23
HEALTHY_ID = "3e98c4f6-40e1-4c96-9f1c-9935719f9212"  # created 2026-11-20
DAY_20 = "3d9ff5bf-345d-4907-aab6-bc29006cd71a"  # the three partitions of the blocked-lake test
DAY_21 = ("495a38d0-9ce6-481b-b615-4826b1548e26", "881a7f0c-c7b7-4bd2-81d9-6d1af775a447")
DAY_22 = "0ea2df01-7957-4f1e-bfdd-cc2d0d47ec5c"
MAX_ATTEMPTS = 4  # the `settings` fixture's
USER, PASSWORD, DOMAIN = "auditor", "s3cret-Passw0rd!", "acme"
BUCKET = "audit-lake"
THROTTLED = {"error_code": "APIGW.0308", "error_msg": "The throttling threshold has been reached"}


def always(reply: Reply, times: int = 20) -> list[Reply]:
    """The same answer to every request the client can make for one ID."""
    return [reply] * times


def log_body(log_id: str) -> dict[str, Any]:
    return {"operation_log": LOGS[log_id]}


def free_port() -> int:
    """A loopback port nothing listens on (bound, read, released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def check(event: Event, response: Response, lake: Path, failed: list[str]) -> None:
    """The exact failures, the delivery invariant, and whole lake files."""
    assert failed_ids(response) == sorted(failed)
    assert_invariant(event, response, lake)
    if lake.exists():
        assert_lake_files_are_whole(lake)


def summary_line(logs: io.StringIO) -> dict[str, Any]:
    lines = [json.loads(line) for line in logs.getvalue().splitlines()]
    (summary,) = [line for line in lines if line["message"] == "invocation done"]
    return summary


def timed(app: App, event: Event, context: Context | None = None) -> tuple[Response, float]:
    started = time.monotonic()
    response = app.handle(event, context or Context())
    return response, time.monotonic() - started


@dataclass
class Run:
    """A handler call made in a thread so that a hang can be measured and then released."""

    response: Response | None = None
    error: BaseException | None = None
    elapsed: float = 0.0
    in_time: bool = False


def run_with_budget(app: App, event: Event, budget_s: float, release: Callable[[], None]) -> Run:
    """Call the handler with `budget_s`; if it is still running when that is spent, release it."""
    run = Run()

    def work() -> None:
        try:
            run.response = app.handle(event, Context(budget_s=budget_s))
        except BaseException as exc:
            run.error = exc

    started = time.monotonic()
    thread = threading.Thread(target=work, name="handler", daemon=True)
    thread.start()
    thread.join(budget_s)
    run.in_time = not thread.is_alive()
    release()  # unblock a handler that overran, so the test ends promptly
    thread.join(30)
    run.elapsed = time.monotonic() - started
    assert not thread.is_alive(), "the handler did not return even after its servers stopped"
    if run.error is not None:
        raise run.error
    return run


@pytest.fixture
def served(fake: FakeCBR) -> FakeCBR:
    for log in LOGS.values():
        fake.add_log(log)
    return fake


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
    assert elapsed < 10
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
    app = make_app(settings, cbr_endpoint=f"http://127.0.0.1:{free_port()}")
    event = sqs_event(SEED_ID, json.dumps([HEALTHY_ID, SEED_ID]), "bad id!")
    response, elapsed = timed(app, event)
    check(event, response, lake, ["m0", "m1"])
    assert elapsed < 5
    summary = summary_line(logs)
    assert summary["requests"] == 2 * MAX_ATTEMPTS and summary["failure_reasons"] == {
        "retriable": 2
    }
    assert [e["reason"] for e in read_errors(lake)] == ["invalid_id"]


def test_429_with_retry_after_waits_as_told_then_redelivers(
    served: FakeCBR, settings: Settings, lake: Path, logs: io.StringIO
) -> None:
    served.script(SEED_ID, *always(Reply(429, THROTTLED, {"Retry-After": "1"})))
    event = sqs_event(SEED_ID, HEALTHY_ID)
    response, _ = timed(make_app(settings, max_attempts=2), event)
    check(event, response, lake, ["m0"])
    first, second = served.cbr_requests(SEED_ID)
    assert second.at - first.at >= 0.95
    assert summary_line(logs)["throttled"] == 2


def test_an_absurd_retry_after_is_not_waited_for(
    served: FakeCBR, settings: Settings, lake: Path
) -> None:
    served.script(SEED_ID, *always(Reply(429, THROTTLED, {"Retry-After": "86400"})))
    event = sqs_event(SEED_ID, HEALTHY_ID)
    response, elapsed = timed(make_app(settings), event)
    check(event, response, lake, ["m0"])
    assert elapsed < 2
    assert len(served.cbr_requests(SEED_ID)) == 1  # waiting a day would outlive the invocation


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
    assert elapsed < 20


# A CBR that sends its answer one byte at a time


class DripServer:
    """Answers every request 200, one byte every `every_s`: the head, or the body after it.

    `sized`: the head at once, then the body of its Content-Length byte by byte.
    `chunked`: the head at once, then the body as one-byte chunks.
    `headers`: the status line and headers themselves byte by byte.
    """

    def __init__(
        self, body: bytes, mode: Literal["sized", "chunked", "headers"], every_s: float = 0.2
    ) -> None:
        self.body, self.mode, self.every_s = body, mode, every_s
        self._stop = threading.Event()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._connections: list[socket.socket] = []
        self._lock = threading.Lock()
        self.requests = 0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._listener.getsockname()[1]}"

    def __enter__(self) -> DripServer:
        threading.Thread(target=self._accept, name="drip", daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        """Stop dripping and drop every connection (the client sees the body cut short)."""
        self._stop.set()
        with contextlib.suppress(OSError):
            self._listener.close()
        with self._lock:
            for connection in self._connections:
                with contextlib.suppress(OSError):
                    connection.shutdown(socket.SHUT_RDWR)

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                connection, _ = self._listener.accept()
            except OSError:
                return
            with self._lock:
                self._connections.append(connection)
                self.requests += 1
            threading.Thread(target=self._serve, args=(connection,), daemon=True).start()

    def _serve(self, connection: socket.socket) -> None:
        with contextlib.suppress(OSError), connection:
            connection.settimeout(5)
            received = b""
            while b"\r\n\r\n" not in received:
                chunk = connection.recv(65536)
                if not chunk:
                    return
                received += chunk
            framing = (
                "Transfer-Encoding: chunked"
                if self.mode == "chunked"
                else f"Content-Length: {len(self.body)}"
            )
            head = f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n{framing}\r\n\r\n"
            if self.mode == "headers":
                self._drip(connection, [bytes([b]) for b in head.encode()])
                connection.sendall(self.body)
            elif self.mode == "chunked":
                connection.sendall(head.encode())
                self._drip(connection, [b"1\r\n" + bytes([b]) + b"\r\n" for b in self.body])
                connection.sendall(b"0\r\n\r\n")
            else:
                connection.sendall(head.encode())
                self._drip(connection, [bytes([b]) for b in self.body])

    def _drip(self, connection: socket.socket, pieces: list[bytes]) -> None:
        for piece in pieces:
            if self._stop.wait(self.every_s):
                raise OSError("stopped")
            connection.sendall(piece)


DRIP_BUDGET_S = 5.5  # the safety margin is 5 s: 0.5 s of work, so reads time out after 0.5 s


@pytest.mark.parametrize(
    "mode",
    [
        "chunked",
        "sized",
        "headers",
    ],
)
def test_a_drip_fed_answer_is_abandoned_when_the_budget_runs_out(
    settings: Settings, lake: Path, mode: Literal["sized", "chunked", "headers"]
) -> None:
    with DripServer(json.dumps(log_body(SEED_ID)).encode(), mode) as drip:
        app = make_app(settings, cbr_endpoint=drip.base_url)
        event = sqs_event(SEED_ID)
        run = run_with_budget(app, event, DRIP_BUDGET_S, drip.stop)
    assert run.in_time, f"the handler was still running {DRIP_BUDGET_S} s into its budget"
    assert run.response is not None
    check(event, run.response, lake, ["m0"])
    assert drip.requests == 1


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
    assert elapsed < 10
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


# IAM


@pytest.fixture
def iam_fake() -> Iterator[FakeCBR]:
    with FakeCBR(require_auth=True, iam_users={(USER, PASSWORD, DOMAIN)}) as server:
        for log in LOGS.values():
            server.add_log(log)
        yield server


def with_iam(settings: Settings, cbr: str, iam: str, password: str = PASSWORD) -> Settings:
    credentials = IamPassword(endpoint=iam, username=USER, domain=DOMAIN, password=password)
    return replace(settings, cbr_endpoint=cbr, iam=credentials)


def test_a_401_once_refreshes_the_token_and_succeeds(
    iam_fake: FakeCBR, settings: Settings, lake: Path, logs: io.StringIO
) -> None:
    iam_fake.script(SEED_ID, auth_error("token expires"))
    app = make_app(with_iam(settings, iam_fake.base_url, iam_fake.base_url))
    event = sqs_event(SEED_ID, HEALTHY_ID)
    response = app.handle(event, Context())
    check(event, response, lake, [])
    assert len(iam_fake.cbr_requests(SEED_ID)) == 2
    assert len(iam_fake.token_requests()) == 2
    assert summary_line(logs)["token_refreshes"] == 1


def test_a_401_that_survives_the_refresh_is_never_acked(
    iam_fake: FakeCBR, settings: Settings, lake: Path
) -> None:
    iam_fake.script(SEED_ID, *always(auth_error("token expires")))
    app = make_app(with_iam(settings, iam_fake.base_url, iam_fake.base_url))
    event = sqs_event(SEED_ID, HEALTHY_ID)
    response = app.handle(event, Context())
    check(event, response, lake, ["m0"])
    assert len(iam_fake.cbr_requests(SEED_ID)) == 2  # the first try and one after the refresh


def test_an_unreachable_iam_fails_every_message_without_calling_cbr(
    iam_fake: FakeCBR, settings: Settings, lake: Path, logs: io.StringIO
) -> None:
    app = make_app(with_iam(settings, iam_fake.base_url, f"http://127.0.0.1:{free_port()}"))
    event = sqs_event(SEED_ID, json.dumps([HEALTHY_ID, DAY_20]), "bad id!")
    response, elapsed = timed(app, event)
    check(event, response, lake, ["m0", "m1"])
    assert elapsed < 5
    assert iam_fake.requests == []
    assert "IAM token endpoint unreachable" in logs.getvalue()


def test_a_refused_password_fails_the_messages_without_calling_cbr(
    iam_fake: FakeCBR, settings: Settings, lake: Path, logs: io.StringIO
) -> None:
    app = make_app(with_iam(settings, iam_fake.base_url, iam_fake.base_url, "wrong-password"))
    event = sqs_event(SEED_ID, HEALTHY_ID, "bad id!")
    response = app.handle(event, Context())
    check(event, response, lake, ["m0", "m1"])
    assert iam_fake.cbr_requests() == []
    assert "IAM refused a token for IAM_USERNAME (HTTP 401)" in logs.getvalue()
    assert "wrong-password" not in logs.getvalue()


def test_a_refused_password_is_tried_once_per_project_per_invocation(
    iam_fake: FakeCBR, settings: Settings, lake: Path
) -> None:
    ids = sorted(LOGS)[:8]
    app = make_app(with_iam(settings, iam_fake.base_url, iam_fake.base_url, "wrong-password"))
    event = sqs_event(*ids)
    response = app.handle(event, Context())
    check(event, response, lake, [f"m{i}" for i in range(len(ids))])
    assert len(iam_fake.token_requests()) == 1


def test_a_token_without_expires_at_is_used_and_kept(settings: Settings, lake: Path) -> None:
    with FakeCBR(
        require_auth=True, iam_users={(USER, PASSWORD, DOMAIN)}, omit_expires_at=True
    ) as server:
        for log in LOGS.values():
            server.add_log(log)
        app = make_app(with_iam(settings, server.base_url, server.base_url))
        for ids in ([SEED_ID, HEALTHY_ID], [DAY_20, DAY_22]):
            event = sqs_event(*ids)
            check(event, app.handle(event, Context()), lake, [])
        assert len(server.token_requests()) == 1
        assert len(read_rows(lake)) == 4


HANG_BUDGET_S = 5.2  # 0.2 s of work: each token request may wait 0.2 s


def test_a_hanging_iam_does_not_hold_the_invocation_past_its_budget(
    settings: Settings, lake: Path
) -> None:
    ids = [f"task-{i:02d}" for i in range(40)]  # each waits its turn for the project's token
    iam = FakeCBR().start()
    iam.iam_script.extend(always(Reply(delay=30), 100))
    try:
        app = make_app(
            with_iam(settings, "http://127.0.0.1:9", iam.base_url),
            fetch_concurrency=len(ids),
            http_timeout_s=0.5,
        )
        event = sqs_event(*ids)
        run = run_with_budget(app, event, HANG_BUDGET_S, iam.stop)
    finally:
        iam.stop()
    assert run.in_time, f"still waiting for IAM {HANG_BUDGET_S} s into the budget"
    assert run.response is not None
    check(event, run.response, lake, [f"m{i}" for i in range(len(ids))])


# The lake


def test_an_unwritable_lake_fails_the_whole_batch(
    served: FakeCBR, settings: Settings, lake: Path, logs: io.StringIO
) -> None:
    lake.parent.mkdir(parents=True, exist_ok=True)
    lake.write_text("a file where the lake folder should be")
    event = sqs_event(SEED_ID, "bad id!", "missing-id", ids=["data", "invalid", "not-found"])
    response = make_app(settings).handle(event, Context())
    check(event, response, lake, ["data", "invalid", "not-found"])
    assert lake.read_text() == "a file where the lake folder should be"
    assert summary_line(logs)["failure_reasons"] == {"lake_write": 3}
    assert "lake write failed, whole batch redelivered" in logs.getvalue()


BLOCKED_EVENT = sqs_event(
    DAY_20, json.dumps(list(DAY_21)), DAY_22, "bad id!", ids=["day20", "day21", "day22", "invalid"]
)


def write_with_second_partition_blocked(settings: Settings, lake: Path) -> Response:
    """Run BLOCKED_EVENT with a regular file where dt=2026-11-21 must go, then remove it."""
    blocker = lake / "operation_logs" / "dt=2026-11-21"
    blocker.parent.mkdir(parents=True)
    blocker.write_text("not a partition")
    response = make_app(settings).handle(BLOCKED_EVENT, Context())
    blocker.unlink()
    return response


def test_a_write_failing_on_the_second_partition_fails_all_and_heals_on_redelivery(
    served: FakeCBR, settings: Settings, lake: Path
) -> None:
    first = write_with_second_partition_blocked(settings, lake)
    assert failed_ids(first) == ["day20", "day21", "day22", "invalid"]
    assert_lake_files_are_whole(lake)
    orphans = [f.relative_to(lake).as_posix() for f in lake_files(lake)]
    assert [o.rpartition("/")[0] for o in orphans] in ([], ["operation_logs/dt=2026-11-20"])

    second = make_app(settings).handle(BLOCKED_EVENT, Context())

    check(BLOCKED_EVENT, second, lake, [])
    day_20 = [
        f.relative_to(lake).as_posix() for f in (lake / "operation_logs/dt=2026-11-20").iterdir()
    ]
    assert len(day_20) == 1 and set(orphans) <= set(day_20)  # the orphan replaced, same name
    rows = read_rows(lake)
    assert sorted(r["id"] for r in rows) == sorted([DAY_20, *DAY_21, DAY_22])  # no duplicate
    assert [e["reason"] for e in read_errors(lake)] == ["invalid_id"]


@pytest.fixture
def full_disk(tmp_path: Path) -> Iterator[Path]:
    """A 64 KiB tmpfs, filled to the last byte; yields the folder for the lake on it."""
    mount_point = tmp_path / "disk"
    mount_point.mkdir()
    if shutil.which("mount") is None:
        pytest.skip("no mount command here")
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mount_point)],
        capture_output=True,
        text=True,
        check=False,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs to fill (needs root): {mounted.stderr.strip()}")
    try:
        filler = mount_point / "filler"
        with contextlib.suppress(OSError), open(filler, "wb") as handle:
            while True:
                handle.write(b"\0" * 4096)
                handle.flush()
        yield mount_point / "lake"
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], check=False)


def test_a_full_disk_fails_the_batch_leaves_no_temporary_file_and_heals(
    served: FakeCBR, settings: Settings, full_disk: Path, logs: io.StringIO
) -> None:
    event = sqs_event(SEED_ID, json.dumps([HEALTHY_ID, DAY_20]), "bad id!")
    app = make_app(settings, lake_uri=str(full_disk))
    response = app.handle(event, Context())
    check(event, response, full_disk, ["m0", "m1", "m2"])
    assert "No space left on device" in logs.getvalue()
    if full_disk.exists():
        assert [p for p in full_disk.rglob("*") if p.is_file()] == []  # no temporary file left

    (full_disk.parent / "filler").unlink()
    check(event, app.handle(event, Context()), full_disk, [])
    assert len(read_rows(full_disk)) == 3


def mirror_s3(bucket: str, prefix: str, dest: Path) -> Path:
    """Copy an S3 lake into a folder, so the invariant checker can read it."""
    client = boto3.client("s3")
    pages = client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=f"{prefix}/")
    for page in pages:
        for item in page.get("Contents", []):
            target = dest / item["Key"].removeprefix(f"{prefix}/")
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(client.get_object(Bucket=bucket, Key=item["Key"])["Body"].read())
    return dest


def test_a_missing_bucket_fails_the_whole_batch(
    served: FakeCBR, settings: Settings, aws: str, tmp_path: Path, logs: io.StringIO
) -> None:
    event = sqs_event(SEED_ID, "bad id!")
    response = make_app(settings, lake_uri="s3://no-such-bucket/lake").handle(event, Context())
    check(event, response, tmp_path / "nothing-written", ["m0", "m1"])
    assert "the bucket of LAKE_URI=s3://no-such-bucket/lake does not exist" in logs.getvalue()


@contextlib.contextmanager
def iam_enforced_by_moto(endpoint: str) -> Iterator[None]:
    """Make the moto server check signatures and IAM policies until the block ends."""
    answer = requests.post(f"{endpoint}/moto-api/reset-auth", data=b"0", timeout=10)
    answer.raise_for_status()
    previous = str(answer.json()["PREVIOUS_INITIAL_NO_AUTH_ACTION_COUNT"])
    try:
        yield
    finally:
        requests.post(f"{endpoint}/moto-api/reset-auth", data=previous.encode(), timeout=10)


def test_access_denied_on_the_bucket_fails_the_whole_batch(
    served: FakeCBR,
    settings: Settings,
    aws: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    logs: io.StringIO,
) -> None:
    boto3.client("s3").create_bucket(
        Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": "ap-southeast-1"}
    )
    iam = boto3.client("iam", endpoint_url=aws)
    iam.create_user(UserName="reader")
    read_only = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": ["s3:ListBucket", "s3:GetObject"], "Resource": "*"}
        ],
    }
    iam.put_user_policy(
        UserName="reader", PolicyName="read-only", PolicyDocument=json.dumps(read_only)
    )
    key = iam.create_access_key(UserName="reader")["AccessKey"]
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", key["AccessKeyId"])
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", key["SecretAccessKey"])
    monkeypatch.setattr(boto3, "DEFAULT_SESSION", None)  # it caches the credentials it found
    event = sqs_event(SEED_ID, "bad id!")

    with iam_enforced_by_moto(aws):
        response = make_app(settings, lake_uri=f"s3://{BUCKET}/lake").handle(event, Context())
        mirror = mirror_s3(BUCKET, "lake", tmp_path / "mirror")

    check(event, response, mirror, ["m0", "m1"])
    assert lake_files(mirror) == []
    assert "access denied writing operation_logs/dt=2019-05-23/part-" in logs.getvalue()


# The queue (scheduled drain)


def sqs_at(endpoint: str) -> Any:
    """An SQS client of moto itself, whatever AWS_ENDPOINT_URL_SQS the app is given."""
    return boto3.client("sqs", endpoint_url=endpoint)


def create_queue(endpoint: str, name: str, visibility_s: int = 60) -> str:
    sqs = sqs_at(endpoint)
    return sqs.create_queue(QueueName=name, Attributes={"VisibilityTimeout": str(visibility_s)})[
        "QueueUrl"
    ]


def send(endpoint: str, queue_url: str, *bodies: str) -> list[tuple[str, str]]:
    """(MessageId, body) of each message sent, in order."""
    sqs = sqs_at(endpoint)
    return [
        (sqs.send_message(QueueUrl=queue_url, MessageBody=body)["MessageId"], body)
        for body in bodies
    ]


def messages_in(endpoint: str, queue_url: str) -> set[str]:
    """IDs of the messages in a queue whose visibility timeout is 0: all those not deleted."""
    sqs = sqs_at(endpoint)
    ids: set[str] = set()
    while answer := sqs.receive_message(
        QueueUrl=queue_url, MaxNumberOfMessages=10, VisibilityTimeout=60, WaitTimeSeconds=0
    ).get("Messages"):
        ids |= {m["MessageId"] for m in answer}
    return ids


def drain_as_batch(sent: list[tuple[str, str]], left: set[str]) -> tuple[Event, Response]:
    """The drain's outcome as an SQS batch and response: a message left in the queue failed."""
    event = sqs_event(*(body for _, body in sent), ids=[message_id for message_id, _ in sent])
    return event, {"batchItemFailures": [{"itemIdentifier": m} for m in sorted(left)]}


def test_a_queue_deleted_under_the_drain_is_a_configuration_error(
    served: FakeCBR, settings: Settings, lake: Path, aws: str
) -> None:
    url = create_queue(aws, "vanishing")
    send(aws, url, SEED_ID)
    app = make_app(settings, queue_url=url)
    sqs_at(aws).delete_queue(QueueUrl=url)
    with pytest.raises(ConfigError, match=r"QUEUE_URL=.*does not exist"):
        app.handle(load_event("schedule.json"), Context())
    assert served.cbr_requests() == []
    assert not lake.exists()


class SqsProxy:
    """Forwards SQS calls to moto, but answers ReceiveMessage 500 once `receives` are used up."""

    def __init__(self, upstream: str, receives: int) -> None:
        self.upstream = urlsplit(upstream)
        self.receives = receives
        self.failed_receives = 0
        self._lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                target = self.headers.get("X-Amz-Target", "")
                receive = target.endswith(".ReceiveMessage") or b"Action=ReceiveMessage" in body
                if receive and proxy.take_failure():
                    self._answer(500, {"__type": "InternalError", "message": "injected"})
                    return
                status, headers, answer = proxy.forward(self.command, self.path, self.headers, body)
                self.send_response(status)
                for name, value in headers:
                    if name.lower() not in ("content-length", "transfer-encoding", "connection"):
                        self.send_header(name, value)
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def _answer(self, status: int, document: dict[str, str]) -> None:
                payload = json.dumps(document).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/x-amz-json-1.0")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"

    def take_failure(self) -> bool:
        with self._lock:
            if self.receives > 0:
                self.receives -= 1
                return False
            self.failed_receives += 1
            return True

    def forward(
        self, method: str, path: str, headers: Any, body: bytes
    ) -> tuple[int, list[tuple[str, str]], bytes]:
        connection = http.client.HTTPConnection(
            self.upstream.hostname, self.upstream.port, timeout=30
        )
        try:
            sent = {k: v for k, v in headers.items() if k.lower() not in ("host", "connection")}
            connection.request(method, path, body=body, headers=sent)
            answer = connection.getresponse()
            return answer.status, answer.getheaders(), answer.read()
        finally:
            connection.close()

    def __enter__(self) -> SqsProxy:
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.mark.parametrize("good_receives", [0, 1], ids=["first-receive-fails", "second-fails"])
def test_a_failing_receive_stops_the_drain_and_loses_nothing(
    served: FakeCBR,
    settings: Settings,
    lake: Path,
    aws: str,
    monkeypatch: pytest.MonkeyPatch,
    good_receives: int,
) -> None:
    url = create_queue(aws, "tasks", visibility_s=0)
    sent = send(aws, url, *sorted(LOGS)[:12], "missing-id", "bad id!")
    with SqsProxy(aws, receives=good_receives) as proxy:
        monkeypatch.setenv("AWS_ENDPOINT_URL_SQS", proxy.url)
        monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")  # no botocore retries of the injected 500
        app = make_app(settings, queue_url=url, drain_wait_s=1)
        summary = app.handle(load_event("schedule.json"), Context())
    assert summary["stopped_by"] == "receive_error" and proxy.failed_receives == 1
    assert summary["failed"] == summary["delete_failed"] == 0
    assert summary["deleted"] == summary["received"]
    assert (summary["received"] > 0) == (good_receives > 0)

    left = messages_in(aws, url)
    assert len(left) == len(sent) - summary["deleted"]
    event, response = drain_as_batch(sent, left)
    assert_invariant(event, response, lake)
    if lake.exists():
        assert_lake_files_are_whole(lake)


def test_the_same_body_sent_twice_is_written_for_each_message(
    served: FakeCBR, settings: Settings, lake: Path, aws: str
) -> None:
    url = create_queue(aws, "tasks")
    sent = send(aws, url, SEED_ID, HEALTHY_ID, SEED_ID, json.dumps([SEED_ID, DAY_20]))
    app = make_app(settings, queue_url=url, drain_wait_s=1)
    summary = app.handle(load_event("schedule.json"), Context())
    assert (summary["received"], summary["deleted"], summary["failed"]) == (4, 4, 0)
    assert summary["stopped_by"] == "empty" and summary["left"] == 0
    event, response = drain_as_batch(sent, set())
    assert_invariant(event, response, lake)
    assert_lake_files_are_whole(lake)
    assert len(served.cbr_requests(SEED_ID)) == 1
    assert sorted(r["id"] for r in read_rows(lake)).count(SEED_ID) == 3  # one per message


def test_a_batch_redelivered_while_still_processing_writes_whole_files_once(
    served: FakeCBR, settings: Settings, lake: Path
) -> None:
    """Two invocations hold the same messages at once (visibility ran out): both write them."""
    served.latency = 0.3
    ids = [DAY_20, *DAY_21, DAY_22, SEED_ID]
    event = sqs_event(*ids, "bad id!", "missing-id")
    apps = [make_app(settings), make_app(settings)]
    responses: list[Response] = [{}, {}]

    def invoke(i: int) -> None:
        responses[i] = apps[i].handle(event, Context())

    threads = [threading.Thread(target=invoke, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    for response in responses:
        check(event, response, lake, [])
    assert sorted(r["id"] for r in read_rows(lake)) == sorted(ids)  # same names: replaced
    assert len(read_errors(lake)) == 2
    assert len(served.cbr_requests()) == 2 * (len(ids) + 1)


def test_an_empty_queue_ends_the_drain_with_nothing_written(
    served: FakeCBR, settings: Settings, lake: Path, aws: str
) -> None:
    url = create_queue(aws, "empty")
    summary = make_app(settings, queue_url=url, drain_wait_s=0).handle(
        load_event("schedule.json"), Context()
    )
    assert summary["stopped_by"] == "empty"
    assert (summary["received"], summary["deleted"], summary["batches"], summary["left"]) == (
        0,
        0,
        0,
        0,
    )
    event, response = drain_as_batch([], set())
    assert_invariant(event, response, lake)
    assert not lake.exists() and served.requests == []


# Time


def test_work_longer_than_the_budget_is_left_for_redelivery(
    served: FakeCBR, settings: Settings, lake: Path
) -> None:
    slow = sorted(LOGS)[:3]
    for log_id in slow:
        served.script(log_id, *always(Reply(delay=20)))
    quick = sorted(LOGS)[3:8]
    event = sqs_event(*slow, *quick, json.dumps([quick[0], slow[0]]))
    budget = 7.5  # the safety margin is 5 s, so 2.5 s of work

    response, elapsed = timed(make_app(settings), event, Context(budget_s=budget))

    assert elapsed < budget - 4.0  # inside the budget, most of the safety margin left
    check(event, response, lake, ["m0", "m1", "m2", "m8"])
    assert sorted(r["id"] for r in read_rows(lake)) == sorted(quick)
    for log_id in slow:
        assert len(served.cbr_requests(log_id)) == 1
