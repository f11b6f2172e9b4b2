"""`python -m lib audit`: the pack's files, its manifest, a rerun, and the page in a real browser.

The lake is audit_lake.py's, with a discovery watermark and two error rows, so the executive
summary has something to say about completeness. The browser is headless Chromium driven over
its DevTools pipe (browser.py): screenshots at desktop and phone width, the layout measured
under print media at A4 width, and PDFs printed both through the protocol and with
`--print-to-pdf` as an auditor would.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any

import boto3
import pytest
from audit_lake import EXPECTED, PERIOD, PROJECT, C, write_audit_lake, write_watermark
from browser import Browser, chromium_binary, run_chromium
from pack_reader import read_index

from lib.ops.cli import main

REPORTS = ("controls", "resource-compliance", "adherence", "restores", "deletions", "coverage")
FILES = {"index.html", "adherence.html", "manifest.json"} | {
    f"{r}.{x}" for r in REPORTS for x in ("csv", "json")
}
SECTIONS = ["summary", "controls", "exceptions", "adherence", "restores", "deletions", "coverage"]
PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def lake(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("pack") / "lake"
    write_audit_lake(root)
    write_watermark(root, PROJECT, "2026-11-20T06:00:00Z")
    return root


def audit(lake: Path | str, out: Path | str, *extra: str) -> int:
    return main(["audit", "--lake", str(lake), *PERIOD, "--out", str(out), *extra])


@pytest.fixture(scope="module")
def pack(lake: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("out") / "pack"
    assert audit(lake, out) == 0
    return out


def manifest_of(folder: Path) -> dict[str, Any]:
    return json.loads((folder / "manifest.json").read_text())


def test_the_pack_holds_every_file_and_the_manifest_vouches_for_each(pack: Path) -> None:
    assert {p.name for p in pack.iterdir()} == FILES
    manifest = manifest_of(pack)
    assert set(manifest["files"]) == FILES - {"manifest.json"}
    for name, entry in manifest["files"].items():
        data = (pack / name).read_bytes()
        assert entry == {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}
    assert manifest["period"] == {"since": "2026-11-01T00:00:00Z", "until": "2026-12-01T00:00:00Z"}
    assert manifest["evaluated_at"] == "2026-12-01T00:00:00Z"
    assert manifest["parameters"]["rpo_hours"] == 24 and manifest["parameters"]["stuck_hours"] == 6
    assert len(manifest["controls"]) == 8 and manifest["lake"].endswith("lake")
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z", manifest["generated_at"])
    assert manifest["rows"]["resource-compliance"] == 48


def test_the_evidence_files_are_the_reports_themselves(pack: Path, lake: Path, capsys) -> None:
    for name in REPORTS:
        assert main(["report", name, "--lake", str(lake), *PERIOD, "--format", "json"]) == 0
        assert json.loads((pack / f"{name}.json").read_text()) == json.loads(
            capsys.readouterr().out
        )
    header = (pack / "controls.csv").read_text().splitlines()[0]
    assert header.split(",")[:3] == ["control", "title", "parameters"]
    assert len((pack / "adherence.csv").read_text().splitlines()) == 1 + 76


def test_a_rerun_writes_the_same_bytes_but_the_generation_time(
    pack: Path, lake: Path, tmp_path: Path
) -> None:
    again = tmp_path / "again"
    assert audit(lake, again) == 0
    for name in FILES - {"manifest.json"}:
        assert (again / name).read_bytes() == (pack / name).read_bytes(), name
    first, second = manifest_of(pack), manifest_of(again)
    first.pop("generated_at"), second.pop("generated_at")
    assert first == second


def test_the_command_says_what_it_wrote(lake: Path, tmp_path: Path, capsys) -> None:
    assert audit(lake, tmp_path / "p", "--controls", "backup-within-rpo,no-stuck-tasks") == 0
    said = capsys.readouterr().out
    assert f"wrote the audit pack to {tmp_path / 'p'}: 15 files" in said
    assert "6 resources evaluated against 2 controls; 3 failed at least one" in said
    assert manifest_of(tmp_path / "p")["controls"] == ["backup-within-rpo", "no-stuck-tasks"]
    assert audit(lake, tmp_path / "q", "--format", "json") == 0
    assert json.loads(capsys.readouterr().out)["out"] == str(tmp_path / "q")


def test_an_audit_needs_a_period_and_a_writable_place(lake: Path, tmp_path: Path, capsys) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["audit", "--lake", str(lake), "--since", "2026-11-01"])
    assert exit_.value.code == 2
    capsys.readouterr()
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    assert audit(lake, blocker / "pack") == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: cannot write the audit pack to {blocker / 'pack'}")
    assert err.count("\n") == 1


# --- the index page ---------------------------------------------------------------------------


def test_the_index_leads_with_the_summary_then_the_evidence(pack: Path) -> None:
    index = read_index(pack)
    assert index.sections == SECTIONS
    text = " ".join(" ".join(index.text).split())
    assert "Backup audit 2026-11-01 to 2026-11-30" in text
    assert (
        "Project p-audit: NOT LISTED: 2026-11-20T06:00:00Z to 2026-12-01T00:00:00Z (after "
        "discovery's watermark, 14 d 18 h old: discovery is behind); the rest of the period is "
        "complete (proven by discovery)." in text
    )
    assert "2 error rows in the period" in text and "invalid_message 1, not_found 1" in text
    assert "1 of 6 resources met every one of the 8 controls" in text
    assert index.tiles["resources evaluated"] == "6"
    assert index.tiles["backup-within-rpo"] == "60 %"
    assert index.tiles["restores succeeded"] == "2 of 2"
    assert index.tiles["deletions"] == "4"
    assert "76 resource-days in the period: 43 with a successful backup, 30 with no backup" in text
    assert "4 deletions in the period: 4 success." in text


def test_the_exceptions_are_each_failure_and_gap_with_the_compliant_only_counted(
    pack: Path,
) -> None:
    listed = read_index(pack).listed
    assert listed == {(c, r): status for (r, c), status in EXPECTED.items() if status != C}
    text = " ".join("".join(read_index(pack).text).split())
    # backup-within-rpo: 2 failed (file-01, old-vol), 1 not judged (new-01), 3 compliant
    assert "2 non-compliant, 1 without enough data, 3 compliant (counted here;" in text
    assert "db-01.example (db-01): db-b29" in text  # its failed app-consistent backup
    rows = json.loads((pack / "resource-compliance.json").read_text())["rows"]
    assert len(rows) == len(EXPECTED)  # the compliant ones too, in the evidence files


def test_the_adherence_grid_is_a_page_of_its_own(pack: Path) -> None:
    grid = read_index(pack, "adherence.html")
    db = [grid.cells["db-01", f"2026-11-{d}"] for d in (27, 28, 29, 30)]
    assert db == ["success", "failed", "success", "other"]
    assert ("db-01", "2026-11-26") not in grid.cells  # before its first backup: not judged
    assert grid.cells["file-01", "2026-11-01"] == "none"
    assert ("a", {"href": "adherence.html"}) in read_index(pack).tags  # linked from the index
    assert ("a", {"href": "index.html"}) in grid.tags  # and back


def test_no_page_or_file_refers_to_the_network(pack: Path) -> None:
    pages = sorted(path.name for path in pack.glob("*.html"))
    assert pages == ["adherence.html", "index.html"]
    for name in pages:
        index = read_index(pack, name)
        for tag, attrs in index.tags:
            assert tag not in {"script", "link", "img", "iframe", "object", "embed", "image", "use"}
            for attr in ("src", "href", "xlink:href", "action", "data", "poster", "srcset"):
                value = attrs.get(attr, "").strip().lower()
                assert not value.startswith(("http:", "https:", "//", "data:")), (name, value)
            if tag == "a":  # links lead only to the pack's own files and sections
                assert attrs["href"].startswith("#") or (pack / attrs["href"]).is_file()
        page = (pack / name).read_text()
        policies = [
            a["content"] for t, a in index.tags if a.get("http-equiv") == "Content-Security-Policy"
        ]
        assert policies == ["default-src 'none'; style-src 'unsafe-inline'"], name
        assert "@import" not in page and "url(" not in page
    for path in pack.iterdir():
        content = path.read_text(encoding="utf-8")
        assert "http://" not in content and "https://" not in content, path.name


# --- a real browser ---------------------------------------------------------------------------


@pytest.mark.slow
def test_chromium_shows_the_pack_on_a_desktop_and_a_phone_and_prints_it_on_a4(
    pack: Path, tmp_path: Path
) -> None:
    url = (pack / "index.html").as_uri()
    browser = Browser(tmp_path / "profile")
    try:
        for width in (1280, 390):
            browser.open(url, width)
            shot = browser.screenshot()
            assert shot[:8] == PNG and len(shot) > 20_000, width
            (tmp_path / f"index-{width}.png").write_bytes(shot)
            text = browser.evaluate("document.body.innerText")
            for words in ("Summary", "Exceptions", "db-01.example", "restore-tested"):
                assert words in text, (width, words)
            # Nothing is wider than the screen: a phone never scrolls sideways.
            assert browser.evaluate("document.documentElement.scrollWidth") <= width
        browser.media("print")
        browser.open(url, 703)  # A4's width less the page margins, in CSS pixels
        widths = browser.evaluate(
            "Array.from(document.querySelectorAll('table, svg, .tiles, ul.groups'))"
            ".map(e => Math.ceil(e.getBoundingClientRect().right))"
        )
        assert widths and max(widths) <= 703  # no table cut at the right edge of the paper
        assert "Not enough data" in browser.evaluate("document.body.innerText")
        assert_a4_pdf(browser.pdf())
    finally:
        browser.close()


@pytest.mark.slow
def test_chromium_print_to_pdf_gives_a4_pages(pack: Path, tmp_path: Path) -> None:
    pdf = tmp_path / "pack.pdf"
    run_chromium(
        chromium_binary(),
        tmp_path / "profile",
        f"--print-to-pdf={pdf}",
        "--no-pdf-header-footer",
        (pack / "index.html").as_uri(),
    )
    assert_a4_pdf(pdf.read_bytes())


def assert_a4_pdf(data: bytes) -> None:
    assert data.startswith(b"%PDF-")
    boxes = re.findall(rb"/MediaBox\s*\[\s*0 0 ([\d.]+) ([\d.]+)\s*\]", data)
    assert len(boxes) >= 3  # a summary, the evidence and the details do not fit one page
    for width, height in boxes:  # A4 is 595 x 842 points
        assert abs(float(width) - 595) < 2 and abs(float(height) - 842) < 2


# --- S3 ---------------------------------------------------------------------------------------


def test_the_pack_is_written_to_s3_and_read_from_an_s3_lake(
    aws: str, lake: Path, pack: Path
) -> None:
    client = boto3.client("s3")
    client.create_bucket(
        Bucket="audit", CreateBucketConfiguration={"LocationConstraint": "ap-southeast-1"}
    )
    for path in lake.rglob("*"):
        if path.is_file():
            client.put_object(
                Bucket="audit", Key=f"lake/{path.relative_to(lake)}", Body=path.read_bytes()
            )

    assert audit("s3://audit/lake", "s3://audit/packs/2026-11") == 0

    listed = client.list_objects_v2(Bucket="audit", Prefix="packs/2026-11/")["Contents"]
    assert {o["Key"].rsplit("/", 1)[1] for o in listed} == FILES
    manifest = json.loads(
        client.get_object(Bucket="audit", Key="packs/2026-11/manifest.json")["Body"].read()
    )
    assert manifest["lake"] == "s3://audit/lake"
    for name in FILES - {"manifest.json", "index.html", "adherence.html"}:  # pages name the lake
        body = client.get_object(Bucket="audit", Key=f"packs/2026-11/{name}")["Body"].read()
        assert body == (pack / name).read_bytes(), name
        assert manifest["files"][name]["sha256"] == hashlib.sha256(body).hexdigest()
    head = client.head_object(Bucket="audit", Key="packs/2026-11/index.html")
    assert head["ServerSideEncryption"] == "AES256"
