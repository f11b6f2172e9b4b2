"""The handler end to end: SQS events against the fake CBR, results read back from Parquet."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from lib.aws.app import App
from lib.core.errors import ConfigError
from lib.core.schema import ERRORS_SCHEMA, OPERATION_LOGS_SCHEMA
from lib.core.settings import Settings

from conftest import (
    FIXTURE_LOGS,
    PROJECT,
    Context,
    failed_ids,
    fixture_logs,
    lake_files,
    load_event,
    make_app,
    read_errors,
    read_rows,
    run_handler_script,
    sqs_event,
)
from expected import expected_columns, utc
from fakecbr import FakeCBR, Reply

SEED_ID = "4827f2da-b008-4507-ab7d-42d0df5ed912"
MISSING_ID = "d0b562d5-a5ce-441c-ae44-162b9e80438b"


@pytest.fixture
def served(fake: FakeCBR) -> FakeCBR:
    for log in fixture_logs().values():
        fake.add_log(log)
    return fake


def log_body(log_id: str) -> dict:
    return {"operation_log": fixture_logs()[log_id]}


def test_sample_batch_lands_in_the_lake_with_the_source_values(
    served: FakeCBR, settings: Settings, lake: Path
) -> None:
    event = load_event("sqs-batch.json")
    response = make_app(settings).handle(event, Context())
    assert response == {"batchItemFailures": []}

    rows = read_rows(lake)
    sources = fixture_logs()
    assert sorted(r["id"] for r in rows) == sorted(sources)
    message_of = _message_of_each_id(event)
    for row in rows:
        source = sources[row["id"]]
        for name, value in expected_columns(source).items():
            assert row[name] == value, (row["id"], name)
        assert json.loads(row["raw_json"]) == source
        assert row["raw_json"] == json.dumps(source)  # the text the API sent, not re-spelled
        assert row["source_message_id"] == message_of[row["id"]]
        first_time = source.get("created_at") or source.get("started_at")
        assert row["dt"] == utc(first_time).date().isoformat()

    errors = {e["reason"]: e for e in read_errors(lake)}
    assert sorted(errors) == ["invalid_id", "invalid_message", "not_found"]
    assert errors["not_found"]["operation_log_id"] == MISSING_ID
    assert (errors["not_found"]["http_status"], errors["not_found"]["error_code"]) == (
        404,
        "BackupService.6500",
    )
    assert errors["invalid_id"]["operation_log_id"] == "../../etc/passwd"
    assert errors["invalid_message"]["operation_log_id"] is None
    assert errors["invalid_message"]["raw_message"] == '{"task":17}'
    for error in errors.values():
        assert error["observed_at"] is not None and error["source_message_id"]


def _message_of_each_id(event: dict) -> dict[str, str]:
    owners = {}
    for record in event["Records"]:
        for log_id in fixture_logs():
            if log_id in record["body"]:
                owners[log_id] = record["messageId"]
    return owners


def test_files_are_zstd_parquet_one_per_partition_with_the_declared_schema(
    served: FakeCBR, settings: Settings, lake: Path
) -> None:
    make_app(settings).handle(load_event("sqs-batch.json"), Context())
    files = lake_files(lake)
    data_files = [f for f in files if "operation_logs" in f.parts]
    partitions = {f.parent.name for f in data_files}
    assert len(data_files) == len(partitions)  # one file per partition per write
    for path in files:
        assert path.suffix == ".parquet" and not path.name.startswith(".")
        metadata = pq.ParquetFile(path).metadata
        assert metadata.row_group(0).column(0).compression == "ZSTD"
        expected = OPERATION_LOGS_SCHEMA if "operation_logs" in path.parts else ERRORS_SCHEMA
        assert pq.read_schema(path).remove_metadata() == expected
        assert "dt" not in pq.read_schema(path).names  # dt lives in the path only


def test_every_id_is_requested_once_on_the_api_path_with_its_project(
    served: FakeCBR, settings: Settings
) -> None:
    make_app(settings).handle(load_event("sqs-batch.json"), Context())
    paths = sorted(r.path for r in served.cbr_requests())
    assert len(paths) == len(set(paths)) == len(fixture_logs()) + 1  # plus the missing one
    other_project = "0a1b2c3d4e5f60718293a4b5c6d7e8f9"
    assert f"/v3/{other_project}/operation-logs/e306b57a-7e14-4344-82f3-026f079f9dfe" in paths
    assert f"/v3/{PROJECT}/operation-logs/{SEED_ID}" in paths
    assert not any("passwd" in p for p in paths)


def test_processing_the_same_event_twice_adds_no_rows(
    served: FakeCBR, settings: Settings, lake: Path
) -> None:
    app = make_app(settings)
    event = load_event("sqs-batch.json")
    app.handle(event, Context())
    first = [p.relative_to(lake) for p in lake_files(lake)]
    counts = (len(read_rows(lake)), len(read_errors(lake)))
    app.handle(event, Context())
    assert [p.relative_to(lake) for p in lake_files(lake)] == first
    assert (len(read_rows(lake)), len(read_errors(lake))) == counts


@pytest.mark.parametrize(
    "first",
    [
        Reply(429, {"error_code": "APIGW.0308", "error_msg": "throttled"}, {"Retry-After": "0"}),
        Reply(500, {"error_code": "BackupService.9910", "error_msg": "unknown"}),
        Reply(503, "<html>busy</html>"),
        Reply(200, "{not json"),
        Reply(200, {"something": "else"}),
        Reply(200, json.dumps(log_body(SEED_ID)), cut_after=40),
        Reply(reset=True),
    ],
    ids=["429", "500", "503-html", "bad-json", "no-operation-log", "cut-body", "reset"],
)
def test_a_retriable_failure_is_retried_then_written(
    served: FakeCBR, settings: Settings, lake: Path, first: Reply
) -> None:
    served.script(SEED_ID, first)
    response = make_app(settings).handle(sqs_event(SEED_ID), Context())
    assert response == {"batchItemFailures": []}
    assert len(served.cbr_requests(SEED_ID)) == 2
    assert [r["id"] for r in read_rows(lake)] == [SEED_ID]


def test_retry_after_is_honoured(served: FakeCBR, settings: Settings) -> None:
    served.script(SEED_ID, Reply(429, headers={"Retry-After": "1"}))
    waits: list[float] = []  # the client's sleep, recorded instead of waited on the wall clock
    App.from_settings(settings, sleep=waits.append).handle(sqs_event(SEED_ID), Context())
    assert len(served.cbr_requests(SEED_ID)) == 2
    assert waits == [1.0]  # Retry-After, not the 0.01 s backoff


def test_what_keeps_failing_is_redelivered_after_max_attempts_and_others_are_acked(
    served: FakeCBR, settings: Settings, lake: Path
) -> None:
    served.script(SEED_ID, *[Reply(500)] * 10)
    other = "3e98c4f6-40e1-4c96-9f1c-9935719f9212"
    event = sqs_event(SEED_ID, other, json.dumps([other, SEED_ID]), ids=["bad", "good", "mixed"])
    response = make_app(settings).handle(event, Context())
    assert failed_ids(response) == ["bad", "mixed"]
    assert len(served.cbr_requests(SEED_ID)) == settings.max_attempts
    rows = read_rows(lake)
    # The mixed message is redelivered whole, so none of its IDs is written in this attempt.
    assert [(r["id"], r["source_message_id"]) for r in rows] == [(other, "good")]
    assert read_errors(lake) == []


@pytest.mark.parametrize(
    ("reply", "reason"),
    [
        (Reply(404, {"error_code": "BackupService.6500", "error_msg": "gone"}), "not_found"),
        (Reply(404, {"error_code": "BackupService.6501", "error_msg": "no task"}), "not_found"),
        (Reply(400, {"error_code": "BackupService.9900", "error_msg": "bad param"}), "rejected"),
    ],
)
def test_answers_no_retry_can_change_become_error_rows_and_are_acked(
    served: FakeCBR, settings: Settings, lake: Path, reply: Reply, reason: str
) -> None:
    served.script(SEED_ID, reply)
    response = make_app(settings).handle(sqs_event(SEED_ID), Context())
    assert response == {"batchItemFailures": []}
    assert len(served.cbr_requests(SEED_ID)) == 1
    (error,) = read_errors(lake)
    assert (error["reason"], error["operation_log_id"], error["project_id"]) == (
        reason,
        SEED_ID,
        PROJECT,
    )
    assert (error["http_status"], error["error_msg"]) == (reply.status, reply.body["error_msg"])
    assert error["source_message_id"] == "m0" and error["raw_message"] == SEED_ID
    assert read_rows(lake) == []


@pytest.mark.parametrize(
    "reply",
    [
        Reply(403, {"error_code": "APIGW.0302", "error_msg": "forbidden"}),
        Reply(404, {"error_code": "APIGW.0101", "error_msg": "no such API"}),
        Reply(400, "plain text"),
        Reply(301, headers={"Location": "http://127.0.0.1:1/elsewhere"}),
    ],
    ids=["403", "apigw-404", "400-no-code", "redirect"],
)
def test_configuration_failures_are_never_acked_and_logged_loudly(
    served: FakeCBR, settings: Settings, lake: Path, logs, reply: Reply
) -> None:
    served.script(SEED_ID, reply)
    response = make_app(settings).handle(sqs_event(SEED_ID), Context())
    assert failed_ids(response) == ["m0"]
    assert len(served.cbr_requests(SEED_ID)) == 1  # no retry: it would fail the same way
    assert lake_files(lake) == []
    errors = [json.loads(line) for line in logs.getvalue().splitlines()]
    assert any(e["level"] == "ERROR" and e.get("operation_log_id") == SEED_ID for e in errors)


def test_a_different_id_in_the_answer_writes_the_log_and_an_id_mismatch_row(
    served: FakeCBR, settings: Settings, lake: Path
) -> None:
    asked = "0123456789abcdef"
    served.add_body(asked, log_body(SEED_ID))
    response = make_app(settings).handle(sqs_event(asked), Context())
    assert response == {"batchItemFailures": []}
    assert [r["id"] for r in read_rows(lake)] == [SEED_ID]
    (error,) = read_errors(lake)
    assert (error["reason"], error["operation_log_id"], error["http_status"]) == (
        "id_mismatch",
        asked,
        200,
    )


def test_a_failed_lake_write_redelivers_the_whole_batch(
    served: FakeCBR, settings: Settings, lake: Path
) -> None:
    lake.parent.mkdir(parents=True, exist_ok=True)
    lake.write_text("not a folder")  # every write under it fails
    event = sqs_event(SEED_ID, "not a valid id!", ids=["a", "b"])
    response = make_app(settings).handle(event, Context())
    assert failed_ids(response) == ["a", "b"]
    assert lake.read_text() == "not a folder"


def test_the_deadline_is_respected(served: FakeCBR, settings: Settings, lake: Path) -> None:
    served.script(SEED_ID, Reply(delay=30))
    other = "3e98c4f6-40e1-4c96-9f1c-9935719f9212"
    budget = 7.0  # the safety margin is 5 s, so 2 s of work
    started = time.monotonic()
    response = make_app(settings).handle(sqs_event(SEED_ID, other), Context(budget_s=budget))
    elapsed = time.monotonic() - started
    assert elapsed < budget  # answered inside the budget (the margin absorbs a slow machine)
    assert failed_ids(response) == ["m0"]
    assert [r["id"] for r in read_rows(lake)] == [other]


def test_no_request_starts_when_the_budget_is_already_spent(
    served: FakeCBR, settings: Settings
) -> None:
    response = make_app(settings).handle(sqs_event(SEED_ID), Context(budget_s=4.0))
    assert failed_ids(response) == ["m0"]
    assert served.cbr_requests() == []


def test_a_message_without_a_project_is_redelivered_when_no_default_is_set(
    served: FakeCBR, settings: Settings, lake: Path
) -> None:
    app = make_app(settings, project_id=None)
    event = sqs_event(SEED_ID, json.dumps({"operation_log_id": SEED_ID, "project_id": PROJECT}))
    response = app.handle(event, Context())
    assert failed_ids(response) == ["m0"]
    assert [r["source_message_id"] for r in read_rows(lake)] == ["m1"]


def test_an_invocation_logs_one_summary_line_with_counts(
    served: FakeCBR, settings: Settings, logs
) -> None:
    make_app(settings).handle(load_event("sqs-batch.json"), Context())
    lines = [json.loads(line) for line in logs.getvalue().splitlines()]
    (summary,) = [line for line in lines if line["message"] == "invocation done"]
    assert summary["messages"] == 10 and summary["rows"] == 18 and summary["error_rows"] == 3
    assert summary["failures"] == 0 and summary["drift"] == 0
    assert summary["error_reasons"] == {"not_found": 1, "invalid_message": 1, "invalid_id": 1}
    assert summary["elapsed_s"] >= 0


def test_a_scheduled_event_without_a_queue_is_a_configuration_error(
    served: FakeCBR, settings: Settings
) -> None:
    with pytest.raises(ConfigError, match="QUEUE_URL"):
        make_app(settings).handle(load_event("schedule.json"), Context())


def test_bad_settings_fail_the_invocation_before_any_request(fake: FakeCBR, tmp_path: Path) -> None:
    env = {
        **os.environ,
        "CBR_ENDPOINT": fake.base_url,
        "FETCH_CONCURRENCY": "lots",
        "LAKE_URI": str(tmp_path / "lake"),
    }
    run = run_handler_script("events/sqs-single.json", env)
    assert run.returncode != 0
    assert "FETCH_CONCURRENCY must be a number" in run.stderr
    assert fake.requests == []
    assert not (tmp_path / "lake").exists()


def test_local_invocation_replays_the_sample_logs(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CBR_", "IAM_"))}
    env["LAKE_URI"] = str(tmp_path / "lake")
    run = run_handler_script("events/sqs-batch.json", env)
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout[: run.stdout.rindex("}") + 1]) == {"batchItemFailures": []}
    assert "10 messages, 0 to redeliver" in run.stdout
    assert len(read_rows(tmp_path / "lake")) == len(fixture_logs())
    assert len(read_errors(tmp_path / "lake")) == 3


def test_requests_keep_to_the_rate_cap(served: FakeCBR, settings: Settings) -> None:
    ids = sorted(fixture_logs())[:12]
    make_app(settings, max_rps=20.0).handle(sqs_event(*ids), Context())
    times = sorted(r.at for r in served.cbr_requests())
    assert len(times) == 12
    assert times[-1] - times[0] >= 11 / 20 * 0.9  # 12 requests at 20/s span at least 0.55 s


def test_metrics_are_emitted_only_inside_lambda(
    served: FakeCBR, settings: Settings, capsys
) -> None:
    make_app(settings).handle(sqs_event(SEED_ID), Context())
    assert "_aws" not in capsys.readouterr().out
    make_app(settings, in_lambda=True).handle(sqs_event(SEED_ID, "bad id!"), Context())
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    main = lines[0]
    assert (main["Messages"], main["RowsWritten"], main["ErrorRows"], main["Failures"]) == (
        2,
        1,
        1,
        0,
    )
    assert lines[1]["Reason"] == "invalid_id"


def test_raw_json_is_the_operation_log_exactly_as_the_api_wrote_it(
    fake: FakeCBR, settings: Settings, lake: Path
) -> None:
    path = next(iter(sorted(FIXTURE_LOGS.glob("*.json"))))
    body = path.read_bytes()  # pretty-printed, as some gateways answer
    log_id = json.loads(body)["operation_log"]["id"]
    fake.add_body(log_id, b"\xef\xbb\xbf" + body)
    assert make_app(settings).handle(sqs_event(log_id), Context()) == {"batchItemFailures": []}
    (row,) = read_rows(lake)
    text = body.decode()
    start = text.index("{", text.index('"operation_log"'))
    assert row["raw_json"] == text[start : text.rindex("}")].rstrip()
