"""Discovery against the fake list API: the lake fills itself behind a durable watermark."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections import Counter
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import boto3
import pytest

from lib.aws.app import App, Root
from lib.core.runtime import Deadline
from lib.core.settings import Settings
from lib.core.times import format_query, parse_utc
from lib.ingest.discover import ProjectRun
from lib.ingest.listing import Window
from lib.ingest.watermark import Watermarks
from lib.lake.storage import LocalStore

from conftest import PROJECT, ROOT, Context, read_rows
from fakecbr import LIST_SCRIPT, FakeCBR, Reply
from tasks import make_log

NOW = datetime.now(UTC).replace(microsecond=0)
START = NOW - timedelta(days=4)
OTHER = "0a1b2c3d4e5f60718293a4b5c6d7e8f9"


def spread(fake: FakeCBR, count: int, first: int = 0, project: str = PROJECT) -> list[dict]:
    """`count` tasks created over the last three days (the newest an hour ago)."""
    logs = []
    for n in range(first, first + count):
        created = (
            NOW - timedelta(hours=1) - timedelta(minutes=(3 * 24 * 60 - 60) * (n - first) / count)
        )
        log = make_log(n, created, project_id=project)
        fake.add_log(log)
        logs.append(log)
    return logs


def environment(fake: FakeCBR, **extra: str) -> dict[str, str]:
    return {
        "CBR_ENDPOINT": fake.base_url,
        "CBR_PROJECT_ID": PROJECT,
        "DISCOVER_START": START.isoformat(),
        "LOG_LEVEL": "WARNING",
        "MAX_ATTEMPTS": "2",
        **extra,
    }


def discover(env: dict[str, str], lake: Path | str, *, page_size: int = 1000) -> list[ProjectRun]:
    root = Root(replace(Settings.from_env(env, lake_uri=str(lake)), backoff_base_s=0.01))
    discovery = root.discovery
    discovery.config = replace(discovery.config, page_size=page_size)
    return discovery.run(root.discover_projects(), Deadline.after(120))


def watermark(lake: Path, project: str = PROJECT) -> datetime | None:
    return Watermarks(LocalStore(lake)).read(project, datetime.now(UTC)).watermark


def ids_in(lake: Path | str) -> list[str]:
    return sorted(row["id"] for row in read_rows(lake))


def identities(lake: Path | str) -> Counter[tuple[str, Any]]:
    return Counter((row["id"], row["updated_at"]) for row in read_rows(lake))


def list_starts(fake: FakeCBR) -> list[str]:
    return [parse_qs(r.path.partition("?")[2])["start_time"][0] for r in fake.list_requests()]


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


def run_cli(*arguments: str, env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "lib", *arguments],
        cwd=ROOT,
        env={**env, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.mark.parametrize("where", ["local", "s3"])
def test_two_passes_at_once_lose_nothing_and_write_nothing_twice(
    where: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
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
    with FakeCBR(latency=0.1) as slow:
        logs = spread(slow, 25)
        env = environment(slow, LAKE_URI=lake, **extra)
        runs = [run_cli("discover", "--format", "json", env=env) for _ in range(2)]
        outputs = [process.communicate(timeout=120) for process in runs]
    assert [process.returncode for process in runs] == [0, 0], outputs
    passes = [json.loads(out)["projects"][0] for out, _ in outputs]
    assert sorted(p["stopped_by"] for p in passes) in (["done", "held"], ["done", "done"])
    assert ids_in(lake) == sorted(log["id"] for log in logs)
    assert max(identities(lake).values()) == 1
    final = max(parse_utc(p["watermark_after"]) for p in passes if p["watermark_after"])
    store_root = Root(Settings.for_lake(extra, lake_uri=lake))
    assert Watermarks(store_root.store).read(PROJECT, datetime.now(UTC)).watermark == final


def test_replay_mode_cannot_discover_and_says_so(tmp_path: Path) -> None:
    process = run_cli("discover", "--lake", str(tmp_path / "lake"), env={"CBR_PROJECT_ID": PROJECT})
    out, err = process.communicate(timeout=60)
    assert process.returncode == 2 and out == ""
    assert err.count("\n") == 1 and "CBR_ENDPOINT" in err and "list API" in err
