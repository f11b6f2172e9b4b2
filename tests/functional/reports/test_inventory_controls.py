"""The six inventory controls over a hand-written inventory (inventory_lake.py), through the CLI.

Every resource x control verdict is written by hand in inventory_lake.EXPECTED; these tests compare
the whole table, then the reasons and evidence of the edges, the parameters, the "never backed up"
verdict of backup-within-rpo, and that the eight controls judge the operation logs' resources as
they did before.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from audit_lake import CONTROLS as LOG_CONTROLS
from audit_lake import EXPECTED as LOG_EXPECTED
from audit_lake import PERIOD, RESOURCES, backup, write_audit_lake
from inventory_lake import (
    EXPECTED,
    EXPECTED_ROWS,
    IN_FORCE_AT,
    INVENTORY_CONTROLS,
    PROJECT,
    answers_in_force,
    restore_point,
    snapshot,
    write_inventory_lake,
)

from lib.ingest.flatten import flatten
from lib.lake.storage import LocalStore
from lib.lake.writer import Lake
from lib.ops.cli import main


@pytest.fixture(scope="module")
def lake(tmp_path_factory: pytest.TempPathFactory) -> str:
    return write_inventory_lake(tmp_path_factory.mktemp("inventory"))


def compliance(lake: str, capsys: pytest.CaptureFixture[str], *args: str) -> list[dict[str, Any]]:
    code = main(
        ["report", "resource-compliance", "--lake", lake, *PERIOD, "--format", "json", *args]
    )
    captured = capsys.readouterr()
    assert code == 0, captured.err
    return json.loads(captured.out)["rows"]


@pytest.fixture(scope="module")
def rows(lake: str) -> list[dict[str, Any]]:
    """resource-compliance at the defaults (every control: the lake has an inventory)."""
    out = Path(lake).parent / "rc.json"
    assert (
        main(
            [
                "report",
                "resource-compliance",
                "--lake",
                lake,
                *PERIOD,
                "--format",
                "json",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    return json.loads(out.read_text())["rows"]


def verdicts(rows: list[dict[str, Any]], controls: tuple[str, ...]) -> dict[tuple[str, str], str]:
    return {(r["resource_id"], r["control"]): r["status"] for r in rows if r["control"] in controls}


def row_of(rows: list[dict[str, Any]], resource: str, control: str) -> dict[str, Any]:
    (found,) = [r for r in rows if (r["resource_id"], r["control"]) == (resource, control)]
    return found


def test_every_inventory_verdict_is_the_one_written_by_hand(rows) -> None:
    assert verdicts(rows, INVENTORY_CONTROLS) == EXPECTED
    # The lake has an inventory: all fourteen controls ran, over one universe of resources.
    assert [r["control"] for r in rows][:: len(EXPECTED_ROWS)] == [
        *LOG_CONTROLS,
        *INVENTORY_CONTROLS,
    ]
    assert len(rows) == 14 * len(EXPECTED_ROWS)
    for status in ("COMPLIANT", "NON_COMPLIANT", "INSUFFICIENT_DATA"):  # every outcome met
        for control in INVENTORY_CONTROLS:
            assert status in {v for (_, c), v in EXPECTED.items() if c == control}, control


EDGES = {
    # its protectable entry names no vault, but a vault lists it
    ("db-01", "resource-protected"): ("in vault v-db-name", "{snap},v-db"),
    ("disk-bad", "resource-protected"): (
        "in no vault; CBR cannot protect it: BackupService.6320 The disk is in the error state",
        "{snap}",
    ),
    ("old-vol", "resource-protected"): ("the inventory snapshot does not list it", "{snap}"),
    ("other-01", "resource-protected"): ("no inventory snapshot of project p-none", None),
    # p-late's only snapshot was taken after the evaluation time
    ("late-01", "policy-assigned"): ("no inventory snapshot of project p-late", None),
    ("app-01", "policy-assigned"): (
        "the backup policy pol-off-name of vault v-app-name is disabled",
        "{snap},v-app,pol-off",
    ),
    ("file-01", "policy-assigned"): ("vault v-file-name has no backup policy", "{snap},v-file"),
    ("srv-ghost", "policy-assigned"): ("its vault v-gone is not in the snapshot", "{snap},v-gone"),
    ("srv-never", "policy-assigned"): ("in no vault", "{snap}"),
    # exactly the parameter passes
    ("srv-few", "policy-frequency"): ("leaves at most 24.0 h between scheduled backups", None),
    ("db-01", "policy-frequency"): ("at most 7.0 days between scheduled backups", None),
    ("app-01", "policy-frequency"): ("pol-off-name is disabled: it schedules no backup", None),
    ("new-01", "policy-frequency"): ("could not be read (never guessed)", "{snap},v-new,pol-odd"),
    ("web-01", "policy-retention"): ("keeps each backup 30 d, at least 7 d required", None),
    ("app-01", "policy-retention"): ("keeps each backup 3 d", None),
    ("srv-ever", "policy-retention"): ("no retention limit: backups are kept for ever", None),
    ("db-01", "policy-retention"): (
        "keeps the last 4 backups, one at most every 7.0 days: 28.0 days",
        None,
    ),
    ("srv-few", "policy-retention"): (
        "keeps the last 3 backups, one at most every 24.0 h: 3.0 days",
        None,
    ),
    ("new-01", "policy-retention"): ("but its schedule could not be read", None),
    ("web-01", "restore-point-fresh"): (
        "made 7.8 h before the inventory snapshot",
        "{snap},rp-web-29",
    ),
    # made exactly the RPO before the snapshot
    ("app-01", "restore-point-fresh"): (
        "made 24.0 h before the inventory snapshot",
        "{snap},rp-app-29",
    ),
    ("db-01", "restore-point-fresh"): ("made 10.1 days before", "{snap},rp-db-20"),
    # its only restore point failed
    ("file-01", "restore-point-fresh"): ("no available restore point", "{snap}"),
    ("old-vol", "restore-point-fresh"): (
        "lists neither it nor an available restore point",
        "{snap}",
    ),
    ("web-01", "vault-capacity"): ("50.0 % full (500.0 of 1000 GB), below 90 %", "{snap},v-web"),
    ("srv-few", "vault-capacity"): ("90.0 % full (90.0 of 100 GB), not below 90 %", "{snap},v-few"),
    ("file-01", "vault-capacity"): ("states no size or usage", "{snap},v-file"),
    ("srv-never", "vault-capacity"): ("in no vault: no capacity to judge", "{snap}"),
}


@pytest.mark.parametrize(("resource", "control"), list(EDGES))
def test_reasons_and_evidence_name_what_was_judged(rows, resource: str, control: str) -> None:
    found = row_of(rows, resource, control)
    reason, evidence = EDGES[(resource, control)]
    assert reason in found["reason"]
    in_force = {
        r["evidence_ids"].split(",")[0]
        for r in rows
        if r["control"] == "vault-capacity" and r["evidence_ids"]
    }
    (snap,) = in_force  # every inventory verdict names the one snapshot in force
    assert snap.startswith(IN_FORCE_AT.strftime("%Y%m%dT%H%M%SZ"))
    if evidence is not None:
        assert found["evidence_ids"] == evidence.format(snap=snap)
    if found["status"] == "INSUFFICIENT_DATA" and "no inventory snapshot" in found["reason"]:
        assert found["evidence_ids"] is None


def test_a_protectable_resource_with_no_backup_task_was_never_backed_up(rows) -> None:
    never = row_of(rows, "srv-never", "backup-within-rpo")
    assert never["status"] == "NON_COMPLIANT"
    assert never["reason"] == (
        "never backed up: no backup task in the lake, whose operation logs reach back 13.0 weeks,"
        " RPO 24 h"
    )
    # the snapshots before and after the one in force put it in a vault: neither is read
    assert row_of(rows, "srv-never", "resource-protected")["status"] == "NON_COMPLIANT"
    for resource in ("disk-bad", "srv-ever", "srv-few", "srv-ghost"):
        assert row_of(rows, resource, "backup-within-rpo")["reason"].startswith("never backed up")


def test_never_backed_up_needs_operation_logs_reaching_back_the_rpo(tmp_path: Path, capsys) -> None:
    """Six hours of operation logs cannot show that nothing ran within a 24-hour RPO."""
    lake = tmp_path / "lake"
    young = backup("new-b30", "new-01", "2026-11-30T18:00:00Z")
    Lake(LocalStore(lake)).write(
        [flatten(young, ingested_at=IN_FORCE_AT, source_message_id=None)[0]], []
    )
    snapshot(lake, tmp_path / "replay", PROJECT, answers_in_force(), IN_FORCE_AT)
    found = compliance(str(lake), capsys, "--controls", "backup-within-rpo")
    never = row_of(found, "srv-never", "backup-within-rpo")
    assert never["status"] == "INSUFFICIENT_DATA"
    assert never["reason"] == (
        "no backup task in the lake, but its operation logs reach back only 6.0 h of the RPO 24 h"
    )
    wider = compliance(str(lake), capsys, "--controls", "backup-within-rpo", "--rpo-hours", "6")
    assert row_of(wider, "srv-never", "backup-within-rpo")["status"] == "NON_COMPLIANT"


def test_a_restore_point_the_lake_has_no_task_for_is_not_called_never_backed_up(
    tmp_path: Path, capsys
) -> None:
    """The snapshot proves srv-ever was backed up; the lake missing its tasks cannot judge it."""
    lake = tmp_path / "lake"
    write_audit_lake(lake)
    answers = answers_in_force()
    made = "2026-11-29T01:00:00Z"
    answers["backups"].append(restore_point("rp-ever-29", "srv-ever", "v-keep", made))
    snapshot(lake, tmp_path / "replay", PROJECT, answers, IN_FORCE_AT)
    found = compliance(str(lake), capsys, "--controls", "backup-within-rpo")
    ever = row_of(found, "srv-ever", "backup-within-rpo")
    assert (ever["status"], ever["evidence_ids"]) == ("INSUFFICIENT_DATA", "rp-ever-29")
    assert ever["reason"].startswith(
        "no backup task in the lake, but the inventory snapshot holds a restore point made "
    ) and ever["reason"].endswith(
        " before the evaluation time: the lake is missing its backup tasks"
    )
    assert row_of(found, "srv-never", "backup-within-rpo")["status"] == "NON_COMPLIANT"


def test_the_eight_controls_judge_the_operation_logs_resources_as_before(rows) -> None:
    mine = {k: v for k, v in verdicts(rows, LOG_CONTROLS).items() if k[0] in RESOURCES}
    assert mine == LOG_EXPECTED


def test_without_an_inventory_only_the_eight_run_and_named_ones_lack_data(tmp_path, capsys) -> None:
    lake = write_audit_lake(tmp_path / "lake")
    plain = compliance(lake, capsys)
    assert {r["control"] for r in plain} == set(LOG_CONTROLS)
    assert verdicts(plain, LOG_CONTROLS) == LOG_EXPECTED
    named = compliance(lake, capsys, "--controls", "vault-capacity,backup-within-rpo")
    capacity = [r for r in named if r["control"] == "vault-capacity"]
    assert len(capacity) == len(RESOURCES)
    assert {(r["status"], r["reason"], r["evidence_ids"]) for r in capacity} == {
        (
            "INSUFFICIENT_DATA",
            "no inventory snapshot of project p-audit taken by the evaluation time",
            None,
        )
    }


@pytest.mark.parametrize(
    ("flags", "resource", "control", "before", "after"),
    [
        (
            ["--max-backup-interval-hours", "168"],
            "db-01",
            "policy-frequency",
            "NON_COMPLIANT",
            "COMPLIANT",
        ),
        (
            ["--max-backup-interval-hours", "11.5"],
            "web-01",
            "policy-frequency",
            "COMPLIANT",
            "NON_COMPLIANT",
        ),
        (
            ["--policy-retention-days", "3"],
            "app-01",
            "policy-retention",
            "NON_COMPLIANT",
            "COMPLIANT",
        ),
        (
            ["--policy-retention-days", "28.5"],
            "db-01",
            "policy-retention",
            "COMPLIANT",
            "NON_COMPLIANT",
        ),
        (["--vault-usage-pct", "95.5"], "db-01", "vault-capacity", "NON_COMPLIANT", "COMPLIANT"),
        (["--vault-usage-pct", "50"], "web-01", "vault-capacity", "COMPLIANT", "NON_COMPLIANT"),
        (["--rpo-hours", "250"], "db-01", "restore-point-fresh", "NON_COMPLIANT", "COMPLIANT"),
        (["--rpo-hours", "7"], "web-01", "restore-point-fresh", "COMPLIANT", "NON_COMPLIANT"),
    ],
)
def test_each_parameter_moves_the_verdicts_it_should(
    lake: str, rows, capsys, flags, resource, control, before, after
) -> None:
    assert row_of(rows, resource, control)["status"] == before
    moved = compliance(lake, capsys, "--controls", control, *flags)
    assert row_of(moved, resource, control)["status"] == after
    changed = {
        r["resource_id"]
        for r in moved
        if r["status"] != row_of(rows, r["resource_id"], control)["status"]
    }
    assert resource in changed


def test_the_controls_report_counts_them_and_names_the_snapshot_judged_by(lake, capsys) -> None:
    assert main(["report", "controls", "--lake", lake, *PERIOD, "--format", "json"]) == 0
    captured = capsys.readouterr()
    by_control = {row["control"]: row for row in json.loads(captured.out)["rows"]}
    for index, control in enumerate(INVENTORY_CONTROLS):
        statuses = [row[index] for row in EXPECTED_ROWS.values()]
        good, bad = statuses.count("COMPLIANT"), statuses.count("NON_COMPLIANT")
        found = by_control[control]
        assert (found["resources"], found["compliant"], found["non_compliant"]) == (
            len(statuses),
            good,
            bad,
        )
        assert found["insufficient_data"] == statuses.count("INSUFFICIENT_DATA")
        assert found["compliance_rate"] == round(good / (good + bad), 4)
    assert by_control["policy-frequency"]["parameters"] == "max_backup_interval_hours=24"
    assert by_control["restore-point-fresh"]["parameters"] == "rpo_hours=24"
    said = captured.err.splitlines()
    assert said[0].startswith("note: inventory of p-audit: snapshot 20261130T060000Z-")
    assert said[0].endswith(" taken at 2026-11-30T06:00:00Z")
    assert said[1] == "note: inventory of p-late: no snapshot taken by the evaluation time"
    assert main(["report", "controls", "--lake", lake, *PERIOD]) == 0
    head = capsys.readouterr().out.split("\n\n", 1)[0]
    assert "  note: inventory of p-audit: snapshot 20261130T060000Z-" in head
