"""FOLLOW_UNFINISHED: a task seen running is sent back to the queue (moto server) until it ends."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import pytest

from lib.core.settings import Settings
from lib.ingest.follow import delay_s
from lib.reports.engine import run_report
from lib.reports.parameters import Request

from conftest import Context, fixture_logs, make_app, read_rows, sqs_event
from fakecbr import FakeCBR, Reply

TASK = next(iter(fixture_logs().values()))


def snapshot(status: str, updated_at: str) -> dict[str, Any]:
    return {"operation_log": {**TASK, "status": status, "updated_at": updated_at}}


@pytest.fixture
def queue(aws: str) -> str:
    return boto3.client("sqs").create_queue(QueueName="tasks")["QueueUrl"]


def receive(queue_url: str) -> list[dict[str, Any]]:
    sqs = boto3.client("sqs")
    answer = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0)
    messages = answer.get("Messages", [])
    for message in messages:
        sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
    return messages


def latest_status(lake: Path) -> list[tuple[str, str]]:
    window = Request(now=datetime.now(UTC), since=datetime(2000, 1, 1, tzinfo=UTC))
    return [(r["id"], r["status"]) for r in run_report("latest", str(lake), window).rows]


def test_a_running_task_is_followed_until_it_succeeds(
    fake: FakeCBR, settings: Settings, queue: str, lake: Path
) -> None:
    fake.script(
        TASK["id"],
        Reply(200, snapshot("running", "2026-11-21T02:00:30Z")),
        Reply(200, snapshot("running", "2026-11-21T02:01:00Z")),
    )
    fake.add_body(TASK["id"], snapshot("success", "2026-11-21T02:02:00Z"))
    app = make_app(settings, follow_unfinished=True, queue_url=queue, follow_delay_s=0)

    response = app.handle(sqs_event(TASK["id"]), Context())
    assert response == {"batchItemFailures": []}
    attempts = []
    while messages := receive(queue):
        [message] = messages
        body = json.loads(message["Body"])
        attempts.append(body["attempt"])
        assert body == {"operation_log_id": TASK["id"], "project_id": settings.project_id,
                        "attempt": len(attempts)}  # fmt: skip
        event = sqs_event(message["Body"], ids=[message["MessageId"]])
        assert app.handle(event, Context()) == {"batchItemFailures": []}

    assert attempts == [1, 2]  # two follow-ups: the second found the task finished
    rows = sorted(read_rows(lake), key=lambda r: r["updated_at"])
    assert [r["status"] for r in rows] == ["running", "running", "success"]
    assert latest_status(lake) == [(TASK["id"], "success")]
    assert len(fake.cbr_requests(TASK["id"])) == 3


def test_follow_ups_stop_after_the_maximum_and_say_so(
    fake: FakeCBR, settings: Settings, queue: str, lake: Path, logs: Any
) -> None:
    fake.add_body(TASK["id"], snapshot("waiting", "2026-11-21T02:00:30Z"))
    app = make_app(
        settings, follow_unfinished=True, queue_url=queue, follow_delay_s=0, follow_max_attempts=2
    )
    app.handle(sqs_event(TASK["id"]), Context())
    for _ in range(2):
        [message] = receive(queue)
        app.handle(sqs_event(message["Body"], ids=[message["MessageId"]]), Context())
    assert receive(queue) == []
    assert "still unfinished after 2 follow-ups" in logs.getvalue()
    assert latest_status(lake) == [(TASK["id"], "waiting")]


def test_follow_ups_are_delayed_more_each_time(
    fake: FakeCBR, settings: Settings, queue: str
) -> None:
    assert [delay_s(n, 60) for n in range(1, 8)] == [60, 120, 240, 480, 900, 900, 900]
    assert delay_s(1000, 60) == 900 and delay_s(3, 0) == 0
    fake.add_body(TASK["id"], snapshot("running", "2026-11-21T02:00:30Z"))
    app = make_app(settings, follow_unfinished=True, queue_url=queue, follow_delay_s=30)
    app.handle(sqs_event(json.dumps({"operation_log_id": TASK["id"], "attempt": 2})), Context())
    attributes = boto3.client("sqs").get_queue_attributes(
        QueueUrl=queue, AttributeNames=["ApproximateNumberOfMessagesDelayed"]
    )["Attributes"]
    assert attributes["ApproximateNumberOfMessagesDelayed"] == "1"
    assert receive(queue) == []  # not visible before its delay (30 s x 2^2)


def test_finished_tasks_and_errors_are_not_followed(
    fake: FakeCBR, settings: Settings, queue: str
) -> None:
    fake.add_body(TASK["id"], snapshot("failed", "2026-11-21T02:00:30Z"))
    app = make_app(settings, follow_unfinished=True, queue_url=queue, follow_delay_s=0)
    response = app.handle(sqs_event(TASK["id"], "missing-task", "bad/id"), Context())
    assert response == {"batchItemFailures": []}
    assert receive(queue) == []


def test_a_follow_up_that_cannot_be_sent_redelivers_its_message(
    fake: FakeCBR, settings: Settings, queue: str, lake: Path
) -> None:
    fake.add_body(TASK["id"], snapshot("running", "2026-11-21T02:00:30Z"))
    gone = queue.rsplit("/", 1)[0] + "/no-such-queue"
    app = make_app(settings, follow_unfinished=True, queue_url=gone, follow_delay_s=0)
    response = app.handle(sqs_event(TASK["id"], "missing-task"), Context())
    assert response == {"batchItemFailures": [{"itemIdentifier": "m0"}]}
    assert [r["status"] for r in read_rows(lake)] == ["running"]  # the snapshot is kept


def test_following_needs_a_queue() -> None:
    from lib.core.errors import ConfigError

    with pytest.raises(ConfigError, match="FOLLOW_UNFINISHED=true needs QUEUE_URL"):
        Settings.from_env({"FOLLOW_UNFINISHED": "true"})
    with pytest.raises(ConfigError, match="FOLLOW_UNFINISHED must be true or false"):
        Settings.from_env({"FOLLOW_UNFINISHED": "maybe"})
    settings = Settings.from_env({"FOLLOW_UNFINISHED": "yes", "QUEUE_URL": "https://q"})
    assert (settings.follow_unfinished, settings.follow_max_attempts) == (True, 20)
