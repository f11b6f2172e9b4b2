"""IAM faults: refused, unreachable, hanging, tokens refused by CBR."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from lib.core.settings import IamPassword, Settings

from conftest import (
    Context,
    make_app,
    read_rows,
    sqs_event,
)
from fakecbr import FakeCBR, Reply, auth_error
from faultkit import (
    DAY_20,
    DAY_22,
    DOMAIN,
    HEALTHY_ID,
    LOGS,
    PASSWORD,
    SEED_ID,
    USER,
    always,
    check,
    free_port,
    run_with_budget,
    summary_line,
    timed,
)

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
    assert elapsed < Context().budget_s
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
