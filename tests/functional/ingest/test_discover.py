"""Discovery against the fake list API: the lake fills itself behind a durable watermark."""

from __future__ import annotations

import json
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import boto3
import pytest

from lib.aws.app import App, Root
from lib.core.settings import Settings
from lib.core.times import format_query, parse_utc
from lib.ingest.listing import Window
from lib.ingest.watermark import Watermarks

from conftest import PROJECT, Context, read_rows
from discovering import (
    NOW,
    OTHER,
    START,
    discover,
    environment,
    identities,
    ids_in,
    list_starts,
    run_cli,
    spread,
    watermark,
)
from fakecbr import LIST_SCRIPT, FakeCBR, Reply
from tasks import make_log


def test_a_first_pass_lists_the_backlog_page_by_page_and_saves_the_watermark(
    fake: FakeCBR, lake: Path
) -> None:
    logs = spread(fake, 30)
    (run,) = discover(environment(fake), lake, page_size=4)

    rows = {row["id"]: row for row in read_rows(lake)}
    assert sorted(rows) == sorted(log["id"] for log in logs)
    for log in logs:
        assert rows[log["id"]]["raw_json"] == json.dumps(log)  # as the list page spelled it
        assert rows[log["id"]]["source_message_id"] is None
    assert fake.cbr_requests() == []  # the list carries whole logs: no GET per task
    assert run.stopped_by == "done" and run.pages > 5 and run.new_rows == 30
    assert run.window_from == START
    state = json.loads((lake / "_state" / "discover" / f"{PROJECT}.json").read_text())
    assert parse_utc(state["watermark"]) == run.watermark_after >= NOW
    assert "lease" not in state  # released at the end of the pass


def test_the_next_pass_adds_only_what_is_new_or_changed_from_the_lookback_on(
    fake: FakeCBR, lake: Path
) -> None:
    logs = spread(fake, 12)
    env = environment(fake, DISCOVER_LOOKBACK_H="2")
    (first,) = discover(env, lake)
    assert first.watermark_after is not None
    recent = max(logs, key=lambda log: log["created_at"])  # created an hour ago: in the lookback
    fake.add_log({**recent, "status": "success", "updated_at": "2099-01-01T00:00:00Z"})
    new = [make_log(500 + n, datetime.now(UTC) - timedelta(seconds=5)) for n in range(2)]
    for log in new:
        fake.add_log(log)
    fake.requests.clear()

    (second,) = discover(env, lake)

    expected_start = Window.covering(first.watermark_after - timedelta(hours=2), NOW).start
    assert set(list_starts(fake)) == {format_query(expected_start)}  # the lookback, no further
    assert second.new_rows == 3 and second.known == second.listed - 3
    assert sorted(set(ids_in(lake))) == sorted({log["id"] for log in logs + new})
    states = sorted(row["status"] for row in read_rows(lake) if row["id"] == recent["id"])
    assert states == sorted([recent["status"], "success"])
    assert second.watermark_after is not None and second.watermark_after > first.watermark_after


def test_a_failing_page_holds_the_watermark_and_the_next_pass_closes_the_gap(
    fake: FakeCBR, lake: Path
) -> None:
    logs = spread(fake, 20)
    env = environment(fake, DISCOVER_LOOKBACK_H="0.01")  # 36 s: a wrong watermark loses tasks
    fake.script(LIST_SCRIPT, *[Reply(passthrough=True)] * 2, Reply(500), Reply(500))
    (broken,) = discover(env, lake)
    assert broken.stopped_by == "page_failed" and "500" in str(broken.error)
    held = watermark(lake)
    assert held is not None and held < NOW - timedelta(days=1)  # only the slices listed whole

    (healed,) = discover(env, lake)
    assert healed.stopped_by == "done" and healed.window_from == held - timedelta(hours=0.01)
    assert ids_in(lake) == sorted(log["id"] for log in logs)
    assert max(identities(lake).values()) == 1


def test_a_short_lambda_budget_returns_in_time_and_later_invocations_finish(
    lake: Path,
) -> None:
    with FakeCBR(latency=0.25) as slow:
        logs = spread(slow, 15)
        env = environment(slow, DISCOVER_START=(NOW - timedelta(days=30)).isoformat())
        app = App.from_settings(Settings.from_env(env, lake_uri=str(lake)))
        started = time.monotonic()
        first = app.handle({"action": "discover"}, Context(budget_s=8.0))
        assert time.monotonic() - started < 8.0
        (project,) = first["projects"]
        assert project["stopped_by"] == "time" and first["discovery_failures"] == 0
        assert project["watermark_after"] is not None  # some slices were listed and kept
        for _ in range(10):
            result = app.handle({"action": "discover"}, Context(budget_s=8.0))
            if result["projects"][0]["stopped_by"] == "done":
                break
        else:
            pytest.fail("discovery never finished the backlog")
    assert ids_in(lake) == sorted(log["id"] for log in logs)
    assert max(identities(lake).values()) == 1
    assert result["discovery_lag_s"] is not None and result["discovery_lag_s"] < 120


def test_several_projects_each_keep_their_own_watermark(fake: FakeCBR, lake: Path) -> None:
    mine = spread(fake, 6)
    theirs = spread(fake, 4, first=100, project=OTHER)
    env = environment(fake, CBR_PROJECT_IDS=f"{PROJECT},{OTHER}")
    runs = discover(env, lake)
    assert [run.project_id for run in runs] == [PROJECT, OTHER]
    assert [run.new_rows for run in runs] == [6, 4]
    assert watermark(lake, PROJECT) is not None and watermark(lake, OTHER) is not None
    projects = {row["id"]: row["project_id"] for row in read_rows(lake)}
    assert {projects[log["id"]] for log in mine} == {PROJECT}
    assert {projects[log["id"]] for log in theirs} == {OTHER}


def test_unfinished_tasks_leaving_the_lookback_go_to_the_follow_up_queue(
    fake: FakeCBR, lake: Path, aws: str
) -> None:
    queue_url = boto3.client("sqs").create_queue(QueueName="tasks")["QueueUrl"]
    old = make_log(1, NOW - timedelta(hours=3), status="running")
    fresh = make_log(2, NOW - timedelta(minutes=10), status="running")
    done = make_log(3, NOW - timedelta(hours=5))
    for log in (old, fresh, done):
        fake.add_log(log)
    env = environment(fake, DISCOVER_LOOKBACK_H="1", QUEUE_URL=queue_url, FOLLOW_DELAY_S="0")
    (run,) = discover(env, lake)
    answer = boto3.client("sqs").receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10)
    bodies = [json.loads(message["Body"]) for message in answer.get("Messages", [])]
    assert bodies == [{"operation_log_id": old["id"], "project_id": PROJECT, "attempt": 1}]
    assert run.followed == 1 and ids_in(lake) == sorted([old["id"], fresh["id"], done["id"]])


def test_queue_mode_sends_the_ids_instead_of_writing(fake: FakeCBR, lake: Path, aws: str) -> None:
    queue_url = boto3.client("sqs").create_queue(QueueName="tasks")["QueueUrl"]
    logs = spread(fake, 5)
    env = environment(fake, DISCOVER_MODE="queue", QUEUE_URL=queue_url)
    (run,) = discover(env, lake)
    sqs, bodies = boto3.client("sqs"), []
    while answer := sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages"):
        bodies += [json.loads(m["Body"]) for m in answer]
        for message in answer:
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
    assert sorted(b["operation_log_id"] for b in bodies) == sorted(log["id"] for log in logs)
    assert run.new_rows == 5 and read_rows(lake) == [] and watermark(lake) is not None


@pytest.mark.parametrize("where", ["local", "s3"])
def test_a_second_pass_stands_aside_while_the_first_holds_the_project(
    where: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """The first pass is held inside its first list request while the second runs whole: the
    second must find the lease, stand aside and send no request; the first then finishes."""
    extra: dict[str, str] = {}
    lake: str = str(tmp_path / "lake")
    if where == "s3":
        endpoint = request.getfixturevalue("aws")
        s3 = boto3.client("s3")
        s3.create_bucket(
            Bucket="lake", CreateBucketConfiguration={"LocationConstraint": "ap-southeast-1"}
        )
        lake = "s3://lake/audit"
        extra = {
            "AWS_ENDPOINT_URL_S3": endpoint,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "ap-southeast-1",
        }
    arrived, gate = threading.Event(), threading.Event()

    def hold_the_first(number: int) -> None:
        if number == 1:
            arrived.set()
            gate.wait(timeout=60)

    with FakeCBR() as fake:
        logs = spread(fake, 25)
        fake.on_list = hold_the_first
        env = environment(fake, LAKE_URI=lake, **extra)
        first = run_cli("discover", "--format", "json", env=env)
        try:
            assert arrived.wait(timeout=60), "the first pass never listed"
            second = run_cli("discover", "--format", "json", env=env)
            out, err = second.communicate(timeout=120)
            assert len(fake.list_requests()) == 1  # the second pass sent none
        finally:
            gate.set()
        first_out, first_err = first.communicate(timeout=120)
    assert (first.returncode, second.returncode) == (0, 0), (first_err, err)
    (held,) = json.loads(out)["projects"]
    (done,) = json.loads(first_out)["projects"]
    assert (held["stopped_by"], done["stopped_by"]) == ("held", "done")
    assert held["pages"] == 0 and held["watermark_after"] is None
    lease_end = parse_utc(held["held_until"])
    assert datetime.now(UTC) < lease_end <= datetime.now(UTC) + timedelta(minutes=5)
    assert ids_in(lake) == sorted(log["id"] for log in logs)
    assert max(identities(lake).values()) == 1
    store_root = Root(Settings.for_lake(extra, lake_uri=lake))
    final = Watermarks(store_root.store).read(PROJECT, datetime.now(UTC))
    assert final.watermark == parse_utc(done["watermark_after"]) and final.lease is None


def test_replay_mode_cannot_discover_and_says_so(tmp_path: Path) -> None:
    process = run_cli("discover", "--lake", str(tmp_path / "lake"), env={"CBR_PROJECT_ID": PROJECT})
    out, err = process.communicate(timeout=60)
    assert process.returncode == 2 and out == ""
    assert err.count("\n") == 1 and "CBR_ENDPOINT" in err and "list API" in err
