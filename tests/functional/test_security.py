"""Secrets stay out of logs, exceptions, tracebacks, reprs and the lake; TLS stays on."""

from __future__ import annotations

import json
import traceback
from dataclasses import replace
from pathlib import Path

import pytest

from lib.cbr.transport import build_session
from lib.core.errors import OplogLakeError
from lib.core.settings import AccessKey, IamPassword, Settings

from conftest import (
    ROOT,
    Context,
    fixture_logs,
    make_app,
    read_errors,
    read_rows,
    run_handler_script,
    sqs_event,
)
from fakecbr import FakeCBR, Reply

PASSWORD = "Pa55-secret-0f-the-IAM-user"
STATIC = "MIIstatic-secret-token-material"
SECRET_KEY = "SK-secret-key-material-0000000000000000"
SEED_ID = "4827f2da-b008-4507-ab7d-42d0df5ed912"


def everything_said(lake: Path, logs: str, errors: list[str]) -> str:
    """All text a person or a reader of the lake could see: the log, the errors, every value of
    every row (decoded: Parquet pages are compressed, so a secret in the files' bytes would never
    show) and every other file of the lake (state documents) as it is."""
    others = [p for p in lake.rglob("*") if p.is_file() and p.suffix != ".parquet"]
    files = "\n".join(p.read_bytes().decode("utf-8", "replace") for p in others)
    return logs + "\n".join(errors) + lake_text(lake) + files


def test_failure_scenarios_with_known_secrets_leak_nothing(
    settings: Settings, lake: Path, logs
) -> None:
    errors: list[str] = []
    with FakeCBR(
        require_auth=True,
        static_token=STATIC,
        iam_users={("auditor", PASSWORD, "acme")},
        access_keys={"AKTEST": SECRET_KEY},
    ) as server:
        for log in fixture_logs().values():
            server.add_log(log)
        ids = sorted(fixture_logs())
        server.script(ids[1], Reply(401, {"error_code": "APIGW.0301", "error_msg": "expired"}))
        server.script(ids[2], *[Reply(500)] * 5)
        server.script(ids[3], Reply(403, {"error_code": "APIGW.0302", "error_msg": "no"}))
        base = replace(settings, cbr_endpoint=server.base_url)
        variants = [
            replace(base, iam=IamPassword(server.base_url, "auditor", "acme", PASSWORD)),
            replace(base, iam=IamPassword(server.base_url, "auditor", "acme", PASSWORD + "x")),
            replace(base, auth_token=STATIC),
            replace(base, access_key=AccessKey("AKTEST", SECRET_KEY)),
            replace(base, access_key=AccessKey("AKTEST", SECRET_KEY + "x")),
        ]
        for variant in variants:
            app = make_app(variant)
            errors.append(repr(variant) + repr(app.pipeline.client._auth))
            try:
                app.handle(sqs_event(*ids[:5], "bad id!"), Context())
                server.revoke_tokens()
                app.handle(sqs_event(*ids[5:9]), Context())
            except OplogLakeError as exc:  # pragma: no cover - recorded for the grep below
                errors.append("".join(traceback.format_exception(exc)))
        issued = list(server.issued_tokens)
    text = everything_said(lake, logs.getvalue(), errors)
    assert len(text) > 1000 and issued
    # the rows were read: their values (compressed in the files) are in the text searched
    assert all(log_id in text for log_id in ids[:9]) and '"raw_message": "bad id!"' in text
    for secret in (PASSWORD, STATIC, SECRET_KEY, *issued):
        assert secret not in text


def test_a_configuration_error_names_the_variable_but_not_its_secret(tmp_path: Path) -> None:
    env = {
        "PATH": "/usr/bin:/bin",
        "CBR_ENDPOINT": "https://cbr.example.com",
        "CBR_AUTH_TOKEN": STATIC,
        "CBR_ACCESS_KEY": "AKTEST",
        "CBR_SECRET_KEY": SECRET_KEY,
        "LAKE_URI": str(tmp_path / "lake"),
    }
    run = run_handler_script("events/sqs-single.json", env)
    assert run.returncode != 0
    assert "Set only one way to authenticate" in run.stderr
    assert STATIC not in run.stderr + run.stdout and SECRET_KEY not in run.stderr + run.stdout


def test_tls_verification_is_always_on_and_cannot_be_configured_off() -> None:
    assert build_session(4).verify is True
    offenders = [
        path
        for path in [ROOT / "handler.py", *(ROOT / "lib").rglob("*.py")]
        if "verify=False" in path.read_text() or "verify = False" in path.read_text()
    ]
    assert offenders == []
    assert not any("VERIFY" in name or "INSECURE" in name for name in vars(Settings()))


@pytest.mark.parametrize("endpoint", ["http://cbr.example.com", "http://10.0.0.5:8080"])
def test_plain_http_is_refused_off_loopback(endpoint: str) -> None:
    from lib.core.errors import ConfigError

    with pytest.raises(ConfigError, match="https"):
        Settings.from_env({"CBR_ENDPOINT": endpoint, "CBR_AUTH_TOKEN": "t"})


def spellings(secret: str) -> list[str]:
    """How a secret can show in text: as is, repr- and JSON-escaped, as bytes, URL-encoded."""
    from urllib.parse import quote

    return [
        secret,
        repr(secret)[1:-1],
        json.dumps(secret)[1:-1],
        repr(secret.encode())[2:-1],
        quote(secret, safe=""),
    ]


def test_a_token_with_a_trailing_newline_is_refused_and_never_shown(tmp_path: Path) -> None:
    token = "MIIstatic-secret-token-material\n"
    env = {
        "PATH": "/usr/bin:/bin",
        "CBR_ENDPOINT": "https://cbr.example.com",
        "CBR_AUTH_TOKEN": token,
        "LAKE_URI": str(tmp_path / "lake"),
    }
    run = run_handler_script("events/sqs-single.json", env)
    assert run.returncode == 2
    assert "CBR_AUTH_TOKEN" in run.stderr and "Traceback" not in run.stderr
    said = run.stdout + run.stderr
    assert [s for s in spellings(token) + spellings(token.strip()) if s in said] == []
    assert not (tmp_path / "lake").exists()


def test_a_secret_with_surrounding_space_is_refused_without_quoting_it() -> None:
    from lib.cbr.credentials import parse_secret

    for document in (
        {"access_key": "AK", "secret_key": SECRET_KEY + "\n"},
        {"username": " auditor", "password": PASSWORD, "domain": "acme"},
    ):
        with pytest.raises(OplogLakeError, match="CBR_CREDENTIALS_SECRET_ID") as raised:
            parse_secret(json.dumps(document), "https://iam.example.com")
        assert SECRET_KEY not in str(raised.value) and PASSWORD not in str(raised.value)


ECHO_ID = "3e98c4f6-40e1-4c96-9f1c-9935719f9212"


def lake_text(lake: Path) -> str:
    """Every value of every row the lake holds, as text."""
    rows = read_rows(lake) + read_errors(lake)
    assert rows
    return json.dumps(rows, default=str, ensure_ascii=False)


def test_a_secret_the_api_echoes_back_is_scrubbed_from_rows(settings: Settings, lake: Path) -> None:
    """A gateway that quotes the token in an error, or a log that carries it in a field, must not
    put it in error_msg, error_info__message or raw_json."""
    echoed_log = {
        **fixture_logs()[SEED_ID],
        "id": ECHO_ID,
        "error_info": {"code": "BackupService.1", "message": f"token {STATIC} refused"},
        "extra_info": {"debug": {"header": f"X-Auth-Token: {json.dumps(STATIC)}"}},
    }
    with FakeCBR(require_auth=True, static_token=STATIC) as server:
        server.add_log(echoed_log)
        server.script(
            SEED_ID,
            Reply(404, {"error_code": "BackupService.6500", "error_msg": f"no log for {STATIC}"}),
        )
        app = make_app(settings, cbr_endpoint=server.base_url, auth_token=STATIC)
        event = sqs_event(SEED_ID, ECHO_ID, json.dumps([f"x{STATIC}"]))
        response = app.handle(event, Context())
    assert response == {"batchItemFailures": []}
    text = lake_text(lake)
    assert "refused" in text and "no log for" in text  # the rows are there, minus the secret
    assert [s for s in spellings(STATIC) if s in text] == []
    (row,) = read_rows(lake)
    assert row["error_info__message"] == "token *** refused"
    assert json.loads(row["raw_json"])["extra_info"]["debug"] == {"header": 'X-Auth-Token: "***"'}
