"""Where `audit --out` may write: a new or empty folder, or one holding an earlier pack (which is
replaced whole); never beside other files, never into the lake, never onto a file; the same rules
for s3:// destinations."""

from __future__ import annotations

import json
from pathlib import Path

import boto3
import pytest
from audit_lake import PERIOD, write_audit_lake

from lib.ops.cli import main

PACK = {"index.html", "adherence.html", "manifest.json"} | {
    f"{r}.{x}"
    for r in ("controls", "resource-compliance", "adherence", "restores", "deletions", "coverage")
    for x in ("csv", "json")
}


@pytest.fixture(scope="module")
def lake(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("destination") / "lake"
    write_audit_lake(root)
    return root


def audit(lake: Path | str, out: Path | str) -> int:
    return main(["audit", "--lake", str(lake), *PERIOD, "--out", str(out)])


def refused(capsys: pytest.CaptureFixture[str]) -> str:
    """The one sentence the refusal printed."""
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err.startswith("error: --out ")
    assert captured.err.count("\n") == 1 and "Traceback" not in captured.err
    return captured.err


def files_in(folder: Path) -> set[str]:
    return {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}


def test_a_folder_holding_other_files_is_refused_and_left_alone(lake, tmp_path, capsys) -> None:
    out = tmp_path / "documents"
    out.mkdir()
    (out / "thesis.docx").write_bytes(b"mine")
    assert audit(lake, out) == 2
    assert "holds 1 file(s) that are not an audit pack (such as thesis.docx)" in refused(capsys)
    assert files_in(out) == {"thesis.docx"}


def test_an_earlier_pack_is_replaced_whole(lake: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "pack"
    assert audit(lake, out) == 0
    # An earlier pack of another shape: it held a file this one does not write.
    manifest = json.loads((out / "manifest.json").read_text())
    manifest["files"]["summary.pdf"] = {"sha256": "0" * 64, "bytes": 3}
    (out / "manifest.json").write_text(json.dumps(manifest))
    (out / "summary.pdf").write_bytes(b"old")
    (out / "controls.csv").write_text("stale")
    capsys.readouterr()

    assert audit(lake, out) == 0
    assert files_in(out) == PACK  # summary.pdf went with the pack that listed it
    assert (out / "controls.csv").read_text() != "stale"
    assert "summary.pdf" not in json.loads((out / "manifest.json").read_text())["files"]


def test_other_files_beside_an_earlier_pack_are_refused(lake, tmp_path, capsys) -> None:
    out = tmp_path / "pack"
    assert audit(lake, out) == 0
    (out / "notes.txt").write_text("the auditor's notes")
    before = {name: (out / name).read_bytes() for name in files_in(out)}
    capsys.readouterr()
    assert audit(lake, out) == 2
    assert "holds an earlier audit pack and 1 other file(s) (such as notes.txt)" in refused(capsys)
    assert {name: (out / name).read_bytes() for name in files_in(out)} == before


@pytest.mark.parametrize("where", ["", "reports", "operation_logs/dt=2026-11-29"])
def test_the_lake_and_folders_inside_it_are_refused(lake, capsys, where: str) -> None:
    before = files_in(lake)
    assert audit(lake, lake / where if where else lake) == 2
    assert f"is inside the lake {lake}: write the pack elsewhere" in refused(capsys)
    assert files_in(lake) == before


def test_a_file_is_named_as_a_file_not_blamed_on_the_lake_setting(lake, tmp_path, capsys) -> None:
    report = tmp_path / "report.html"
    report.write_text("<p>kept</p>")
    assert audit(lake, report) == 2
    said = refused(capsys)
    assert said == (
        f"error: --out {report} is a file: name a folder (new, empty, or holding an earlier "
        "audit pack)\n"
    )
    assert report.read_text() == "<p>kept</p>"


def test_the_same_rules_hold_for_s3(aws: str, lake: Path, capsys) -> None:
    client = boto3.client("s3")
    client.create_bucket(
        Bucket="packs", CreateBucketConfiguration={"LocationConstraint": "ap-southeast-1"}
    )
    for path in lake.rglob("*"):
        if path.is_file():
            key = f"lake/{path.relative_to(lake).as_posix()}"
            client.put_object(Bucket="packs", Key=key, Body=path.read_bytes())

    assert audit("s3://packs/lake", "s3://packs/lake/audit") == 2
    assert "s3://packs/lake/audit is inside the lake s3://packs/lake" in refused(capsys)

    client.put_object(Bucket="packs", Key="other/data.csv", Body=b"x")
    assert audit("s3://packs/lake", "s3://packs/other") == 2
    assert "not an audit pack (such as data.csv)" in refused(capsys)

    assert audit("s3://packs/lake", "s3://packs/2026-11") == 0
    client.put_object(Bucket="packs", Key="2026-11/stale.json", Body=b"{}")
    manifest = json.loads(
        client.get_object(Bucket="packs", Key="2026-11/manifest.json")["Body"].read()
    )
    manifest["files"]["stale.json"] = {"sha256": "0" * 64, "bytes": 2}
    client.put_object(Bucket="packs", Key="2026-11/manifest.json", Body=json.dumps(manifest))
    assert audit("s3://packs/lake", "s3://packs/2026-11") == 0
    listed = client.list_objects_v2(Bucket="packs", Prefix="2026-11/")["Contents"]
    assert {item["Key"].removeprefix("2026-11/") for item in listed} == PACK
