"""The cloud side on loopback endpoints: S3 lake, scheduled drain, Secrets Manager, AK/SK."""

from __future__ import annotations

import base64
import io
import json
import threading
import zlib
from collections.abc import Iterator
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import boto3
import pyarrow.parquet as pq
import pytest

from lib.core.errors import ConfigError, SinkError
from lib.core.schema import DATA_TABLE, ERRORS_TABLE
from lib.core.settings import Settings
from lib.lake.s3 import S3Store

from conftest import (
    PROJECT,
    Context,
    failed_ids,
    fixture_logs,
    load_event,
    make_app,
    read_rows,
    sqs_event,
)
from fakecbr import FakeCBR, Reply

BUCKET = "audit-lake"
SEED_ID = "4827f2da-b008-4507-ab7d-42d0df5ed912"
IGNORED = {"ingested_at", "observed_at"}  # the time of writing differs between two runs


@pytest.fixture
def served(fake: FakeCBR) -> FakeCBR:
    for log in fixture_logs().values():
        fake.add_log(log)
    return fake


@pytest.fixture
def s3(aws: str) -> Any:
    client = boto3.client("s3")
    client.create_bucket(
        Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": "ap-southeast-1"}
    )
    return client


def s3_keys(client: Any, prefix: str = "lake/") -> list[str]:
    answer = client.list_objects_v2(Bucket=BUCKET, Prefix=prefix)
    return sorted(item["Key"] for item in answer.get("Contents", []))


def s3_rows(client: Any, table: str) -> list[dict[str, Any]]:
    rows = []
    for key in s3_keys(client, f"lake/{table}/"):
        body = client.get_object(Bucket=BUCKET, Key=key)["Body"].read()
        dt = key.split("/")[2]
        rows += [
            {**r, "dt": dt.removeprefix("dt=")} for r in pq.read_table(io.BytesIO(body)).to_pylist()
        ]
    return rows


def comparable(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    stripped = [{k: v for k, v in r.items() if k not in IGNORED} for r in rows]
    return sorted(stripped, key=lambda r: json.dumps(r, sort_keys=True, default=str))


def test_the_s3_lake_holds_the_same_rows_and_layout_as_a_local_run(
    served: FakeCBR, settings: Settings, lake: Path, s3: Any
) -> None:
    event = load_event("sqs-batch.json")
    assert make_app(settings).handle(event, Context()) == {"batchItemFailures": []}
    s3_settings = replace(settings, lake_uri=f"s3://{BUCKET}/lake")
    assert make_app(s3_settings).handle(event, Context()) == {"batchItemFailures": []}

    local_keys = sorted(p.relative_to(lake).as_posix() for p in lake.rglob("*.parquet"))
    assert [k.removeprefix("lake/") for k in s3_keys(s3)] == local_keys
    for table in (DATA_TABLE, ERRORS_TABLE):
        assert comparable(s3_rows(s3, table)) == comparable(read_rows(lake, table))
    for key in s3_keys(s3):
        assert s3.head_object(Bucket=BUCKET, Key=key)["ServerSideEncryption"] == "AES256"


def test_the_s3_lake_is_readable_through_pyarrow_datasets(
    served: FakeCBR, settings: Settings, s3: Any
) -> None:
    uri = f"s3://{BUCKET}/lake"
    make_app(settings, lake_uri=uri).handle(load_event("sqs-batch.json"), Context())
    assert sorted(r["id"] for r in read_rows(uri)) == sorted(fixture_logs())


def test_a_redelivered_batch_adds_no_objects(served: FakeCBR, settings: Settings, s3: Any) -> None:
    app = make_app(settings, lake_uri=f"s3://{BUCKET}/lake")
    event = load_event("sqs-batch.json")
    app.handle(event, Context())
    before = s3_keys(s3)
    app.handle(event, Context())
    assert s3_keys(s3) == before
    assert len(s3_rows(s3, DATA_TABLE)) == len(fixture_logs())


def test_a_missing_bucket_fails_every_message_with_a_clear_sentence(
    served: FakeCBR, settings: Settings, aws: str, logs
) -> None:
    app = make_app(settings, lake_uri="s3://no-such-bucket/lake")
    response = app.handle(sqs_event(SEED_ID, "bad id!"), Context())
    assert failed_ids(response) == ["m0", "m1"]
    assert "the bucket of LAKE_URI=s3://no-such-bucket/lake does not exist" in logs.getvalue()


class _Failing(BaseHTTPRequestHandler):
    """An S3-compatible store that answers every request with 500."""

    protocol_version = "HTTP/1.1"

    def do_PUT(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        body = b"<Error><Code>InternalError</Code><Message>boom</Message></Error>"
        self.send_response(500)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = do_PUT

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def failing_store(aws: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Failing)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    endpoint = f"http://127.0.0.1:{server.server_address[1]}"
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", endpoint)
    yield endpoint
    server.shutdown()
    server.server_close()


def test_a_store_answering_500_fails_the_batch(
    served: FakeCBR, settings: Settings, failing_store: str, logs
) -> None:
    app = make_app(settings, lake_uri=f"s3://{BUCKET}/lake")
    response = app.handle(sqs_event(SEED_ID), Context())
    assert failed_ids(response) == ["m0"]
    assert "S3 answered 500 InternalError" in logs.getvalue()


def test_large_objects_go_up_in_parts_and_read_back_whole(s3: Any) -> None:
    store = S3Store(s3, BUCKET, "lake", multipart_threshold=6 << 20, part_size=5 << 20)
    payload = bytes(range(256)) * (48 * 1024)  # 12 MiB
    store.put("operation_logs/dt=2026-11-20/part-big.parquet", payload)
    assert store.get("operation_logs/dt=2026-11-20/part-big.parquet") == payload
    assert s3.list_multipart_uploads(Bucket=BUCKET).get("Uploads", []) == []
    assert store.list("operation_logs/") == ["operation_logs/dt=2026-11-20/part-big.parquet"]


def test_each_object_is_sent_whole_with_a_checksum_and_encryption(s3: Any) -> None:
    sent: list[Any] = []
    s3.meta.events.register("before-send.s3.PutObject", lambda request, **_: sent.append(request))
    store = S3Store(s3, BUCKET, "lake", sse="aws:kms", kms_key_id="alias/lake")
    store.put("operation_logs/dt=2026-11-20/part-1.parquet", b"parquet bytes")
    (request,) = sent
    # The store recomputes the CRC32 of what it received and refuses the object if they differ.
    expected = base64.b64encode(zlib.crc32(b"parquet bytes").to_bytes(4, "big")).decode()
    assert request.headers["x-amz-checksum-crc32"].decode() == expected
    assert request.headers["x-amz-server-side-encryption"].decode() == "aws:kms"
    assert request.headers["x-amz-server-side-encryption-aws-kms-key-id"].decode() == "alias/lake"
    assert request.url.endswith("/audit-lake/lake/operation_logs/dt%3D2026-11-20/part-1.parquet")


def test_store_errors_are_one_sentence_naming_the_setting(s3: Any) -> None:
    with pytest.raises(
        SinkError, match="the bucket of LAKE_URI=s3://no-such-bucket does not exist"
    ):
        S3Store(s3, "no-such-bucket").put("k", b"x")


# Scheduled drain


@pytest.fixture
def queue(aws: str) -> str:
    sqs = boto3.client("sqs")
    return sqs.create_queue(QueueName="tasks", Attributes={"VisibilityTimeout": "60"})["QueueUrl"]


def send(queue_url: str, *bodies: str) -> dict[str, str]:
    """Send bodies; returns body -> MessageId."""
    sqs = boto3.client("sqs")
    return {
        body: sqs.send_message(QueueUrl=queue_url, MessageBody=body)["MessageId"] for body in bodies
    }


def queue_counts(queue_url: str) -> tuple[int, int]:
    attributes = boto3.client("sqs").get_queue_attributes(
        QueueUrl=queue_url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]), int(
        attributes["ApproximateNumberOfMessagesNotVisible"]
    )


def test_a_scheduled_drain_deletes_exactly_what_was_written(
    served: FakeCBR, settings: Settings, lake: Path, queue: str
) -> None:
    ids = sorted(fixture_logs())
    served.script(ids[0], *[Reply(500)] * 20)  # always failing
    bodies = [
        *ids[1:],
        "d0b562d5-a5ce-441c-ae44-162b9e80438b",
        "also-missing-1",
        "{broken",
        '{"task": 1}',
        "bad id!",
        json.dumps(ids[1:4]),
        json.dumps([{"operation_log_id": ids[5]}]),
        ids[0],
        "missing-2",
        "missing-3",
    ]
    assert len(bodies) >= 25
    sent = send(queue, *bodies)
    app = make_app(settings, queue_url=queue, drain_batch_ids=12)
    summary = app.handle(load_event("schedule.json"), Context())

    assert summary["received"] == len(bodies)
    assert summary["failures"] == 1 and summary["deleted"] == len(bodies) - 1
    assert summary["batches"] >= 2 and summary["delete_failed"] == 0
    assert summary["error_reasons"] == {"not_found": 4, "invalid_message": 2, "invalid_id": 1}
    assert summary["error_rows"] == 7
    assert summary["rows"] == len(ids) - 1 + 3 + 1
    assert queue_counts(queue) == (0, 1)  # only the failing message, invisible until it returns
    rows = read_rows(lake)
    assert {r["id"] for r in rows} == set(ids[1:])
    assert {r["source_message_id"] for r in rows} <= set(sent.values())
    assert sent[ids[0]] not in {r["source_message_id"] for r in rows}


def test_a_failure_seen_again_in_the_same_run_is_not_retried_in_a_loop(
    served: FakeCBR, settings: Settings, aws: str
) -> None:
    sqs = boto3.client("sqs")
    url = sqs.create_queue(QueueName="fast", Attributes={"VisibilityTimeout": "0"})["QueueUrl"]
    served.script(SEED_ID, *[Reply(500)] * 50)
    send(url, SEED_ID)
    summary = make_app(settings, queue_url=url).handle(load_event("schedule.json"), Context())
    assert summary["received"] == 1 and summary["failures"] == 1
    assert summary["stopped_by"] == "only_retries_left"
    assert len(served.cbr_requests(SEED_ID)) == settings.max_attempts


def test_an_empty_queue_ends_the_drain_after_one_poll(
    served: FakeCBR, settings: Settings, queue: str
) -> None:
    app = make_app(settings, queue_url=queue, drain_wait_s=1)
    summary = app.handle(load_event("schedule.json"), Context())
    assert summary["received"] == 0 and summary["stopped_by"] == "empty" and summary["left"] == 0


def test_the_drain_stops_at_the_message_cap(
    served: FakeCBR, settings: Settings, queue: str
) -> None:
    send(queue, *sorted(fixture_logs())[:6])
    app = make_app(settings, queue_url=queue, drain_max_messages=3)
    summary = app.handle(load_event("schedule.json"), Context())
    assert summary["received"] == 3 and summary["stopped_by"] == "cap" and summary["left"] == 3


def test_a_queue_that_does_not_exist_is_a_configuration_error(
    served: FakeCBR, settings: Settings, aws: str
) -> None:
    url = f"{aws}/123456789012/no-such-queue"
    with pytest.raises(ConfigError, match=r"QUEUE_URL=.*does not exist"):
        make_app(settings, queue_url=url).handle(load_event("schedule.json"), Context())


# Credentials from Secrets Manager, and AK/SK signing

AK, SK = "AKTEST00000000000001", "SKTEST0000000000000000000000000000000001"


def put_secret(value: dict[str, str], name: str = "cbr-creds") -> str:
    client = boto3.client("secretsmanager")
    try:
        return client.create_secret(Name=name, SecretString=json.dumps(value))["ARN"]
    except client.exceptions.ResourceExistsException:
        return client.put_secret_value(SecretId=name, SecretString=json.dumps(value))["ARN"]


def test_ak_sk_signed_requests_are_accepted(settings: Settings, lake: Path) -> None:
    from lib.core.settings import AccessKey

    with FakeCBR(require_auth=True, access_keys={AK: SK}) as server:
        server.add_log(fixture_logs()[SEED_ID])
        app = make_app(settings, cbr_endpoint=server.base_url, access_key=AccessKey(AK, SK))
        assert app.handle(sqs_event(SEED_ID), Context()) == {"batchItemFailures": []}
        (request,) = server.cbr_requests()
        assert request.headers["authorization"].startswith(f"SDK-HMAC-SHA256 Access={AK}, ")
        assert request.headers["x-project-id"] == PROJECT and "x-auth-token" not in request.headers
        wrong = make_app(settings, cbr_endpoint=server.base_url, access_key=AccessKey(AK, "x" * 40))
        assert failed_ids(wrong.handle(sqs_event(SEED_ID), Context())) == ["m0"]


def test_a_skewed_clock_is_refused_by_the_gateway(settings: Settings) -> None:
    from lib.core.settings import AccessKey

    with FakeCBR(require_auth=True, access_keys={AK: SK}) as server:
        server.add_log(fixture_logs()[SEED_ID])
        server.max_clock_skew_s = -1  # every signature now looks too old
        app = make_app(settings, cbr_endpoint=server.base_url, access_key=AccessKey(AK, SK))
        assert failed_ids(app.handle(sqs_event(SEED_ID), Context())) == ["m0"]


def test_credentials_come_from_secrets_manager_and_follow_rotation(
    settings: Settings, aws: str, logs
) -> None:
    with FakeCBR(require_auth=True, access_keys={AK: SK}) as server:
        server.add_log(fixture_logs()[SEED_ID])
        arn = put_secret({"access_key": AK, "secret_key": "old-" + SK})
        app = make_app(settings, cbr_endpoint=server.base_url, credentials_secret_id=arn)
        assert failed_ids(app.handle(sqs_event(SEED_ID), Context())) == ["m0"]  # stale secret
        put_secret({"access_key": AK, "secret_key": SK})  # rotated
        app.pipeline.client._auth._loaded_at -= 60  # the reload pause has passed
        assert app.handle(sqs_event(SEED_ID), Context()) == {"batchItemFailures": []}
        assert SK not in logs.getvalue() and "old-" + SK not in logs.getvalue()


def test_password_credentials_from_secrets_manager(settings: Settings, aws: str) -> None:
    with FakeCBR(require_auth=True, iam_users={("auditor", "pw-from-secret", "acme")}) as server:
        server.add_log(fixture_logs()[SEED_ID])
        arn = put_secret({"username": "auditor", "password": "pw-from-secret", "domain": "acme"})
        app = make_app(
            settings,
            cbr_endpoint=server.base_url,
            iam_endpoint=server.base_url,
            credentials_secret_id=arn,
        )
        assert app.handle(sqs_event(SEED_ID), Context()) == {"batchItemFailures": []}
        assert len(server.token_requests()) == 1


@pytest.mark.parametrize(
    "secret",
    [None, {"user": "x"}, {"access_key": "only"}],
    ids=["missing", "wrong-keys", "partial"],
)
def test_an_unusable_secret_fails_the_cold_start(
    settings: Settings, aws: str, secret: dict[str, str] | None
) -> None:
    secret_id = put_secret(secret) if secret is not None else "no-such-secret"
    with pytest.raises(ConfigError, match="CBR_CREDENTIALS_SECRET_ID") as raised:
        make_app(settings, credentials_secret_id=secret_id)
    assert "only" not in str(raised.value)


def test_an_unreachable_store_names_the_endpoint_setting(
    served: FakeCBR, settings: Settings, aws: str, monkeypatch: pytest.MonkeyPatch, logs
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", "http://127.0.0.1:9")  # nothing listens there
    app = make_app(settings, lake_uri=f"s3://{BUCKET}/lake")
    assert failed_ids(app.handle(sqs_event(SEED_ID), Context())) == ["m0"]
    assert "cannot reach http://127.0.0.1:9 for LAKE_URI" in logs.getvalue()
