"""The inventory reports (unprotected, inventory, restore-points) over the hand-written inventory
(inventory_lake.py), in every format, from a local and an S3 lake, and without an inventory."""

from __future__ import annotations

import csv
import io
import json
import re
import shutil
import subprocess
import sys
from datetime import UTC, datetime
from html import unescape
from pathlib import Path
from typing import Any

import boto3
import pytest
from audit_lake import write_audit_lake
from inventory_lake import IN_FORCE_AT, PROJECT, answers_in_force, snapshot, write_inventory_lake

from lib.ops.cli import main

from conftest import ROOT

NOW = ["--now", "2026-12-01T00:00:00Z"]  # the snapshot of Nov 30 is in force, Dec 2's is not
IN_FORCE = "2026-11-30T06:00:00Z"
UNPROTECTED = [
    (
        "disk-bad",
        "OS::Cinder::Volume",
        "error",
        None,
        "in no vault; CBR cannot protect it: "
        "BackupService.6320 The disk is in the error state and cannot be backed up.",
    ),
    ("srv-never", "OS::Nova::Server", "active", None, "in no vault"),
    (
        "srv-ghost",
        "OS::Nova::Server",
        "active",
        "v-gone",
        "its vault v-gone is not in the snapshot",
    ),
    (
        "file-01",
        "OS::Sfs::Turbo",
        "active",
        "v-file-name",
        "vault v-file-name has no backup policy",
    ),
    (
        "app-01",
        "OS::Nova::Server",
        "active",
        "v-app-name",
        "the backup policy pol-off-name of vault v-app-name is disabled",
    ),
]


@pytest.fixture(scope="module")
def lake(tmp_path_factory: pytest.TempPathFactory) -> str:
    return write_inventory_lake(tmp_path_factory.mktemp("inventory"))


def report(lake: str, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[str, str]:
    code = main(["report", *args, "--lake", lake, *NOW])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    return captured.out, captured.err


def as_json(lake: str, capsys, name: str) -> list[dict[str, Any]]:
    return json.loads(report(lake, capsys, name, "--format", "json")[0])["rows"]


def test_unprotected_lists_every_resource_in_no_vault_or_without_an_enabled_policy(lake, capsys):
    rows = as_json(lake, capsys, "unprotected")
    assert [
        (r["resource_id"], r["resource_type"], r["status"], r["vault_name"], r["why"]) for r in rows
    ] == UNPROTECTED
    assert {(r["project_id"], r["snapshot_at"], r["resource_name"]) for r in rows} == {
        (PROJECT, IN_FORCE, f"{r[0]}.example") for r in UNPROTECTED
    }


def test_unprotected_as_csv_table_and_html(lake, capsys, tmp_path: Path) -> None:
    text, said = report(lake, capsys, "unprotected", "--format", "csv")
    read = list(csv.DictReader(io.StringIO(text)))
    assert [r["resource_id"] for r in read] == [r[0] for r in UNPROTECTED]
    assert read[0]["why"].startswith("in no vault; CBR cannot protect it")
    assert read[0]["snapshot_at"] == IN_FORCE and read[1]["vault_name"] == ""
    assert "note: inventory of p-audit: snapshot 20261130T060000Z-" in said
    table, _ = report(lake, capsys, "unprotected")
    head, body = table.split("\n\n", 1)
    assert (
        "Unprotected resources [unprotected]" in head
        and "evaluated at: 2026-12-01T00:00:00Z" in head
    )
    assert "note: inventory of p-audit: snapshot 20261130T060000Z-" in head
    assert [line.split()[3] for line in body.strip().splitlines()[1:]] == [
        r[0] for r in UNPROTECTED
    ]
    out = tmp_path / "unprotected.html"
    report(lake, capsys, "unprotected", "--format", "html", "--out", str(out))
    cells = [
        unescape(re.sub(r"<[^>]+>", "", cell))
        for cell in re.findall(r"<td [^>]*>(.*?)</td>", out.read_text())
    ]
    for resource, _kind, _status, _vault, why in UNPROTECTED:
        assert resource in cells and why in cells


def test_inventory_states_each_vault_with_its_policy(lake, capsys) -> None:
    rows = {r["vault_id"]: r for r in as_json(lake, capsys, "inventory")}
    assert sorted(rows) == ["v-app", "v-db", "v-few", "v-file", "v-keep", "v-new", "v-web"]
    web = rows["v-web"]
    assert (web["size_gb"], web["used_gb"], web["used_rate"], web["locked"]) == (
        1000,
        500,
        0.5,
        True,
    )
    assert (web["policy_name"], web["policy_enabled"], web["hours_longest_gap"]) == (
        "pol-daily-name",
        True,
        12,
    )
    assert web["schedule"] == (
        "FREQ=DAILY;INTERVAL=1;BYHOUR=2;BYMINUTE=00; FREQ=DAILY;INTERVAL=1;BYHOUR=14;BYMINUTE=00"
    )
    assert (web["retention"], web["resources"], web["snapshot_at"]) == ("30 days", 1, IN_FORCE)
    assert (rows["v-db"]["retention"], rows["v-db"]["used_rate"]) == ("the last 4 backups", 0.95)
    assert rows["v-keep"]["retention"] == "for ever"
    assert rows["v-app"]["policy_enabled"] is False
    assert rows["v-new"]["hours_longest_gap"] is None  # an unread schedule is never guessed
    file_vault = rows["v-file"]
    assert (file_vault["policy_name"], file_vault["size_gb"], file_vault["used_rate"]) == (
        None,
    ) * 3
    table, _ = report(lake, capsys, "inventory")
    line = next(line for line in table.splitlines() if " v-web " in line)
    assert "50 %" in line and "12 h 00 min" in line


def test_restore_points_per_resource_with_those_without_one_first(lake, capsys) -> None:
    rows = as_json(lake, capsys, "restore-points")
    by_id = {r["resource_id"]: r for r in rows}
    none = ["disk-bad", "file-01", "new-01", "srv-ever", "srv-few", "srv-ghost", "srv-never"]
    assert sorted(r["resource_id"] for r in rows[: len(none)]) == none
    assert [r["resource_id"] for r in rows[len(none) :]] == ["db-01", "app-01", "web-01"]
    web = by_id["web-01"]
    assert (web["restore_points"], web["automatic"], web["manual"], web["encrypted"]) == (
        2,
        1,
        1,
        2,
    )
    assert (web["newest_at"], web["oldest_at"], web["next_expiry_at"]) == (
        "2026-11-29T22:10:00Z",
        "2026-11-20T14:00:00Z",
        "2026-12-29T22:10:00Z",
    )
    assert (by_id["file-01"]["restore_points"], by_id["file-01"]["not_available"]) == (0, 1)
    assert by_id["srv-never"]["newest_at"] is None and "old-vol" not in by_id
    text, _ = report(lake, capsys, "restore-points", "--format", "csv")
    assert text.splitlines()[0].split(",")[:6] == [
        "project_id",
        "resource_type",
        "resource_name",
        "resource_id",
        "vault_name",
        "restore_points",
    ]


def test_report_all_runs_them_when_the_lake_has_an_inventory(lake, capsys) -> None:
    document = json.loads(report(lake, capsys, "all", "--format", "json")[0])
    assert {"unprotected", "inventory", "restore-points"} <= set(document)
    assert len(document["unprotected"]["rows"]) == len(UNPROTECTED)


def test_a_lake_with_only_an_inventory_runs_every_report_and_says_it_has_no_logs(
    tmp_path, capsys
) -> None:
    # A project where nothing was ever backed up has an inventory and no operation logs: the
    # audit must still see its unprotected resources, not refuse the lake.
    lake = tmp_path / "lake"
    snapshot(lake, tmp_path / "replay", PROJECT, answers_in_force(), IN_FORCE_AT)
    out, _ = report(str(lake), capsys, "all", "--format", "json")
    document = json.loads(out)
    unprotected = [r["resource_id"] for r in document["unprotected"]["rows"]]
    assert unprotected == [r[0] for r in UNPROTECTED]
    assert document["daily"]["rows"] == [] and document["failures"]["rows"] == []
    assert any("no operation logs yet" in note for note in document["daily"]["notes"])
    assert not any("no operation logs" in note for note in document["unprotected"]["notes"])
    coverage = document["daily"]["coverage"]  # and nothing is proven complete
    assert coverage["complete"] is False and coverage["projects"] == {}
    # With no backup task anywhere, no resource is judged to have missed its RPO on that alone.
    rpo = [
        r for r in document["resource-compliance"]["rows"] if r["control"] == "backup-within-rpo"
    ]
    assert rpo and {r["status"] for r in rpo} == {"INSUFFICIENT_DATA"}


def test_a_folder_holding_no_logs_inventory_or_state_is_still_refused(tmp_path, capsys) -> None:
    (tmp_path / "other").mkdir()
    assert main(["report", "all", "--lake", str(tmp_path / "other"), *NOW]) == 2
    assert "no operation_logs in the lake" in capsys.readouterr().err


def test_without_an_inventory_the_reports_are_empty_and_say_why(tmp_path, capsys) -> None:
    lake = write_audit_lake(tmp_path / "lake")
    for name in ("unprotected", "inventory", "restore-points"):
        out, said = report(lake, capsys, name, "--format", "json")
        assert json.loads(out)["rows"] == []
        assert said == (
            "note: the lake has no inventory snapshot yet: `python -m lib inventory` (or the "
            "function's inventory event) takes one\n"
        )
    document = json.loads(report(lake, capsys, "all", "--format", "json")[0])
    assert not {"unprotected", "inventory", "restore-points"} & set(document)


def test_an_s3_lake_gives_the_same_reports(aws: str, lake: str, capsys) -> None:
    """The state documents and the snapshot files are read through the S3 store."""
    client = boto3.client("s3")
    client.create_bucket(
        Bucket="audit", CreateBucketConfiguration={"LocationConstraint": "ap-southeast-1"}
    )
    for path in Path(lake).rglob("*"):
        if path.is_file() and not path.name.startswith("."):
            key = f"lake/{path.relative_to(lake)}"
            client.put_object(Bucket="audit", Key=key, Body=path.read_bytes())
    for name in ("unprotected", "inventory", "restore-points"):
        assert as_json("s3://audit/lake", capsys, name) == as_json(lake, capsys, name), name
    rows = json.loads(
        report(
            "s3://audit/lake",
            capsys,
            "resource-compliance",
            "--format",
            "json",
            "--controls",
            "resource-protected",
        )[0]
    )["rows"]
    assert {r["resource_id"] for r in rows if r["status"] == "NON_COMPLIANT"} == {
        "srv-never",
        "disk-bad",
    }


def test_the_command_line_process_reads_the_snapshot_in_force(lake: str) -> None:
    """python -m lib report unprotected, as an operator runs it."""
    result = subprocess.run(
        [sys.executable, "-m", "lib", "report", "unprotected", "--lake", lake, *NOW],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "srv-never.example" in result.stdout and "in no vault" in result.stdout
    assert result.stderr.startswith("note: inventory of p-audit: snapshot 20261130T060000Z-")


def test_an_unreadable_state_is_named_and_the_other_projects_still_judged(lake, tmp_path, capsys):
    copy = tmp_path / "lake"
    shutil.copytree(lake, copy)
    (copy / "_state" / "inventory" / "p-late.json").write_text("{not json")
    out, said = report(str(copy), capsys, "unprotected", "--format", "json")
    assert [r["resource_id"] for r in json.loads(out)["rows"]] == [r[0] for r in UNPROTECTED]
    notes = said.splitlines()
    assert notes[0].startswith("note: inventory of p-audit: snapshot 20261130T060000Z-")
    assert notes[1].startswith("note: inventory state of p-late is unreadable: the inventory state")
    assert len(notes) == 2  # and no "no snapshot" line for p-late
    rows = json.loads(
        report(
            str(copy),
            capsys,
            "resource-compliance",
            "--format",
            "json",
            "--controls",
            "policy-assigned",
            "--since",
            "2026-11-01",
        )[0]
    )["rows"]
    late = next(r for r in rows if r["resource_id"] == "late-01")
    assert late["status"] == "INSUFFICIENT_DATA"
    assert late["reason"] == "no inventory snapshot of project p-late taken by the evaluation time"


def test_snapshot_times_are_said_to_the_second_and_kept_whole_in_json(tmp_path, capsys) -> None:
    lake, replay = tmp_path / "lake", tmp_path / "replay"
    (replay / "operation-logs").mkdir(parents=True)
    taken = datetime(2026, 11, 30, 6, 0, 0, 123456, tzinfo=UTC)
    snapshot(lake, replay, PROJECT, answers_in_force(), taken)
    out, err = report(str(lake), capsys, "unprotected")
    said = "\n".join(line for line in (out + err).splitlines() if not line.startswith("{"))
    assert "taken at 2026-11-30T06:00:00Z" in said
    assert not re.search(r"\d\d:\d\d:\d\d\.\d+Z", said)  # people read seconds
    html = tmp_path / "unprotected.html"
    report(str(lake), capsys, "unprotected", "--format", "html", "--out", str(html))
    assert "taken at 2026-11-30T06:00:00Z" in unescape(html.read_text(encoding="utf-8"))
    document = json.loads(report(str(lake), capsys, "unprotected", "--format", "json")[0])
    assert any("2026-11-30T06:00:00.123456Z" in str(v) for v in document.values())
