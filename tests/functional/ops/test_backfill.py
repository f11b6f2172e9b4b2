"""`python -m lib backfill` against the fake CBR list API: paging, filters, throttling, tasks that
arrive while paging, interruption and resumption, a second run, a file of IDs, a queue, S3."""

from __future__ import annotations

import json
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import boto3
import pytest

from lib.aws.app import Root
from lib.core.settings import Settings
from lib.core.times import parse_utc
from lib.ingest.listing import Window
from lib.ops.backfill import command as backfill
from lib.ops.backfill.checkpoint import BackfillError
from lib.ops.backfill.command import Options
from lib.ops.cli import main as cli_main

from conftest import PROJECT, ROOT, read_errors, read_rows
from fakecbr import LIST_SCRIPT, THROTTLED, FakeCBR, Reply
from fakelist import ListMode
from tasks import make_log

SINCE = datetime(2026, 1, 1, tzinfo=UTC)
UNTIL = datetime(2026, 1, 4, tzinfo=UTC)


@pytest.fixture
def tasks(fake: FakeCBR) -> dict[str, dict[str, Any]]:
    """25 tasks over three days of the window, and two outside it."""
    logs = {}
    for n in range(25):
        log = make_log(n, SINCE + timedelta(days=n % 3, hours=n // 3, minutes=n))  # 9, 8, 8
        logs[log["id"]] = log
    for n, created in ((90, SINCE - timedelta(hours=1)), (91, UNTIL + timedelta(hours=1))):
        fake.add_log(make_log(n, created))
    for log in logs.values():
        fake.add_log(log)
    return logs


@pytest.fixture
def env(fake: FakeCBR) -> dict[str, str]:
    return {"CBR_ENDPOINT": fake.base_url, "CBR_PROJECT_ID": PROJECT, "LOG_LEVEL": "WARNING"}


@dataclass(frozen=True)
class Job:
    """A backfill as the CLI would run it: its options and the lake it writes to."""

    options: Options
    lake: str


def options(lake: Path | str, tmp_path: Path, **changes: Any) -> Job:
    defaults: dict[str, Any] = {
        "since": SINCE,
        "until": UNTIL,
        "page_size": 4,
        "flush_rows": 4,
        "checkpoint": str(tmp_path / "checkpoint.json"),
    }
    return Job(Options(**{**defaults, **changes}), str(lake))


def run_backfill(job: Job, env: dict[str, str]) -> dict[str, Any]:
    return backfill.run(job.options, Root(Settings.from_env(env, lake_uri=job.lake)))


def lake_ids(lake: Path | str) -> list[str]:
    return sorted(row["id"] for row in read_rows(lake))


def run_backfill_command(
    arguments: list[str], env: dict[str, str], *, cwd: Path
) -> subprocess.CompletedProcess[str]:
    """`python -m lib backfill ...` as an operator runs it, in a process of its own."""
    return subprocess.run(
        [sys.executable, "-m", "lib", "backfill", *arguments],
        cwd=cwd,
        env={**env, "PYTHONPATH": str(ROOT), "LOG_LEVEL": "INFO"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def list_offsets(fake: FakeCBR) -> list[tuple[str, int, int]]:
    """(start_time, offset, limit) of every list request, in order."""
    from urllib.parse import parse_qs

    seen = []
    for request in fake.list_requests():
        query = parse_qs(request.path.partition("?")[2])
        seen.append((query["start_time"][0], int(query["offset"][0]), int(query["limit"][0])))
    return seen


def test_a_window_is_listed_page_by_page_and_written_as_listed(
    fake: FakeCBR, tasks: dict[str, dict[str, Any]], env: dict[str, str], lake: Path, tmp_path: Path
) -> None:
    summary = run_backfill(options(lake, tmp_path), env)

    rows = read_rows(lake)
    assert [row["id"] for row in rows] == sorted(tasks)
    for row in rows:
        source = tasks[row["id"]]
        assert json.loads(row["raw_json"]) == source
        assert row["raw_json"] == json.dumps(source)  # cut from the page as the API wrote it
        assert (row["status"], row["operation_type"]) == (
            source["status"],
            source["operation_type"],
        )
        assert row["source_message_id"] is None
        assert row["dt"] == source["created_at"][:10]
    assert fake.cbr_requests() == []  # the list carries whole logs: nothing fetched again
    first_day = [o[1] for o in list_offsets(fake) if o[0] == "2026-01-01T00:00:00Z"]
    # 9 tasks that day; pages of 4 repeat one task to detect shifts; a short page ends the day.
    assert first_day == [0, 3, 6]
    assert summary["written"] == 25 and summary["slices"] == 3 and summary["shifts"] == 0
    assert summary["received"] == summary["listed"] == 25 + summary["duplicates"]
    assert not Path(tmp_path / "checkpoint.json").exists()


def test_filters_reach_the_api_and_limit_what_is_written(
    fake: FakeCBR, tasks: dict[str, dict[str, Any]], env: dict[str, str], lake: Path, tmp_path: Path
) -> None:
    wanted = {"operation_type": "restore", "status": "success"}
    run_backfill(options(lake, tmp_path, filters=wanted), env)
    expected = sorted(i for i, t in tasks.items() if all(t[k] == v for k, v in wanted.items()))
    assert lake_ids(lake) == expected and expected
    assert all("operation_type=restore" in r.path for r in fake.list_requests())


def test_a_throttled_page_is_retried(
    fake: FakeCBR, tasks: dict[str, dict[str, Any]], env: dict[str, str], lake: Path, tmp_path: Path
) -> None:
    fake.script(LIST_SCRIPT, Reply(passthrough=True), Reply(429, THROTTLED, {"Retry-After": "0"}))
    summary = run_backfill(options(lake, tmp_path), env)
    assert lake_ids(lake) == sorted(tasks)
    assert summary["throttled"] == 1 and summary["retries"] == 1


def test_tasks_arriving_while_paging_are_neither_lost_nor_duplicated(
    fake: FakeCBR, tasks: dict[str, dict[str, Any]], env: dict[str, str], lake: Path, tmp_path: Path
) -> None:
    late = [make_log(100 + n, SINCE + timedelta(hours=23, minutes=n)) for n in range(3)]

    def arrive(request_number: int) -> None:
        if request_number == 2:  # before the first day's second page: everything shifts by three
            for log in late:
                fake.add_log(log)

    fake.on_list = arrive
    summary = run_backfill(options(lake, tmp_path), env)
    ids = [row["id"] for row in read_rows(lake)]
    assert sorted(ids) == sorted([*tasks, *(log["id"] for log in late)])
    assert len(ids) == len(set(ids))
    assert summary["shifts"] == 1 and summary["splits"] >= 1  # read again in pieces of time


def test_tasks_leaving_a_status_filter_while_paging_are_not_missed(
    fake: FakeCBR, tasks: dict[str, dict[str, Any]], env: dict[str, str], lake: Path, tmp_path: Path
) -> None:
    running = {i: t for i, t in tasks.items() if t["created_at"].startswith("2026-01-01")}
    for log in running.values():
        fake.add_log({**log, "status": "running"})
    newest = max(running.values(), key=lambda log: log["created_at"])

    def finish(request_number: int) -> None:
        if request_number == 2:  # the newest task finishes: later pages shift backwards
            fake.add_log({**newest, "status": "success", "updated_at": "2026-01-01T23:59:00Z"})

    fake.on_list = finish
    wanted = {"status": "running"}
    one_day = options(lake, tmp_path, filters=wanted, until=SINCE + timedelta(days=1))
    summary = run_backfill(one_day, env)
    still_running = sorted(set(running) - {newest["id"]})
    assert sorted(set(lake_ids(lake)) - {newest["id"]}) == still_running
    assert summary["splits"] >= 1  # under a filter the window is read in pieces of time


def test_an_interrupted_run_resumes_where_it_stopped(
    fake: FakeCBR, tasks: dict[str, dict[str, Any]], env: dict[str, str], lake: Path, tmp_path: Path
) -> None:
    # Requests 1-4 read the first day (9 tasks); the second day's first page; then 500s.
    fake.script(LIST_SCRIPT, *[Reply(passthrough=True)] * 5, Reply(500), Reply(500))
    env = {**env, "MAX_ATTEMPTS": "2"}
    with pytest.raises(BackfillError, match="listing tasks from 2026-01-02T00:00:00Z failed"):
        run_backfill(options(lake, tmp_path), env)
    checkpoint = json.loads((tmp_path / "checkpoint.json").read_text())
    assert checkpoint["position"] == {"until": "2026-01-04T00:00:00Z", "slice": 1}
    assert len(lake_ids(lake)) >= 9  # the first day, and what was flushed of the second

    fake.requests.clear()
    summary = run_backfill(options(lake, tmp_path), env)
    assert summary["resumed"] is True
    assert list_offsets(fake)[0] == ("2026-01-02T00:00:00Z", 0, 4)  # resumes at the second day
    ids = [row["id"] for row in read_rows(lake)]
    assert sorted(ids) == sorted(tasks) and len(ids) == len(set(ids))
    assert not (tmp_path / "checkpoint.json").exists()


def test_an_open_ended_window_resumes_the_window_it_started(
    fake: FakeCBR, tasks: dict[str, dict[str, Any]], env: dict[str, str], lake: Path, tmp_path: Path
) -> None:
    fake.script(LIST_SCRIPT, Reply(passthrough=True), Reply(500), Reply(500))
    env = {**env, "MAX_ATTEMPTS": "2"}
    with pytest.raises(BackfillError):
        run_backfill(options(lake, tmp_path, until=None), env)  # "until now"
    until = json.loads((tmp_path / "checkpoint.json").read_text())["position"]["until"]

    fake.requests.clear()
    summary = run_backfill(options(lake, tmp_path, until=None), env)
    assert summary["resumed"] is True
    ends = {parse_qs(r.path.partition("?")[2])["end_time"][0] for r in fake.list_requests()}
    last_end = Window.covering(parse_utc(until), parse_utc(until)).query()["end_time"]
    assert max(ends) == last_end  # the same window, not one ending at the new "now"
    assert sorted(lake_ids(lake)) == sorted([*tasks, "task-0091"])  # created after UNTIL


def test_a_second_run_over_the_same_window_adds_nothing(
    fake: FakeCBR, tasks: dict[str, dict[str, Any]], env: dict[str, str], lake: Path, tmp_path: Path
) -> None:
    run_backfill(options(lake, tmp_path), env)
    files = sorted(lake.rglob("*.parquet"))
    summary = run_backfill(options(lake, tmp_path, page_size=7), env)  # other page boundaries
    assert sorted(lake.rglob("*.parquet")) == files
    assert (summary["written"], summary["known"]) == (0, 25)
    assert len(read_rows(lake)) == 25


def test_a_changed_task_is_written_again_with_its_new_state(
    fake: FakeCBR, tasks: dict[str, dict[str, Any]], env: dict[str, str], lake: Path, tmp_path: Path
) -> None:
    run_backfill(options(lake, tmp_path), env)
    changed = {**tasks["task-0000"], "status": "success", "updated_at": "2026-01-02T00:00:00Z"}
    fake.add_log(changed)
    summary = run_backfill(options(lake, tmp_path), env)
    assert summary["written"] == 1
    statuses = [row["status"] for row in read_rows(lake) if row["id"] == "task-0000"]
    assert sorted(statuses) == ["failed", "success"]


def test_ids_from_a_file_are_fetched_into_the_lake_once(
    fake: FakeCBR, tasks: dict[str, dict[str, Any]], env: dict[str, str], lake: Path, tmp_path: Path
) -> None:
    ids_file = tmp_path / "ids.txt"
    lines = [
        "task-0001",
        json.dumps({"operation_log_id": "task-0002", "project_id": PROJECT}),
        json.dumps(["task-0003", "task-0004"]),
        "",
        "no/such id",
        "task-9999",
    ]
    ids_file.write_text("\n".join(lines) + "\n")
    run = options(lake, tmp_path, ids_file=str(ids_file), since=None, until=None)
    summary = run_backfill(run, env)
    assert lake_ids(lake) == ["task-0001", "task-0002", "task-0003", "task-0004"]
    errors = {row["reason"]: row for row in read_errors(lake)}
    assert errors["not_found"]["operation_log_id"] == "task-9999"
    assert errors["invalid_id"]["raw_message"] == "no/such id"
    assert all(row["source_message_id"] is None for row in read_errors(lake))
    assert (summary["failed_lines"], summary["invalid_lines"], summary["lines"]) == (0, 1, 5)
    assert (summary["rows"], summary["error_rows"]) == (4, 2)

    run_backfill(run, env)
    assert len(read_rows(lake)) == 4 and len(read_errors(lake)) == 2


def test_lines_that_keep_failing_are_reported_not_lost(
    fake: FakeCBR, tasks: dict[str, dict[str, Any]], env: dict[str, str], lake: Path, tmp_path: Path
) -> None:
    ids_file = tmp_path / "ids.txt"
    ids_file.write_text("task-0001\ntask-0002\n")
    fake.script("task-0002", *[Reply(503)] * 10)
    env = {**env, "MAX_ATTEMPTS": "2"}
    summary = run_backfill(options(lake, tmp_path, ids_file=str(ids_file)), env)
    assert summary["failed_lines"] == 1
    assert lake_ids(lake) == ["task-0001"]

    arguments = ["--ids-file", str(ids_file), "--lake", str(lake)]
    result = run_backfill_command(arguments, env, cwd=tmp_path)
    assert result.returncode == 1, result.stderr
    assert "1 line failed: run the same command again to retry it" in result.stdout
    result = run_backfill_command([*arguments, "--format", "json"], env, cwd=tmp_path)
    assert json.loads(result.stdout)["failed_lines"] == 1


def test_a_resumed_file_backfill_retries_the_lines_that_failed(
    fake: FakeCBR, tasks: dict[str, dict[str, Any]], env: dict[str, str], lake: Path, tmp_path: Path
) -> None:
    ids_file = tmp_path / "ids.txt"
    ids_file.write_text("task-0001\ntask-0002\ntask-0003\n")
    fake.script("task-0002", *[Reply(503)] * 2)  # fails once (two attempts), then answers
    env = {**env, "MAX_ATTEMPTS": "2"}
    first = run_backfill(options(lake, tmp_path, ids_file=str(ids_file)), env)
    assert first["failed_lines"] == 1
    checkpoint = json.loads((tmp_path / "checkpoint.json").read_text())
    assert checkpoint["position"] == {"line": 3, "failed": [2]}

    fake.requests.clear()
    again = run_backfill(options(lake, tmp_path, ids_file=str(ids_file)), env)
    assert again["failed_lines"] == 0 and again["lines"] == 1  # only the line that failed
    assert [r.path.rsplit("/", 1)[1] for r in fake.requests] == ["task-0002"]
    assert lake_ids(lake) == ["task-0001", "task-0002", "task-0003"]
    assert not (tmp_path / "checkpoint.json").exists()


def test_invalid_lines_and_repeated_ids_are_counted_not_called_written(
    fake: FakeCBR, tasks: dict[str, dict[str, Any]], env: dict[str, str], lake: Path, tmp_path: Path
) -> None:
    ids_file = tmp_path / "ids.txt"
    ids_file.write_text("task-0001 \ntask-0002\ntask-0002\n")  # a trailing space; a repeat
    result = run_backfill_command(
        ["--ids-file", str(ids_file), "--lake", str(lake), "--format", "json"], env, cwd=tmp_path
    )
    summary = json.loads(result.stdout)
    assert result.returncode == 1  # a line was refused
    assert (summary["invalid_lines"], summary["rows"], summary["duplicates"]) == (1, 1, 1)
    assert lake_ids(lake) == ["task-0002"]
    assert [row["reason"] for row in read_errors(lake)] == ["invalid_id"]


def test_the_cli_prints_progress_lines_and_a_summary(
    fake: FakeCBR, tasks: dict[str, dict[str, Any]], env: dict[str, str], lake: Path, tmp_path: Path
) -> None:
    arguments = ["--since", "2026-01-01", "--until", "2026-01-03", "--lake", str(lake)]
    result = run_backfill_command([*arguments, "--page-size", "5"], env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "3 slices listed" in result.stdout and "25 written to" in result.stdout
    assert len(lake_ids(lake)) == 25  # --until 2026-01-03 takes that day
    finished = [json.loads(line) for line in result.stderr.splitlines() if "finished" in line]
    assert finished[0]["done"] == finished[0]["total"] == 3  # slices
    again = run_backfill_command([*arguments, "--format", "json"], env, cwd=tmp_path)
    assert json.loads(again.stdout)["written"] == 0
    assert not list((tmp_path / ".oplog-lake").glob("*.json"))


def test_bad_options_are_one_clear_error(env: dict[str, str], lake: Path, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="earlier"):
        run_backfill(options(lake, tmp_path, until=SINCE), env)
    with pytest.raises(ValueError, match="set CBR_ENDPOINT"):
        run_backfill(options(lake, tmp_path), {"CBR_PROJECT_ID": PROJECT})
    with pytest.raises(ValueError, match="page size"):
        run_backfill(options(lake, tmp_path, page_size=1001), env)


# On the queue and on S3 (moto server on loopback)


def test_enqueue_sends_each_listed_id_once_in_batches_of_ten(
    fake: FakeCBR, tasks: dict[str, dict[str, Any]], env: dict[str, str], lake: Path,
    tmp_path: Path, aws: str,
) -> None:  # fmt: skip
    sqs = boto3.client("sqs")
    queue_url = sqs.create_queue(QueueName="backfill")["QueueUrl"]
    summary = run_backfill(options(lake, tmp_path, queue_url=queue_url, flush_rows=1000), env)
    bodies = []
    while answer := sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages"):
        bodies += [json.loads(m["Body"]) for m in answer]
        sqs.delete_message_batch(
            QueueUrl=queue_url,
            Entries=[
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(answer)
            ],
        )
    assert sorted(b["operation_log_id"] for b in bodies) == sorted(tasks)
    assert {b["project_id"] for b in bodies} == {PROJECT}
    assert summary["written"] == 25
    assert not lake.exists()  # nothing written to the lake in this mode


def test_a_backfill_into_an_s3_lake_adds_nothing_the_second_time(
    fake: FakeCBR, tasks: dict[str, dict[str, Any]], env: dict[str, str], tmp_path: Path, aws: str
) -> None:
    s3 = boto3.client("s3")
    s3.create_bucket(
        Bucket="lake", CreateBucketConfiguration={"LocationConstraint": "ap-southeast-1"}
    )
    uri = "s3://lake/audit"
    run_backfill(options(uri, tmp_path), env)
    first = s3.list_objects_v2(Bucket="lake")["KeyCount"]
    summary = run_backfill(options(uri, tmp_path), env)
    assert summary["written"] == 0
    assert s3.list_objects_v2(Bucket="lake")["KeyCount"] == first
    assert lake_ids(uri) == sorted(tasks)


def test_enqueue_to_a_queue_that_does_not_exist_is_one_clear_error(
    fake: FakeCBR, tasks: dict[str, dict[str, Any]], env: dict[str, str], lake: Path,
    tmp_path: Path, aws: str,
) -> None:  # fmt: skip
    sqs = boto3.client("sqs")
    gone = sqs.create_queue(QueueName="exists")["QueueUrl"].rsplit("/", 1)[0] + "/missing"
    with pytest.raises(BackfillError, match=r"messages not sent to .*/missing after 3 tries"):
        run_backfill(options(lake, tmp_path, queue_url=gone), env)
    checkpoint = json.loads((tmp_path / "checkpoint.json").read_text())
    assert checkpoint["position"]["slice"] == 0  # nothing sent, so no progress kept


def crowded(fake: FakeCBR, count: int, at: datetime) -> list[str]:
    logs = [make_log(300 + n, at + timedelta(milliseconds=11 * n)) for n in range(count)]
    for log in logs:
        fake.add_log(log)
    return [log["id"] for log in logs]


@pytest.mark.parametrize(
    "mode",
    [
        ListMode(cap=3),  # pages shorter than `limit` while `count` says more remain
        ListMode(cap=3, count="missing"),
        ListMode(cap=3, count="high"),
        ListMode(cap=3, count="low"),
        ListMode(order="shuffled", seed=8),
        ListMode(repeat_every=3),
        ListMode(extra_members=True),
        ListMode(leave_after=3, leaving=2),
        ListMode(outside=timedelta(seconds=1)),
    ],
    ids=["cap", "no-count", "count-high", "count-low", "shuffled", "repeats", "extra-members",
         "retention", "outside"],
)  # fmt: skip
def test_an_unkind_api_loses_no_task_it_still_lists(
    fake: FakeCBR,
    tasks: dict[str, dict[str, Any]],
    env: dict[str, str],
    lake: Path,
    tmp_path: Path,
    mode: ListMode,
) -> None:
    expected = {*tasks, *crowded(fake, 9, SINCE + timedelta(days=1, hours=13))}
    fake.listing.mode = mode
    summary = run_backfill(options(lake, tmp_path), env)
    still_listed = expected - fake.listing.gone
    assert still_listed <= set(lake_ids(lake))
    assert summary["received"] == summary["written"] + summary["known"] + summary["duplicates"]
    assert len(fake.list_requests()) < 200


def test_a_window_that_cannot_be_read_completely_stops_the_backfill_before_it(
    fake: FakeCBR, tasks: dict[str, dict[str, Any]], env: dict[str, str], lake: Path, tmp_path: Path
) -> None:
    crowded(fake, 9, SINCE + timedelta(days=1, hours=13))  # more than a page of 4 in one second
    fake.listing.mode = ListMode(ignore_offset=True)
    with pytest.raises(BackfillError, match="could not be read completely"):
        run_backfill(options(lake, tmp_path), env)
    checkpoint = json.loads((tmp_path / "checkpoint.json").read_text())
    assert checkpoint["position"]["slice"] <= 1  # the second day is listed again on resume
    assert len(fake.list_requests()) < 200


@pytest.mark.parametrize("auth", ["password", "ak-sk"])
def test_listing_behind_real_auth_holds_for_the_whole_run(
    tmp_path: Path, lake: Path, auth: str
) -> None:
    user = ("alice", "s3cret", "acme")
    with FakeCBR(require_auth=True, iam_users={user}, access_keys={"AKTEST": "SKTEST"}) as fake:
        ids = sorted(make_log(n, SINCE + timedelta(hours=2 * n))["id"] for n in range(20))
        for n in range(20):
            fake.add_log(make_log(n, SINCE + timedelta(hours=2 * n)))
        credentials = (
            {"IAM_ENDPOINT": fake.base_url, "IAM_USERNAME": "alice", "IAM_PASSWORD": "s3cret",
             "IAM_DOMAIN": "acme"}
            if auth == "password"
            else {"CBR_ACCESS_KEY": "AKTEST", "CBR_SECRET_KEY": "SKTEST"}
        )  # fmt: skip
        fake.on_list = lambda number: fake.revoke_tokens() if number == 3 else None
        env = {"CBR_ENDPOINT": fake.base_url, "CBR_PROJECT_ID": PROJECT, **credentials}
        run_backfill(options(lake, tmp_path), env)
        requests = fake.list_requests()
        if auth == "password":
            assert len(fake.token_requests()) == 2  # one refresh after the revocation
        else:
            assert all(r.headers["authorization"].startswith("SDK-HMAC-SHA256") for r in requests)
    assert lake_ids(lake) == ids


def test_a_backfill_and_a_verify_share_the_api_rate_limit(
    fake: FakeCBR, env: dict[str, str], lake: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    recent = datetime.now(UTC).replace(microsecond=0) - timedelta(days=3)
    logs = [make_log(n, recent + timedelta(hours=3 * n)) for n in range(12)]
    for log in logs:
        fake.add_log(log)
    fake.rate_cap = 6  # requests per second for every caller together, like the gateway
    env = {**env, "MAX_ATTEMPTS": "8"}
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    since, until = recent - timedelta(days=1), recent + timedelta(days=2)
    with ThreadPoolExecutor(2) as pool:
        filled = pool.submit(run_backfill, options(lake, tmp_path, since=since, until=until), env)
        checked = pool.submit(
            cli_main, ["verify", "--since", since.isoformat(), "--until", until.isoformat(),
                       "--lake", str(tmp_path / "other-lake"), "--format", "json"],
        )  # fmt: skip
        assert filled.result()["written"] == 12
        assert checked.result() == 1  # the other lake is empty: every task missing, none lost
    assert fake.throttled > 0 and lake_ids(lake) == sorted(log["id"] for log in logs)


def test_a_corrupt_lake_file_is_a_runtime_failure_naming_it(
    fake: FakeCBR, tasks: dict[str, dict[str, Any]], env: dict[str, str], lake: Path, tmp_path: Path
) -> None:
    bad = lake / "operation_logs" / "dt=2026-01-02" / f"part-{'0' * 32}.parquet"
    bad.parent.mkdir(parents=True)
    bad.write_bytes(b"PAR1 not a Parquet file")
    arguments = ["--since", "2026-01-01", "--until", "2026-01-03", "--lake", str(lake),
                 "--checkpoint", str(tmp_path / "checkpoint.json")]  # fmt: skip
    done = run_backfill_command(arguments, env, cwd=tmp_path)
    assert done.returncode == 1 and str(bad) in done.stderr
    assert "Traceback" not in done.stderr
