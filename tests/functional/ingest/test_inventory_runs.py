"""Inventory runs as they are deployed and operated: auth, an S3 lake, the Lambda event, the CLI,
the offline replay of events/inventory, and reading snapshots back as of a time."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pyarrow.parquet as pq
import pytest

from lib.aws.app import App, Root
from lib.core.runtime import Deadline
from lib.core.settings import AccessKey, IamPassword, LakeLocation, Settings
from lib.ingest.inventory.snapshot import ProjectSnapshot
from lib.lake.snapshots import Snapshots, read_inventory, remove_expired
from lib.lake.storage import LocalStore, open_store

from conftest import EVENTS, PROJECT, ROOT, Context, run_handler_script
from fake_inventory import FakeInventory, populate
from fakecbr import FakeCBR

OTHER = "0a1b2c3d4e5f60718293a4b5c6d7e8f9"


@pytest.fixture
def inventory(fake: FakeCBR) -> FakeInventory:
    fake.inventory = FakeInventory()
    return fake.inventory


def run(
    settings: Settings, projects: tuple[str, ...] = (PROJECT,), **changes: Any
) -> list[ProjectSnapshot]:
    root = Root(replace(settings, **changes))
    return root.inventory.run(projects, Deadline.after(60))


def cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("CBR_", "IAM_", "LAKE_"))}
    return subprocess.run(
        [sys.executable, "-m", "lib", "inventory", *args],
        cwd=ROOT,
        env={**clean, "LOG_LEVEL": "WARNING", **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_password_auth_refreshes_a_token_that_expires_in_the_middle_of_a_snapshot(
    lake: Path,
) -> None:
    with FakeCBR(require_auth=True, iam_users=[("auditor", "s3cret-pass", "acme")]) as fake:
        fake.inventory = FakeInventory()
        account = populate(fake.inventory, PROJECT, vaults=3, servers=70, backups=10)
        fake.inventory.on_request = lambda name, n: (
            fake.revoke_tokens() if name == "protectables" and n == 2 else None
        )
        settings = Settings(
            cbr_endpoint=fake.base_url,
            iam=IamPassword(fake.base_url, "auditor", "acme", "s3cret-pass"),
            lake_uri=str(lake),
            backoff_base_s=0.01,
        )
        (done,) = run(settings)
        assert done.published, done.error
        assert len(fake.token_requests()) == 2  # the first token, and one refresh
    view = read_inventory(LocalStore(lake))
    assert view.tables["protectables"].num_rows == len(account.protectables["server"])


def test_access_key_signing_covers_the_list_queries(lake: Path) -> None:
    with FakeCBR(access_keys={"AKTEST": "sk-test-secret"}, require_auth=True) as fake:
        fake.inventory = FakeInventory()
        populate(fake.inventory, PROJECT, vaults=2, servers=60, backups=1500)
        settings = Settings(
            cbr_endpoint=fake.base_url,
            access_key=AccessKey("AKTEST", "sk-test-secret"),
            lake_uri=str(lake),
        )
        (done,) = run(settings)  # the fake checks every signature, query string included
        assert done.published, done.error
        assert any("marker=" in r.path for r in fake.requests)
        assert any("offset=1000" in r.path for r in fake.requests)


def test_a_snapshot_into_an_s3_lake_is_read_back_through_the_store(
    aws: str, settings: Settings, inventory: FakeInventory
) -> None:
    boto3.client("s3").create_bucket(
        Bucket="audit-lake", CreateBucketConfiguration={"LocationConstraint": "ap-southeast-1"}
    )
    account = populate(inventory, PROJECT, vaults=3, servers=20, backups=300)
    (first,) = run(settings, lake_uri="s3://audit-lake/cbr")
    account.backups.pop()
    (second,) = run(settings, lake_uri="s3://audit-lake/cbr")

    store = open_store(LakeLocation("s3://audit-lake/cbr"))
    assert [s.snapshot_id for s in Snapshots(store).history(PROJECT)] == [
        first.snapshot_id,
        second.snapshot_id,
    ]
    view = read_inventory(store)
    assert [s.snapshot_id for s in view.snapshots] == [second.snapshot_id]
    assert view.tables["backups"].num_rows == 299
    keys = boto3.client("s3").list_objects_v2(Bucket="audit-lake", Prefix="cbr/inventory/backups/")
    assert len(keys["Contents"]) == 2  # one file per snapshot


def test_the_lambda_event_takes_a_snapshot_of_every_project(
    settings: Settings, lake: Path, inventory: FakeInventory
) -> None:
    populate(inventory, PROJECT, vaults=2, servers=8, backups=20)
    populate(inventory, OTHER, vaults=1, servers=3, backups=4)
    app = App.from_settings(replace(settings, project_ids=(PROJECT, OTHER)))

    response = app.handle({"action": "inventory"}, Context())

    assert (response["snapshots"], response["inventory_failures"]) == (2, 0)
    assert [p["project_id"] for p in response["projects"]] == [PROJECT, OTHER]
    view = read_inventory(LocalStore(lake))
    assert sorted(s.project_id for s in view.snapshots) == sorted([PROJECT, OTHER])
    assert view.tables["backups"].num_rows == 24


def test_the_cli_says_what_it_did_and_exits_one_when_a_project_failed(
    fake: FakeCBR, lake: Path, inventory: FakeInventory
) -> None:
    populate(inventory, PROJECT, vaults=2, servers=8, backups=20)
    env = {
        "CBR_ENDPOINT": fake.base_url,
        "CBR_PROJECT_IDS": f"{PROJECT},{OTHER}",
        "MAX_ATTEMPTS": "1",
    }

    good = cli("--lake", str(lake), env=env)
    assert good.returncode == 0, good.stderr
    assert f"{PROJECT}: snapshot " in good.stdout and "is published" in good.stdout
    assert "Rows per table:" in good.stdout
    assert "inventory snapshot done" not in good.stderr  # said once, as a sentence
    assert re.search(r"taken at \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ is published", good.stdout)

    inventory.quirk("vaults", ignore_offset=True, page_cap=1)
    failed = cli("--lake", str(lake), "--project", PROJECT, "--format", "json", env=env)
    assert failed.returncode == 1, failed.stderr
    summary = json.loads(failed.stdout)
    (project,) = summary["projects"]
    assert (project["stopped_by"], project["published"]) == ("list_incomplete", False)
    assert project["in_force"] is not None  # the snapshot of the first run stays in force
    assert "Traceback" not in failed.stderr


@pytest.mark.parametrize(
    ("args", "env", "message"),
    [
        (["--project", "not an id"], {}, "--project must be"),
        ([], {"CBR_ENDPOINT": "http://127.0.0.1:9"}, "Name the projects"),
        ([], {"INVENTORY_TYPES": "server,tape"}, "INVENTORY_TYPES must be some of"),
    ],
)
def test_usage_and_configuration_errors_exit_two_in_one_sentence(
    lake: Path, args: list[str], env: dict[str, str], message: str
) -> None:
    result = cli("--lake", str(lake), *args, env=env)
    assert result.returncode == 2
    assert message in result.stderr and "Traceback" not in result.stderr


def test_the_sample_inventory_replays_offline_without_drift(tmp_path: Path) -> None:
    """`python handler.py events/inventory.json` with no setting at all, as `make demo` runs it."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("CBR_", "IAM_", "LAKE_"))}
    result = run_handler_script(
        "events/inventory.json", {**clean, "LAKE_URI": str(tmp_path / "lake")}
    )
    assert result.returncode == 0, result.stderr
    response = json.loads(result.stdout[: result.stdout.rindex("}") + 1])
    assert (response["snapshots"], response["drift"], response["nulled"]) == (2, 0, 0)
    view = read_inventory(LocalStore(tmp_path / "lake"))
    for project in (PROJECT, OTHER):
        folder = EVENTS / "inventory" / project
        served = {
            "vaults": json.loads((folder / "vaults.json").read_text())["vaults"],
            "backups": json.loads((folder / "backups.json").read_text())["backups"],
        }
        for table, objects in served.items():
            rows = [r for r in view.tables[table].to_pylist() if r["project_id"] == project]
            assert sorted(r["id"] for r in rows) == sorted(o["id"] for o in objects)
            assert all(json.loads(r["raw_json"]) in objects for r in rows)


def test_readers_take_the_latest_snapshot_at_or_before_the_time_they_evaluate(
    settings: Settings, lake: Path, inventory: FakeInventory
) -> None:
    account = populate(inventory, PROJECT, vaults=2, servers=6, backups=3)
    times = iter(datetime(2026, 11, day, 6, tzinfo=UTC) for day in (1, 2, 3))
    root = Root(replace(settings, lake_uri=str(lake)))
    root.inventory.clock = lambda: next(times)
    (first,) = root.inventory.run([PROJECT], Deadline.after(60))
    account.backups.pop()
    (second,) = root.inventory.run([PROJECT], Deadline.after(60))
    inventory.quirk("backups", ignore_offset=True, page_cap=1)
    (third,) = root.inventory.run([PROJECT], Deadline.after(60))
    assert (first.published, second.published, third.published) == (True, True, False)

    store = LocalStore(lake)
    as_of = {
        day: [
            s.snapshot_id
            for s in read_inventory(store, at=datetime(2026, 11, day, 12, tzinfo=UTC)).snapshots
        ]
        for day in (1, 2, 3)
    }
    assert as_of == {1: [first.snapshot_id], 2: [second.snapshot_id], 3: [second.snapshot_id]}
    assert read_inventory(store, at=datetime(2026, 10, 31, tzinfo=UTC)).snapshots == []
    day_one = read_inventory(store, at=datetime(2026, 11, 1, 6, tzinfo=UTC))  # at the instant
    assert day_one.tables["backups"].num_rows == 3
    assert set(day_one.tables["backups"].column("snapshot_id").to_pylist()) == {first.snapshot_id}


def test_retention_removes_old_snapshots_and_stray_files_but_never_the_latest(
    settings: Settings, lake: Path, inventory: FakeInventory
) -> None:
    populate(inventory, PROJECT, vaults=2, servers=6, backups=3)
    populate(inventory, OTHER, vaults=1, servers=2, backups=1)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    times = iter(start + timedelta(days=n) for n in range(10))
    root = Root(replace(settings, lake_uri=str(lake)))
    root.inventory.clock = lambda: next(times)
    old, kept = (root.inventory.run([PROJECT], Deadline.after(60))[0] for _ in range(2))
    (alone,) = root.inventory.run([OTHER], Deadline.after(60))  # an old one, but its latest
    stray = (
        lake
        / "inventory"
        / "backups"
        / "dt=2026-01-01"
        / "part-0123456789abcdef0123456789abcdef.parquet"
    )
    stray.write_bytes(b"left by a run that failed")

    removed = remove_expired(
        LocalStore(lake), keep_days=30, now=start + timedelta(days=31, hours=12)
    )

    assert removed == {"inventory_snapshots_removed": 1, "inventory_files_removed": 6}
    ledger = Snapshots(LocalStore(lake))
    assert [s.snapshot_id for s in ledger.history(PROJECT)] == [kept.snapshot_id]
    assert [s.snapshot_id for s in ledger.history(OTHER)] == [alone.snapshot_id]
    assert not stray.exists() and old.snapshot_id not in json.dumps(
        [str(p) for p in lake.rglob("*")]
    )
    remaining = [p for p in lake.rglob("*.parquet")]
    assert {pq.read_table(p)["snapshot_id"][0].as_py() for p in remaining} == {
        kept.snapshot_id,
        alone.snapshot_id,
    }


def test_two_runs_at_once_both_publish_and_neither_is_lost(
    fake: FakeCBR, settings: Settings, lake: Path, inventory: FakeInventory
) -> None:
    populate(inventory, PROJECT, vaults=2, servers=60, backups=1200)
    fake.latency = 0.01
    runs: list[ProjectSnapshot] = []
    threads = [threading.Thread(target=lambda: runs.extend(run(settings))) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert len(runs) == 2 and all(r.published for r in runs)
    history = Snapshots(LocalStore(lake)).history(PROJECT)
    assert sorted(s.snapshot_id for s in history) == sorted(r.snapshot_id for r in runs)


def test_every_compaction_removes_snapshots_past_inventory_keep_days(
    settings: Settings,
    lake: Path,
    inventory: FakeInventory,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from handler import lambda_handler
    from lib.ops import cli

    populate(inventory, PROJECT, vaults=1, servers=2, backups=2)
    times = iter(datetime(2026, 1, day, tzinfo=UTC) for day in range(1, 10))
    root = Root(replace(settings, lake_uri=str(lake)))
    root.inventory.clock = lambda: next(times)
    first, second, third = (root.inventory.run([PROJECT], Deadline.after(60))[0] for _ in range(3))
    monkeypatch.setenv("LAKE_URI", str(lake))
    monkeypatch.setenv("INVENTORY_KEEP_DAYS", "1")

    response = lambda_handler({"action": "compact", "older_than_days": 0}, Context())
    assert response["inventory_snapshots_removed"] == 2
    assert [s.snapshot_id for s in Snapshots(LocalStore(lake)).history(PROJECT)] == [
        third.snapshot_id
    ]

    (fourth,) = root.inventory.run([PROJECT], Deadline.after(60))
    compact = ["compact", "--lake", str(lake), "--older-than-days", "0", "--format", "json"]
    assert cli.main(compact) == 0
    assert json.loads(capsys.readouterr().out)["inventory_snapshots_removed"] == 1
    assert [s.snapshot_id for s in Snapshots(LocalStore(lake)).history(PROJECT)] == [
        fourth.snapshot_id
    ]
    assert {first.snapshot_id, second.snapshot_id}.isdisjoint(
        pq.read_table(p)["snapshot_id"][0].as_py() for p in lake.rglob("*.parquet")
    )
