"""`python -m lib compact`: many small files with duplicates become a few with exactly the latest
rows, safely beside writers and crashes, on a local folder and on S3 (moto server)."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pyarrow as pa
import pytest

from handler import lambda_handler
from lib.aws.events import UnsupportedEvent
from lib.core.errors import ObjectMissing
from lib.ingest.flatten import flatten
from lib.lake.compact import Compactor, Selection
from lib.lake.s3 import S3Store
from lib.lake.storage import LocalStore, ObjectStore
from lib.lake.writer import Lake
from lib.ops import cli
from lib.reports.engine import run_report
from lib.reports.parameters import Request

from conftest import Context, fixture_logs, read_errors, read_rows

DAY = "2026-01-05"
TEMPLATE = next(iter(fixture_logs().values()))
BASE = datetime(2026, 1, 5, 8, tzinfo=UTC)


def snapshot(task: int, version: int, status: str = "running") -> dict[str, Any]:
    created = BASE + timedelta(minutes=task)
    return {
        **TEMPLATE,
        "id": f"task-{task:04d}",
        "status": status,
        "created_at": created.isoformat(),
        "updated_at": (created + timedelta(minutes=version)).isoformat(),
    }


def row(log: dict[str, Any], ingested_minute: int, message: str) -> dict[str, Any]:
    ingested = BASE + timedelta(hours=1, minutes=ingested_minute)
    return flatten(log, ingested_at=ingested, source_message_id=message)[0]


def error_row(n: int, observed_minute: int) -> dict[str, Any]:
    return {
        "operation_log_id": f"gone-{n}",
        "project_id": "p1",
        "source_message_id": f"msg-{n}",
        "reason": "not_found",
        "http_status": 404,
        "error_code": "BackupService.6500",
        "error_msg": "Operation log does not exist.",
        "raw_message": f"gone-{n}",
        "observed_at": BASE + timedelta(minutes=observed_minute),
    }


def write_small_files(store: ObjectStore, files: int = 200) -> None:
    """`files` writes of 3 rows over 150 tasks: newer snapshots, exact redeliveries, errors."""
    lake = Lake(store)
    for n in range(files):
        rows = [
            row(snapshot(n % 150, version=n // 150), n, f"m{n}"),  # tasks 0-49 get a 2nd version
            row(snapshot((n + 7) % 150, version=0), n, f"r{n}"),  # the same snapshot again
            row(snapshot(150 + n, 0, "success"), n, f"u{n}"),  # a task seen once
        ]
        # 20 writes of errors: 10 errors seen twice (redelivered), 20 seen once
        errors = [error_row(n // 10 % 10, n), error_row(100 + n, n)] if n % 10 == 0 else []
        lake.write(rows, errors)


def latest(lake: str) -> list[tuple[str, Any, Any, str]]:
    """The readers' latest view, through the report SQL."""
    window = Request(now=datetime.now(UTC), since=datetime(2000, 1, 1, tzinfo=UTC))
    rows = run_report("latest", lake, window).rows
    return sorted((r["id"], r["status"], r["updated_at"]) for r in rows)


def raw_latest(lake: str) -> list[tuple[str, Any, Any, str]]:
    return sorted((r["id"], r["status"], r["updated_at"]) for r in read_rows(lake))


def parquet_files(lake: Path) -> list[Path]:
    return sorted(lake.rglob("*.parquet"))


@pytest.fixture(scope="module")
def small_files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("small-files")
    write_small_files(LocalStore(folder))
    return folder


@pytest.fixture
def store(small_files: Path, lake: Path) -> LocalStore:
    shutil.copytree(small_files, lake)
    return LocalStore(lake)


def test_two_hundred_small_files_become_one_with_exactly_the_latest_rows(
    store: LocalStore, lake: Path
) -> None:
    before = latest(str(lake))
    assert len(list((lake / "operation_logs" / f"dt={DAY}").iterdir())) == 200
    assert len(read_rows(lake)) == 600 and len(before) == 350

    summary = Compactor(store).run(Selection(older_than_days=0)).as_dict()

    data_files = list((lake / "operation_logs").rglob("*.parquet"))
    assert len(data_files) == 1
    rows = read_rows(lake)
    assert len(rows) == len({r["id"] for r in rows}) == 350
    assert raw_latest(str(lake)) == before  # the lake itself now is the latest view
    by_id = {r["id"]: r for r in rows}
    for task in range(50):  # these had a second snapshot, written by a later file
        kept = by_id[f"task-{task:04d}"]
        assert json.loads(kept["raw_json"]) == json.loads(json.dumps(snapshot(task, 1)))
    errors = read_errors(lake)
    assert len(errors) == len({e["source_message_id"] for e in errors}) == 30
    assert summary["compacted"] == 2 and summary["rows_dropped"] == 250 + 10


def test_a_second_run_changes_nothing(store: LocalStore, lake: Path) -> None:
    Compactor(store).run(Selection(older_than_days=0))
    files = {p: p.stat().st_mtime_ns for p in parquet_files(lake)}
    summary = Compactor(store).run(Selection(older_than_days=0)).as_dict()
    assert {p: p.stat().st_mtime_ns for p in parquet_files(lake)} == files
    assert (summary["compacted"], summary["already_compact"]) == (0, 2)


def test_a_small_target_gives_files_of_at_least_that_size_and_stays_put(
    store: LocalStore, lake: Path
) -> None:
    before = latest(str(lake))
    target = 0.03  # MB; row groups of 40 rows, so files roll over at about the target
    Compactor(store, target_mb=target, row_group_rows=40).run(Selection(older_than_days=0))
    data_files = list((lake / "operation_logs").rglob("*.parquet"))
    assert 2 <= len(data_files) <= 8
    small = [p for p in data_files if p.stat().st_size < target * 2**20]
    assert len(small) <= 1  # only the last file can be short
    assert raw_latest(str(lake)) == before
    again = Compactor(store, target_mb=target, row_group_rows=40).run(Selection(older_than_days=0))
    assert again.as_dict()["compacted"] == 0


def test_keep_history_keeps_each_snapshot_once(store: LocalStore, lake: Path) -> None:
    Compactor(store, keep_history=True).run(Selection(older_than_days=0))
    rows = read_rows(lake)
    snapshots = {(r["id"], r["updated_at"]) for r in rows}
    assert len(rows) == len(snapshots) == 400  # 350 tasks, 50 of them with two snapshots
    assert latest(str(lake)) == raw_latest_of(rows)


def raw_latest_of(rows: list[dict[str, Any]]) -> list[tuple[str, Any, Any]]:
    best: dict[str, dict[str, Any]] = {}
    for r in rows:
        if r["id"] not in best or r["updated_at"] > best[r["id"]]["updated_at"]:
            best[r["id"]] = r
    return sorted((r["id"], r["status"], r["updated_at"]) for r in best.values())


class WriterDuringRead(LocalStore):
    """A store where another writer adds a file to the partition while compaction reads."""

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.added = False

    def get(self, key: str) -> bytes:
        if not self.added:
            self.added = True
            late = {**snapshot(0, 9, "success"), "id": "task-late"}  # same day, a new task
            Lake(LocalStore(self.root)).write([row(late, 0, "late")], [])
        return super().get(key)


def test_a_file_written_during_compaction_survives(store: LocalStore, lake: Path) -> None:
    before = latest(str(lake))
    Compactor(WriterDuringRead(lake)).run(Selection(day=datetime(2026, 1, 5).date()))
    assert len(list((lake / "operation_logs").rglob("*.parquet"))) == 2
    after = latest(str(lake))
    assert [t for t in after if t[0] != "task-late"] == before
    assert [t[:2] for t in after if t[0] == "task-late"] == [("task-late", "success")]


class Crash(BaseException):
    """The process dies here."""


class CrashOnDelete(LocalStore):
    def delete(self, key: str) -> None:
        raise Crash


def test_a_crash_between_writing_and_deleting_loses_nothing(store: LocalStore, lake: Path) -> None:
    before = latest(str(lake))
    with pytest.raises(Crash):
        Compactor(CrashOnDelete(lake)).run(Selection(older_than_days=0))
    assert len(list((lake / "operation_logs").rglob("*.parquet"))) == 201  # new file, old ones
    assert latest(str(lake)) == before  # readers see the same tasks
    Compactor(store).run(Selection(older_than_days=0))  # the next run finishes the job
    assert len(list((lake / "operation_logs").rglob("*.parquet"))) == 1
    assert raw_latest(str(lake)) == before


class VanishingFile(LocalStore):
    """Another compaction removes a file between our listing and our reading it."""

    def get(self, key: str) -> bytes:
        if "operation_logs" in key:
            raise ObjectMissing(f"{key} is gone")
        return super().get(key)


def test_a_partition_changed_by_another_compaction_is_left_alone(
    store: LocalStore, lake: Path
) -> None:
    files = parquet_files(lake)
    summary = Compactor(VanishingFile(lake)).run(Selection(older_than_days=0)).as_dict()
    assert summary["changed_meanwhile"] == 1
    assert [p for p in parquet_files(lake) if "operation_logs/" in str(p)] == [
        p for p in files if "operation_logs/" in str(p)
    ]


def test_partitions_are_chosen_by_day_or_age(lake: Path) -> None:
    store = LocalStore(lake)
    write_small_files(store, files=4)
    today = datetime.now(UTC)
    Lake(store).write([row({**snapshot(500, 0), "created_at": today.isoformat()}, 0, "a")], [])
    Lake(store).write([row({**snapshot(501, 0), "created_at": today.isoformat()}, 0, "b")], [])
    summary = Compactor(store).run(Selection(older_than_days=1)).as_dict()
    assert summary["partitions_seen"] == 2  # 2026-01-05 for both tables, not today
    assert len(list((lake / "operation_logs" / f"dt={today.date()}").iterdir())) == 2
    assert cli.main(["compact", "--lake", str(lake), "--dt", today.date().isoformat()]) == 0
    assert len(list((lake / "operation_logs" / f"dt={today.date()}").iterdir())) == 1
    assert cli.main(["compact", "--lake", str(lake), "--dt", "yesterday"]) == 2


def test_a_scheduled_compaction_event_needs_only_the_lake(
    store: LocalStore, lake: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Inside Lambda, without any CBR setting: compaction must not need them.
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "oplog-lake-compact")
    monkeypatch.setenv("LAKE_URI", str(lake))
    monkeypatch.delenv("CBR_ENDPOINT", raising=False)
    response = lambda_handler({"action": "compact", "older_than_days": 0}, Context())
    assert (response["compacted"], response["files_out"]) == (2, 2)
    with pytest.raises(UnsupportedEvent, match="older_than_days"):
        lambda_handler({"action": "compact", "older_than_days": "1"}, Context())


def test_an_s3_lake_is_compacted_the_same_way(aws: str) -> None:
    client = boto3.client("s3")
    client.create_bucket(
        Bucket="lake", CreateBucketConfiguration={"LocationConstraint": "ap-southeast-1"}
    )
    store = S3Store(client, "lake", "audit")
    write_small_files(store, files=30)
    before = latest("s3://lake/audit")
    summary = Compactor(store).run(Selection(older_than_days=0)).as_dict()
    keys = [o["Key"] for o in client.list_objects_v2(Bucket="lake")["Contents"]]
    assert len([k for k in keys if "/operation_logs/" in k]) == 1
    assert raw_latest("s3://lake/audit") == before
    assert summary["files_in"] == 33 and summary["files_out"] == 2
    again = Compactor(store).run(Selection(older_than_days=0)).as_dict()
    assert again["compacted"] == 0


def test_the_first_pass_keys_on_fixed_size_digests_not_on_bodies(tmp_path: Path) -> None:
    """Error rows carrying 40 KB bodies: the key index of the first pass holds a 32-byte digest
    per row in place of raw_message (and of raw_json with --keep-history), so its memory does not
    grow with the bodies; rows equal but for their body stay apart, equal bodies are merged."""
    store = LocalStore(tmp_path / "lake")
    lake = Lake(store)
    body = "x" * 40_000
    for n in range(4):
        rows = [
            {**error_row(0, n), "operation_log_id": None, "raw_message": body + str(n % 2)},
            {**error_row(1, n), "raw_message": body},
        ]
        lake.write([], rows)
    for keep_history in (True, False):
        compactor = Compactor(store, keep_history=keep_history)
        for rule in compactor.rules:
            keys = compactor.partitions(rule.table).get(BASE.date().isoformat(), [])
            if not keys:
                continue
            index, _ = compactor._read_keys(rule, keys)
            for name in ("raw_message", "raw_json"):
                if name in index.column_names:
                    assert index.schema.field(name).type == pa.binary(32)
    summary = Compactor(store).run(Selection(day=BASE.date()))
    assert summary.as_dict()["failed"] == 0
    errors = read_errors(tmp_path / "lake")
    assert sorted((str(e["operation_log_id"]), e["raw_message"][-1]) for e in errors) == [
        ("None", "0"),
        ("None", "1"),
        ("gone-1", "x"),
    ]
    assert all(len(e["raw_message"]) in (40_000, 40_001) for e in errors)  # bodies kept whole


def test_keep_history_keeps_a_snapshot_once_however_its_raw_json_was_spelled(
    tmp_path: Path,
) -> None:
    """Rows written before the batch path (raw_json re-serialised) and after (the API's own text)
    hold the same snapshot: --keep-history keys on content, not spelling."""
    lake = tmp_path / "lake"
    log = snapshot(1, 1)
    compact_row, spelled_row = row(log, 1, "m1"), row(log, 2, "m2")
    spelled_row["raw_json"] = json.dumps(log, indent=2)  # the same content, spelled otherwise
    other = row({**log, "status": "success"}, 3, "m3")
    other["updated_at"] = compact_row["updated_at"]  # same id and time, other content
    for n, one in enumerate((compact_row, spelled_row, other), start=2):
        # beside another task each time, as SQS batches write them: three files
        Lake(LocalStore(lake)).write([one, row(snapshot(n, 1), n, f"m{n}")], [])
    assert len(read_rows(lake)) == 6
    Compactor(LocalStore(lake), keep_history=True).run(Selection(older_than_days=0))
    kept = [r for r in read_rows(lake) if r["id"] == log["id"]]
    assert sorted(r["status"] for r in kept) == ["running", "success"]
