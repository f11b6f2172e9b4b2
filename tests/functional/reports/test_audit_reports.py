"""The evidence reports behind the controls (adherence, restores, deletions) and the lake's
coverage with its discovery watermark, over the known lake of audit_lake.py, in json and table."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from audit_lake import PERIOD, PROJECT, write_audit_lake, write_watermark

from lib.ops.cli import main


@pytest.fixture(scope="module")
def lake(tmp_path_factory: pytest.TempPathFactory) -> str:
    root = tmp_path_factory.mktemp("evidence") / "lake"
    write_audit_lake(root)
    write_watermark(root, PROJECT, "2026-11-20T06:00:00Z")
    return str(root)


def run(lake: str, capsys: pytest.CaptureFixture[str], *args: str) -> Any:
    code = main(["report", *args, "--lake", lake, *PERIOD, "--format", "json"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    return json.loads(captured.out)["rows"]


def test_adherence_has_one_row_per_resource_and_full_day_from_its_first_backup(
    lake: str, capsys
) -> None:
    rows = run(lake, capsys, "adherence")
    days = {}
    for row in rows:
        days.setdefault(row["resource_id"], []).append(row["day"])
    assert {r: len(d) for r, d in days.items()} == {
        "web-01": 30,
        "db-01": 4,
        "file-01": 30,  # first backed up before the period: every day of it, all missed
        "app-01": 11,
        "new-01": 1,
    }  # old-vol has no backup task: no day to judge
    db = [
        (r["day"], r["backups"], r["successes"], r["failures"])
        for r in rows
        if r["resource_id"] == "db-01"
    ]
    assert db == [
        ("2026-11-27", 1, 1, 0),
        ("2026-11-28", 1, 0, 1),  # only a failed backup
        ("2026-11-29", 1, 1, 0),
        ("2026-11-30", 1, 0, 0),  # still running
    ]
    failed = [r for r in rows if r["day"] == "2026-11-28" and r["resource_id"] == "db-01"]
    assert failed[0]["failure_ids"] == "db-b28" and failed[0]["success_ids"] is None
    assert all(r["successes"] == 0 for r in rows if r["resource_id"] == "file-01")


def test_restores_name_the_backup_its_resource_and_the_duration(lake: str, capsys) -> None:
    rows = run(lake, capsys, "restores")
    assert [r["id"] for r in rows] == ["web-rst", "app-rst"]  # db-rst was in August
    web, app = rows
    assert (web["resource_id"], web["backup_id"], web["backup_resource_id"]) == (
        None,
        "bk-web-b15",
        "web-01",
    )
    assert web["target_resource_id"] == "target-vm" and web["status"] == "success"
    assert (web["duration_s"], app["duration_s"]) == (1800.0, 48000.0)  # raw seconds in json

    assert main(["report", "restores", "--lake", lake, *PERIOD]) == 0
    table = capsys.readouterr().out
    assert "30 min 00 s" in table and "13 h 20 min" in table  # durations as people read them


def test_deletions_give_the_backups_age_when_its_creation_is_in_the_lake(lake: str, capsys) -> None:
    rows = run(lake, capsys, "deletions")
    ages = {r["id"]: (r["resource_id"], r["backup_task_id"], r["backup_age_s"]) for r in rows}
    assert list(ages) == ["file-del", "old-del", "web-del01", "app-del21"]  # by created_at
    assert ages == {
        "file-del": ("file-01", None, None),  # the backup was made before the lake begins
        "old-del": ("old-vol", None, None),
        "web-del01": ("web-01", "web-b01", 1590660.0),  # 18 d 09 h 51 min
        "app-del21": ("app-01", "app-b21", 517860.0),  # 5 d 23 h 51 min: under 7 days
    }
    assert {r["operation_type"] for r in rows} == {"delete"}

    assert main(["report", "deletions", "--lake", lake, *PERIOD]) == 0
    table = capsys.readouterr().out
    assert "5 d 23 h" in table and "18 d 09 h" in table


def test_coverage_per_day_with_unfinished_tasks_errors_and_the_watermark(lake: str, capsys) -> None:
    rows = run(lake, capsys, "coverage")
    ours = {r["day"]: r for r in rows if r["project_id"] == PROJECT}
    assert len(ours) == 30  # every day of November, also the ones without tasks
    last = ours["2026-11-30"]
    assert (last["tasks"], last["unfinished"]) == (6, 2)
    assert ours["2026-11-12"]["error_rows"] == 1
    assert ours["2026-11-12"]["error_reasons"] == "not_found: 1"
    assert ours["2026-11-19"]["watermark"] == "2026-11-20T06:00:00Z"
    states = [ours[d]["proven"] for d in ("2026-11-19", "2026-11-20", "2026-11-21")]
    assert states == ["discovery", "partly", "not"]  # listed from Oct 1 to the watermark
    unowned = [r for r in rows if r["project_id"] is None]  # errors naming no project
    assert [(r["day"], r["error_reasons"]) for r in unowned] == [
        ("2026-11-12", "invalid_message: 1")
    ]


def test_coverage_without_discovery_state_says_so_and_unreadable_state_is_named(
    tmp_path: Path, capsys
) -> None:
    root = tmp_path / "lake"
    write_audit_lake(root)
    rows = run(str(root), capsys, "coverage")
    assert {r["proven"] for r in rows} == {"not"}

    # A first discovery pass still running holds a lease but no watermark yet: nothing listed.
    lease = '{"lease": {"owner": "run-1", "until": "2026-12-01T00:10:00Z"}}'
    (root / "_state" / "discover").mkdir(parents=True)
    (root / "_state" / "discover" / f"{PROJECT}.json").write_text(lease)
    rows = run(str(root), capsys, "coverage")
    assert {r["proven"] for r in rows} == {"not"}
    (root / "_state" / "discover" / "p-bad.json").write_text("{half")
    assert main(["report", "coverage", "--lake", str(root), *PERIOD]) == 0
    captured = capsys.readouterr()
    assert "note: the discovery state _state/discover/p-bad.json in " in captured.err
    assert "note: the discovery state" in captured.out  # stated with the table too

    # A watermark later than now would call tasks still to come listed: never read as complete.
    future = '{"watermark": "2099-01-01T00:00:00Z", "listed_from": "2026-10-01T00:00:00Z"}'
    (root / "_state" / "discover" / f"{PROJECT}.json").write_text(future)
    rows = run(str(root), capsys, "coverage")
    assert {r["proven"] for r in rows} == {"not"}
    assert {r["watermark"] for r in rows} == {None}
    assert main(["report", "coverage", "--lake", str(root), *PERIOD]) == 0
    assert f"_state/discover/{PROJECT}.json in {root} names 2099-01-01T00:00:00Z" in (
        capsys.readouterr().err
    )
