"""Shared by the fault-injection tests: the sample logs they use, and how they check a run.

Every scenario checks the exact `batchItemFailures` (or drain summary), the delivery invariant
(`assert_invariant`: each message failed XOR all its IDs written by it) and that every lake file is
whole.
"""

from __future__ import annotations

import io
import json
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lib.aws.app import App

from conftest import (
    Context,
    failed_ids,
    fixture_logs,
)
from fakecbr import Reply
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
