"""The audit pack of a month of 600 resources: pages printed, bytes, and the time a browser
takes to open each page.

The lake is one month (October 2026) of the varied generator's account (bench/generate.py: 600
resources in 3 projects; 27,000 tasks, about one backup per resource and day, so every resource
misses days and most controls have hundreds of exceptions), with each project's discovery
watermark at the month's end. Over it, as an operator runs them: `python -m lib audit` and
`python -m lib report all --format html`. Headless Chromium prints the pack's index.html to A4
with `--print-to-pdf` (the pages counted in the PDF) and opens each page over its DevTools pipe
(tests/functional/reports/browser.py): navigation to the load event and a layout of the whole
page, the median of `--runs`, beside the same for a page of one line (the baseline).

    python bench/pack.py [--logs 27000] [--runs 3] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]
sys.path.append(str(ROOT / "tests" / "functional" / "reports"))  # the DevTools driver

from browser import FLAGS, Browser  # noqa: E402

from lib.ingest.watermark import ProjectState, state_key  # noqa: E402
from lib.lake.storage import LocalStore  # noqa: E402
from lib.lake.writer import Lake  # noqa: E402

from generate import make_varied_logs  # noqa: E402
from lake import batch_table  # noqa: E402

PERIOD = ["--since", "2026-10-01", "--until", "2026-10-31", "--now", "2026-11-01T06:00:00Z"]
MONTH_END = datetime(2026, 11, 1, tzinfo=UTC)
TARGET_PAGES = 40
TARGET_BYTES = 2_000_000
PAGE_OBJECT = re.compile(rb"/Type\s*/Page(?![a-zA-Z])")


def build_lake(folder: Path, logs: int) -> int:
    """The month's lake, written as the batch path writes it; returns the resources in it."""
    generated = make_varied_logs(logs, days=31)
    Lake(LocalStore(folder)).write(batch_table(generated, MONTH_END), [])
    store = LocalStore(folder)
    for project in sorted({log["project_id"] for log in generated}):
        state = ProjectState(watermark=MONTH_END, listed_from=MONTH_END - timedelta(days=40))
        store.put(state_key(project), state.to_json(MONTH_END))
    return len({log["extra_info"].get("resource", {}).get("id") for log in generated} - {None})


def run_cli(*args: str) -> float:
    """One `python -m lib` command, as an operator runs it; its wall time."""
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "lib", *args], cwd=ROOT, check=True, capture_output=True, text=True
    )
    return time.perf_counter() - started


def chromium() -> str | None:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    return found or ("/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None)


def printed_pages(binary: str, page: Path, work: Path) -> dict:
    """`chromium --headless --print-to-pdf`, as the docs tell an auditor; the PDF's pages."""
    pdf = work / f"{page.stem}.pdf"
    started = time.perf_counter()
    subprocess.run(
        [
            binary,
            *FLAGS,
            f"--user-data-dir={work / 'print-profile'}",
            f"--print-to-pdf={pdf}",
            "--no-pdf-header-footer",
            page.as_uri(),
        ],
        check=True,
        capture_output=True,
        timeout=1800,
    )
    seconds = time.perf_counter() - started
    data = pdf.read_bytes()
    return {"pages": len(PAGE_OBJECT.findall(data)), "pdf_bytes": len(data), "print_s": seconds}


def load_seconds(browser: Browser, page: Path, runs: int) -> float:
    """Median time from navigation to the load event and a layout of the whole page."""
    times = []
    for _ in range(runs):
        browser.open("about:blank", 1280)
        started = time.perf_counter()
        browser.open(page.as_uri(), 1280)
        browser.evaluate("document.documentElement.scrollHeight")  # forces the layout
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def open_times(pages: dict[str, Path], work: Path, runs: int) -> dict[str, float]:
    blank = work / "one-line.html"
    blank.write_text("<!DOCTYPE html><title>one line</title><p>one line</p>\n")
    browser = Browser(work / "load-profile")
    try:
        found = {"one_line_page_s": load_seconds(browser, blank, runs)}
        for name, page in pages.items():
            found[f"{name}_s"] = load_seconds(browser, page, runs)
    finally:
        browser.close()
    return found


def measure(logs: int = 27_000, runs: int = 3, keep: Path | None = None) -> dict:
    with tempfile.TemporaryDirectory() as temporary:
        work = keep or Path(temporary)
        work.mkdir(parents=True, exist_ok=True)
        lake, pack, everything = work / "lake", work / "pack", work / "all.html"
        for old in (lake, pack):
            shutil.rmtree(old, ignore_errors=True)
        resources = build_lake(lake, logs)
        audit_s = run_cli("audit", "--lake", str(lake), *PERIOD, "--out", str(pack))
        report_s = run_cli(
            "report", "all", "--lake", str(lake), *PERIOD, "--format", "html", "--out",
            str(everything),
        )  # fmt: skip
        manifest = json.loads((pack / "manifest.json").read_text())
        pages = {name: pack / name for name in sorted(manifest["files"]) if name.endswith(".html")}
        found: dict = {
            "tasks": logs,
            "resources": resources,
            "exceptions": exceptions(pack),
            "audit_s": audit_s,
            "report_all_s": report_s,
            "bytes": {name: path.stat().st_size for name, path in pages.items()},
            "report_all_bytes": everything.stat().st_size,
            "pack_bytes": sum(entry["bytes"] for entry in manifest["files"].values()),
        }
        binary = chromium()
        if binary is None:
            found["browser"] = "chromium not installed: no pages printed or opened"
            return found
        found["print"] = printed_pages(binary, pack / "index.html", work)
        opened = {name.replace(".html", ""): path for name, path in pages.items()}
        found["open"] = open_times(opened | {"report_all": everything}, work, runs)
        return found


def exceptions(pack: Path) -> dict[str, int]:
    rows = json.loads((pack / "resource-compliance.json").read_text())["rows"]
    counted = {"NON_COMPLIANT": 0, "INSUFFICIENT_DATA": 0, "COMPLIANT": 0}
    for row in rows:
        counted[row["status"]] += 1
    return counted


def rows(found: dict) -> list[tuple[str, str, str, str]]:
    """The table lines bench/run.py prints."""
    about = f"{found['resources']} resources, {found['tasks']:,} tasks, one month"
    bad = found["exceptions"]["NON_COMPLIANT"] + found["exceptions"]["INSUFFICIENT_DATA"]
    sizes = ", ".join(f"{name} {size / 1e6:.2f} MB" for name, size in found["bytes"].items())
    lines = [
        (
            f"audit pack of {about}: {bad:,} exceptions",
            f"audit {found['audit_s']:.1f} s, report all {found['report_all_s']:.1f} s",
            "",
            "",
        ),
        (
            "audit pack: page sizes",
            sizes,
            f"largest {max(found['bytes'].values()) / TARGET_BYTES:.2f}x the target",
            "< 2 MB each",
        ),
        (
            "report all --format html: bytes",
            f"{found['report_all_bytes'] / 1e6:.2f} MB",
            f"{found['report_all_bytes'] / TARGET_BYTES:.2f}x the target",
            "< 2 MB",
        ),
    ]
    if "print" not in found:
        return [*lines, ("audit pack: printed and opened", found["browser"], "", "")]
    printed, opened = found["print"], found["open"]
    lines.append(
        (
            "audit pack: index.html printed to A4 (chromium --print-to-pdf)",
            f"{printed['pages']} pages, {printed['pdf_bytes'] / 1e6:.1f} MB PDF, "
            f"in {printed['print_s']:.1f} s",
            f"{printed['pages'] / TARGET_PAGES:.2f}x the target",
            "<= 40 pages",
        )
    )
    base = opened["one_line_page_s"]
    for name, seconds in opened.items():
        if name != "one_line_page_s":
            lines.append(
                (
                    f"browser opens {name.removesuffix('_s')} (load + layout) vs a one-line page",
                    f"{seconds:.2f} s vs {base:.2f} s",
                    f"{seconds / base:.1f}x",
                    "< 1 s",
                )
            )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--logs", type=int, default=27_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--keep", type=Path, help="build in this folder and leave it there")
    args = parser.parse_args()
    found = measure(args.logs, args.runs, args.keep)
    print(json.dumps(found, indent=2))
    print("\n".join(f"| {a} | {b} | {c} | {d} |" for a, b, c, d in rows(found)))


if __name__ == "__main__":
    main()
