"""Authentication against the fake CBR and IAM endpoints: tokens, refresh, failures, no leaks."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lib.core.settings import IamPassword, Settings

from conftest import PROJECT, Context, failed_ids, fixture_logs, make_app, read_rows, sqs_event
from fakecbr import FakeCBR, Reply

USER, PASSWORD, DOMAIN = "auditor", "s3cret-Passw0rd!", "acme"
STATIC = "MIIstatic-token-value-123"


@pytest.fixture
def iam_fake() -> FakeCBR:
    with FakeCBR(require_auth=True, iam_users={(USER, PASSWORD, DOMAIN)}) as server:
        for log in fixture_logs().values():
            server.add_log(log)
        yield server


def iam_settings(settings: Settings, server: FakeCBR, password: str = PASSWORD) -> Settings:
    from dataclasses import replace

    return replace(
        settings,
        cbr_endpoint=server.base_url,
        iam=IamPassword(endpoint=server.base_url, username=USER, domain=DOMAIN, password=password),
    )


IDS = sorted(fixture_logs())[:8]


def test_one_token_per_project_is_fetched_and_kept_across_invocations(
    iam_fake: FakeCBR, settings: Settings, lake: Path
) -> None:
    app = make_app(iam_settings(settings, iam_fake))
    assert app.handle(sqs_event(*IDS), Context()) == {"batchItemFailures": []}
    assert app.handle(sqs_event(*IDS), Context()) == {"batchItemFailures": []}
    (token_request,) = iam_fake.token_requests()
    sent = json.loads(token_request.body)
    assert sent["auth"]["scope"]["project"]["id"] == PROJECT
    assert sent["auth"]["identity"]["password"]["user"]["domain"]["name"] == DOMAIN
    token = iam_fake.issued_tokens[0]
    assert {r.headers.get("x-auth-token") for r in iam_fake.cbr_requests()} == {token}


def test_a_second_project_gets_its_own_token(iam_fake: FakeCBR, settings: Settings) -> None:
    other = "0a1b2c3d4e5f60718293a4b5c6d7e8f9"
    body = json.dumps(
        [{"operation_log_id": IDS[0]}, {"operation_log_id": IDS[1], "project_id": other}]
    )
    response = make_app(iam_settings(settings, iam_fake)).handle(sqs_event(body), Context())
    assert response == {"batchItemFailures": []}
    scopes = sorted(
        json.loads(r.body)["auth"]["scope"]["project"]["id"] for r in iam_fake.token_requests()
    )
    assert scopes == sorted([PROJECT, other])


def test_an_expired_token_is_refreshed_once_for_all_requests_in_flight(
    iam_fake: FakeCBR, settings: Settings, lake: Path
) -> None:
    app = make_app(iam_settings(settings, iam_fake))
    app.handle(sqs_event(IDS[0]), Context())
    iam_fake.revoke_tokens()
    iam_fake.latency = 0.05  # keep all eight requests in flight together
    response = app.handle(sqs_event(*IDS), Context())
    assert response == {"batchItemFailures": []}
    assert len(iam_fake.token_requests()) == 2  # the first token, then exactly one refresh
    assert sorted({r["id"] for r in read_rows(lake)}) == sorted(IDS)


def test_a_401_with_a_fresh_token_is_a_configuration_failure(
    iam_fake: FakeCBR, settings: Settings, lake: Path, logs
) -> None:
    unauthorised = Reply(
        401, {"error_code": "APIGW.0301", "error_msg": "Incorrect IAM authentication"}
    )
    iam_fake.script(IDS[0], unauthorised, unauthorised, unauthorised)
    response = make_app(iam_settings(settings, iam_fake)).handle(sqs_event(IDS[0]), Context())
    assert failed_ids(response) == ["m0"]
    assert len(iam_fake.cbr_requests(IDS[0])) == 2  # the first try and one after the refresh
    assert len(iam_fake.token_requests()) == 2
    assert read_rows(lake) == []
    assert any(
        '"level": "ERROR"' in line and "refresh" in line for line in logs.getvalue().splitlines()
    )


def test_a_wrong_password_fails_the_messages_without_fetching(
    iam_fake: FakeCBR, settings: Settings, lake: Path
) -> None:
    app = make_app(iam_settings(settings, iam_fake, password="wrong-password"))
    response = app.handle(sqs_event(IDS[0], IDS[1]), Context())
    assert failed_ids(response) == ["m0", "m1"]
    assert iam_fake.cbr_requests() == []
    assert read_rows(lake) == []


def test_an_iam_outage_is_retried_then_redelivered(iam_fake: FakeCBR, settings: Settings) -> None:
    iam_fake.iam_script.extend([Reply(503)] * 20)
    response = make_app(iam_settings(settings, iam_fake)).handle(sqs_event(IDS[0]), Context())
    assert failed_ids(response) == ["m0"]
    assert len(iam_fake.token_requests()) == settings.max_attempts
    assert iam_fake.cbr_requests() == []


def test_a_token_without_expires_at_is_still_used(iam_fake: FakeCBR, settings: Settings) -> None:
    iam_fake.omit_expires_at = True
    response = make_app(iam_settings(settings, iam_fake)).handle(sqs_event(IDS[0]), Context())
    assert response == {"batchItemFailures": []}


def test_a_ready_token_is_sent_and_a_401_on_it_is_not_retried(settings: Settings) -> None:
    from dataclasses import replace

    with FakeCBR(require_auth=True, static_token=STATIC) as server:
        server.add_log(fixture_logs()[IDS[0]])
        app = make_app(replace(settings, cbr_endpoint=server.base_url, auth_token=STATIC))
        assert app.handle(sqs_event(IDS[0]), Context()) == {"batchItemFailures": []}
        assert server.cbr_requests()[0].headers["x-auth-token"] == STATIC
        server.static_token = "rotated"
        assert failed_ids(app.handle(sqs_event(IDS[0]), Context())) == ["m0"]
        assert len(server.cbr_requests()) == 2


def test_secrets_never_reach_the_logs(iam_fake: FakeCBR, settings: Settings, logs) -> None:
    app = make_app(iam_settings(settings, iam_fake))
    app.handle(sqs_event(IDS[0]), Context())
    iam_fake.revoke_tokens()
    unauthorised = Reply(401, {"error_code": "APIGW.0301", "error_msg": "bad token"})
    iam_fake.script(IDS[1], unauthorised, unauthorised)
    iam_fake.script(IDS[2], Reply(500), Reply(reset=True), Reply(200, "{"))
    app.handle(sqs_event(*IDS[:3], "bad id!"), Context())
    bad_app = make_app(iam_settings(settings, iam_fake, password="wrong-" + PASSWORD))
    bad_app.handle(sqs_event(IDS[3]), Context())
    captured = logs.getvalue()
    assert captured.count("\n") >= 5
    assert PASSWORD not in captured
    for token in iam_fake.issued_tokens:
        assert token not in captured
