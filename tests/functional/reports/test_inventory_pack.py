"""The audit pack of a lake with an inventory (inventory_lake.py): the inventory controls and
reports in it, its summary leading with the unprotected resources and each project's snapshot,
the manifest vouching for the new files; and a pack without an inventory saying so."""

from __future__ import annotations

import csv
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from audit_lake import PERIOD, write_audit_lake
from inventory_lake import (
    IN_FORCE_AT,
    INVENTORY_CONTROLS,
    PROJECT,
    answers_in_force,
    snapshot,
    write_inventory_lake,
)
from pack_reader import read_index

from lib.ops.cli import main

REPORTS = (
    "controls",
    "resource-compliance",
    "unprotected",
    "adherence",
    "restores",
    "deletions",
    "coverage",
    "inventory",
    "restore-points",
)
FILES = {"index.html", "adherence.html", "manifest.json"} | {
    f"{r}.{x}" for r in REPORTS for x in ("csv", "json")
}
INVENTORY_FILES = {
    f"{r}.{x}" for r in ("unprotected", "inventory", "restore-points") for x in ("csv", "json")
}


def audit(lake: Path | str, out: Path, capsys: pytest.CaptureFixture[str]) -> str:
    code = main(["audit", "--lake", str(lake), *PERIOD, "--out", str(out)])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    return captured.out


@pytest.fixture(scope="module")
def lake(tmp_path_factory: pytest.TempPathFactory) -> str:
    return write_inventory_lake(tmp_path_factory.mktemp("inventory"))


@pytest.fixture(scope="module")
def pack(lake: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("out") / "pack"
    assert main(["audit", "--lake", lake, *PERIOD, "--out", str(out)]) == 0
    return out


def manifest_of(folder: Path) -> dict[str, Any]:
    return json.loads((folder / "manifest.json").read_text())


def test_the_pack_holds_the_inventory_reports_and_the_manifest_vouches_for_them(pack) -> None:
    assert {p.name for p in pack.iterdir()} == FILES
    manifest = manifest_of(pack)
    assert set(manifest["files"]) == FILES - {"manifest.json"}
    for name in INVENTORY_FILES:
        data = (pack / name).read_bytes()
        assert manifest["files"][name] == {
            "sha256": hashlib.sha256(data).hexdigest(),
            "bytes": len(data),
        }
    assert manifest["controls"][-6:] == list(INVENTORY_CONTROLS) and len(manifest["controls"]) == 14
    parameters = manifest["parameters"]
    assert (parameters["max_backup_interval_hours"], parameters["policy_retention_days"]) == (24, 7)
    assert parameters["vault_usage_pct"] == 90
    assert (manifest["rows"]["unprotected"], manifest["rows"]["inventory"]) == (5, 7)
    snapshot = manifest["inventory"]["p-audit"]
    assert snapshot["snapshot_at"] == "2026-11-30T06:00:00Z"
    assert snapshot["snapshot_id"].startswith("20261130T060000Z-")
    assert manifest["inventory"] == {"p-audit": snapshot, "p-late": None, "p-none": None}
    rows = list(csv.DictReader((pack / "unprotected.csv").read_text(encoding="utf-8").splitlines()))
    assert [r["resource_id"] for r in rows] == [
        "disk-bad",
        "srv-never",
        "srv-ghost",
        "file-01",
        "app-01",
    ]


def test_the_summary_leads_with_the_unprotected_resources_and_each_projects_snapshot(pack) -> None:
    index = read_index(pack)
    assert index.sections == [
        "summary",
        "controls",
        "exceptions",
        "unprotected",
        "adherence",
        "restores",
        "deletions",
        "coverage",
        "inventory",
        "restore-points",
    ]
    text = " ".join(" ".join(index.text).split())
    summary = text[text.index("Summary") :]
    lead = (
        "5 resources are unprotected in the inventory snapshot in force (in no vault, or in a "
        "vault without an enabled backup policy): 2 in no vault, 3 without an enabled policy."
    )
    assert summary.index(lead) < summary.index("resources met every one of the 14 controls")
    snapshot_id = manifest_of(pack)["inventory"]["p-audit"]["snapshot_id"]
    assert (
        f"Project p-audit: inventory snapshot {snapshot_id} taken at 2026-11-30T06:00:00Z." in text
    )
    assert "Project p-late: no inventory snapshot taken by the evaluation time." in text
    assert "Project p-none: no inventory snapshot taken by the evaluation time." in text
    assert index.tiles["unprotected resources"] == "5"
    assert next(iter(index.tiles)) == "unprotected resources"
    assert index.tiles["resource-protected"] == "80 %"  # 8 of 10 judged
    assert (
        "5 unprotected resources in the inventory snapshot in force: 2 in no vault, 1 in a vault "
        "the snapshot does not list, 1 in a vault without a backup policy, 1 under a disabled "
        "backup policy." in text
    )
    assert "7 vaults in the inventory snapshot in force: 5 with an enabled backup policy" in text
    assert "Vaults without an enabled backup policy:" in text
    assert (
        "10 resources in the inventory snapshot in force: 7 with none, 3 with restore points."
        in text
    )


def test_a_pack_without_an_inventory_says_there_is_none(tmp_path: Path, capsys) -> None:
    lake = write_audit_lake(tmp_path / "lake")
    audit(lake, tmp_path / "pack", capsys)
    manifest = manifest_of(tmp_path / "pack")
    assert manifest["inventory"] == {} and len(manifest["controls"]) == 8
    assert not INVENTORY_FILES & {p.name for p in (tmp_path / "pack").iterdir()}
    text = " ".join(" ".join(read_index(tmp_path / "pack").text).split())
    assert (
        "No inventory snapshot: resources that were never put under protection cannot be shown"
        in text
    )


def test_a_pack_replaced_by_one_without_an_inventory_keeps_none_of_its_files(
    lake: str, tmp_path: Path, capsys
) -> None:
    out = tmp_path / "pack"
    audit(lake, out, capsys)
    assert {p.name for p in out.iterdir()} >= INVENTORY_FILES
    audit(write_audit_lake(tmp_path / "plain"), out, capsys)
    left = {p.name for p in out.iterdir()}
    assert not INVENTORY_FILES & left
    assert set(manifest_of(out)["files"]) == left - {"manifest.json"}


def test_the_command_says_how_many_resources_are_unprotected(lake: str, tmp_path, capsys) -> None:
    said = audit(lake, tmp_path / "pack", capsys)
    assert "13 resources evaluated against 14 controls" in said
    assert "5 resources unprotected in the inventory snapshot in force" in said


def test_a_lake_where_nothing_was_ever_backed_up_still_gets_its_pack(tmp_path, capsys) -> None:
    # Only an inventory, no operation log: the pack must show the unprotected resources.
    lake = tmp_path / "lake"
    snapshot(lake, tmp_path / "replay", PROJECT, answers_in_force(), IN_FORCE_AT)
    said = audit(lake, tmp_path / "pack", capsys)
    assert "5 resources unprotected in the inventory snapshot in force" in said
    assert "no operation logs yet" in said
    rows = json.loads((tmp_path / "pack" / "unprotected.json").read_text())["rows"]
    assert len(rows) == 5
