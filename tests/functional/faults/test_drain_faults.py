"""Queue faults on a scheduled drain: deleted queues, failing receives, redeliveries."""

from __future__ import annotations

import http.client
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import boto3
import pytest

from lib.core.errors import ConfigError
from lib.core.settings import Settings

from conftest import (
    Context,
    load_event,
    make_app,
    read_errors,
    read_rows,
    sqs_event,
)
from fakecbr import FakeCBR
from faultkit import (
    DAY_20,
    DAY_21,
    DAY_22,
    HEALTHY_ID,
    LOGS,
    SEED_ID,
    Event,
    Response,
    check,
)
from invariant import assert_invariant, assert_lake_files_are_whole

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
    """Forwards SQS calls to moto, but answers ReceiveMessage 500 once `receives` are used up,
    and fails the first `undeleted` entries of DeleteMessageBatch calls as SQS can: the entry
    is not passed on (the message stays in the queue) and the answer lists it as Failed."""

    def __init__(self, upstream: str, receives: int = 1_000_000, undeleted: int = 0) -> None:
        self.upstream = urlsplit(upstream)
        self.receives = receives
        self.failed_receives = 0
        self.undeleted = undeleted
        self.kept: list[str] = []  # receipt handles of the entries failed
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
                failed: list[dict[str, Any]] = []
                if target.endswith(".DeleteMessageBatch"):
                    body, failed = proxy.keep_some(body)
                status, headers, answer = proxy.forward(self.command, self.path, self.headers, body)
                if failed:
                    document = json.loads(answer)
                    document["Failed"] = [*document.get("Failed", []), *failed]
                    answer = json.dumps(document).encode()
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

    def keep_some(self, body: bytes) -> tuple[bytes, list[dict[str, Any]]]:
        """A DeleteMessageBatch request (JSON protocol) less the entries to fail, and their
        Failed answers."""
        request = json.loads(body)
        entries, failed = [], []
        with self._lock:
            for entry in request["Entries"]:
                if self.undeleted > 0:
                    self.undeleted -= 1
                    self.kept.append(entry["ReceiptHandle"])
                    failed.append(
                        {
                            "Id": entry["Id"],
                            "SenderFault": False,
                            "Code": "InternalError",
                            "Message": "injected by the test proxy",
                        }
                    )
                else:
                    entries.append(entry)
        request["Entries"] = entries
        return json.dumps(request).encode(), failed

    def forward(
        self, method: str, path: str, headers: Any, body: bytes
    ) -> tuple[int, list[tuple[str, str]], bytes]:
        connection = http.client.HTTPConnection(
            self.upstream.hostname, self.upstream.port, timeout=30
        )
        try:
            sent = {
                k: v
                for k, v in headers.items()
                if k.lower() not in ("host", "connection", "content-length")
            }
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
    assert summary["failures"] == summary["delete_failed"] == 0
    assert summary["deleted"] == summary["received"]
    assert (summary["received"] > 0) == (good_receives > 0)

    left = messages_in(aws, url)
    assert len(left) == len(sent) - summary["deleted"]
    event, response = drain_as_batch(sent, left)
    assert_invariant(event, response, lake)
    if lake.exists():
        assert_lake_files_are_whole(lake)


def test_a_message_sqs_fails_to_delete_stays_for_redelivery_and_is_counted(
    served: FakeCBR,
    settings: Settings,
    lake: Path,
    aws: str,
    monkeypatch: pytest.MonkeyPatch,
    logs: Any,
) -> None:
    url = create_queue(aws, "tasks")
    sent = send(aws, url, *sorted(LOGS)[:12], "bad id!")
    with SqsProxy(aws, undeleted=1) as proxy:
        monkeypatch.setenv("AWS_ENDPOINT_URL_SQS", proxy.url)
        app = make_app(settings, queue_url=url, drain_wait_s=0)
        summary = app.handle(load_event("schedule.json"), Context())
    # One entry of a DeleteMessageBatch answered Failed: counted, logged, the rest deleted
    assert len(proxy.kept) == 1
    assert (summary["received"], summary["deleted"], summary["delete_failed"]) == (13, 12, 1)
    assert summary["failures"] == 0
    assert "a written message could not be deleted" in logs.getvalue()
    # It is still in the queue (moto never saw its delete), to be delivered again once its
    # visibility timeout has run out (cut short here)
    sqs = sqs_at(aws)
    sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=proxy.kept[0], VisibilityTimeout=0)
    (left,) = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=0)[
        "Messages"
    ]
    assert left["MessageId"] in {message_id for message_id, _ in sent}
    # and its rows were written, so the next drain writes it again under the same names
    assert {r["source_message_id"] for r in read_rows(lake)} | {
        e["source_message_id"] for e in read_errors(lake)
    } == {message_id for message_id, _ in sent}
    monkeypatch.setenv("AWS_ENDPOINT_URL_SQS", aws)  # the queue itself, no proxy
    again = make_app(settings, queue_url=url, drain_wait_s=0).handle(
        load_event("schedule.json"), Context()
    )
    assert (again["received"], again["deleted"], again["delete_failed"]) == (1, 1, 0)
    assert messages_in(aws, url) == set()
    assert_lake_files_are_whole(lake)


def test_the_same_body_sent_twice_is_written_for_each_message(
    served: FakeCBR, settings: Settings, lake: Path, aws: str
) -> None:
    url = create_queue(aws, "tasks")
    sent = send(aws, url, SEED_ID, HEALTHY_ID, SEED_ID, json.dumps([SEED_ID, DAY_20]))
    app = make_app(settings, queue_url=url, drain_wait_s=1)
    summary = app.handle(load_event("schedule.json"), Context())
    assert (summary["received"], summary["deleted"], summary["failures"]) == (4, 4, 0)
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
