"""`make bench`: every benchmark in one run, figures with their baselines and ratios.

Results go to bench/results.json and a table on standard output. Each figure is compared with a
baseline measured in the same run (medians of several runs), except memory, stated absolutely.

    python bench/run.py [--quick] [--skip-package]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

import cpu  # noqa: E402
import fetch  # noqa: E402
import lake  # noqa: E402
import memory  # noqa: E402
import ops  # noqa: E402

MEMORY_MB = 512  # the function's configured memory (template.yaml)
PRICE_GB_S = 0.0000133334  # Lambda arm64, USD per GB-second
CAPPED_RPS = 60  # template default CbrMaxRps


def cold_start(runs: int = 7) -> dict:
    def seconds(code: str) -> float:
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True)
        return time.perf_counter() - started

    ours, bare = [], []
    for _ in range(runs):
        ours.append(seconds("import handler"))
        bare.append(seconds("import boto3, requests, pyarrow.parquet"))
    ours_s, bare_s = statistics.median(ours), statistics.median(bare)
    return {"import_handler_s": ours_s, "bare_imports_s": bare_s, "ratio": ours_s / bare_s}


def package_size() -> dict:
    with tempfile.TemporaryDirectory() as target:
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                "--platform",
                "manylinux_2_28_aarch64",
                "--platform",
                "manylinux2014_aarch64",
                "--implementation",
                "cp",
                "--python-version",
                "3.12",
                "--only-binary=:all:",
                "--target",
                target,
                "-r",
                str(ROOT / "requirements.txt"),
            ],
            check=True,
        )
        dependencies = sum(p.stat().st_size for p in Path(target).rglob("*") if p.is_file())
    code = sum(
        p.stat().st_size
        for p in [ROOT / "handler.py", *(ROOT / "lib").rglob("*")]
        if p.is_file() and "__pycache__" not in p.parts
    )
    return {"dependencies_mb": dependencies / 2**20, "code_mb": code / 2**20}


def cost(fetch_result: dict) -> dict:
    per_id_s = fetch_result["uncapped"]["pipeline_s"] / fetch_result["uncapped"]["ids"]
    gb = MEMORY_MB / 1024
    uncapped = gb * per_id_s * 1_000_000
    capped = gb * (1 / CAPPED_RPS) * 1_000_000
    return {
        "gb_s_per_million_uncapped": uncapped,
        "usd_per_million_uncapped": uncapped * PRICE_GB_S,
        "gb_s_per_million_at_60_rps": capped,
        "usd_per_million_at_60_rps": capped * PRICE_GB_S,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes, for a smoke run")
    parser.add_argument("--skip-package", action="store_true", help="no download for the size")
    args = parser.parse_args()
    quick = args.quick
    started = time.perf_counter()
    results: dict = {}
    results["fetch"] = {
        "uncapped": fetch.uncapped(500 if quick else 2000, 1 if quick else 3),
        "capped": fetch.capped(400 if quick else 2000),
    }
    results["cpu"] = cpu.measure(2000 if quick else 20_000, 1 if quick else 5)
    results["cold_start"] = cold_start(3 if quick else 7)
    results["memory"] = memory.measure(1000 if quick else 10_000, 5000 if quick else 100_000)
    results["lake"] = {
        "size": lake.size_ratio(2000 if quick else 20_000),
        "daily": lake.daily_query(100_000 if quick else 1_000_000),
    }
    results["ops"] = {
        "backfill": ops.backfill_ratio(1000 if quick else 10_000),
        "compaction": ops.compaction(10_000 if quick else 100_000),
        "compaction_bodies": ops.compaction_bodies(),
    }
    results["cost"] = cost(results["fetch"])
    if not args.skip_package:
        results["package"] = package_size()
    results["elapsed_s"] = time.perf_counter() - started
    (ROOT / "bench" / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    print(table(results))


def table(r: dict) -> str:
    f, c, m, lk = r["fetch"], r["cpu"], r["memory"], r["lake"]
    cold, money, size = r["cold_start"], r["cost"], lk["size"]
    rows = [
        (
            "fetch, uncapped: pipeline vs bare GET loop",
            f"{f['uncapped']['pipeline_s']:.2f} s vs {f['uncapped']['bare_s']:.2f} s",
            f"{f['uncapped']['pipeline_vs_bare']:.2f}x",
            "<= 1.3x",
        ),
        (
            "fetch, uncapped: pipeline vs ideal N x latency / concurrency",
            f"{f['uncapped']['pipeline_s']:.2f} s vs {f['uncapped']['ideal_s']:.2f} s",
            f"{f['uncapped']['pipeline_vs_ideal']:.2f}x",
            "< 3x",
        ),
        (
            "fetch, 200 req/s cap, 50 ms: sustained rate",
            f"{f['capped']['sustained_rps']:.1f} req/s",
            f"{f['capped']['share_of_cap']:.1%} of cap",
            ">= 95%",
        ),
        (
            "fetch, 200 req/s cap: answered 429",
            f"{f['capped']['throttled']} of {f['capped']['requests']}",
            f"{f['capped']['throttled_share']:.2%}",
            "< 1%",
        ),
        (
            "cpu: bodies -> zstd Parquet vs pandas",
            f"{c['oplog_lake_records_per_s']:.0f} vs {c['pandas_records_per_s']:.0f} rec/s",
            f"{c['speedup_vs_pandas']:.2f}x",
            ">= 2.5x",
        ),
        (
            "cold start: import handler vs boto3+requests+pyarrow.parquet",
            f"{cold['import_handler_s']:.2f} s vs {cold['bare_imports_s']:.2f} s",
            f"{cold['ratio']:.2f}x",
            "<= 1.0x",
        ),
        (
            f"memory: one invocation, {m['invocation']['ids']} IDs",
            f"{m['invocation']['peak_rss_mb']:.0f} MB peak RSS",
            "",
            "<= 256 MB",
        ),
        (
            f"memory: scheduled drain, {m['drain']['ids']} IDs",
            f"{m['drain']['peak_rss_mb']:.0f} MB peak RSS",
            f"{m['drain_vs_invocation']:.2f}x",
            "<= 1.25x",
        ),
        *(
            (
                f"memory: {n} messages of 1,000 invalid IDs vs of 1 invalid ID",
                f"{v['peak_rss_mb']:.0f} MB vs {v['baseline_rss_mb']:.0f} MB peak RSS",
                f"{v['ratio']:.2f}x",
                "<= 256 MB",
            )
            for n, v in m["invalid_ids"].items()
        ),
        (
            "lake: Parquet bytes vs raw JSON bytes",
            f"{size['parquet_bytes'] / 2**20:.1f} vs {size['raw_json_bytes'] / 2**20:.1f} MB",
            f"{size['ratio']:.2f}",
            "<= 0.45",
        ),
        (
            f"lake: daily report over {lk['daily']['rows']:,} rows (DuckDB)",
            f"{lk['daily']['query_s']:.2f} s",
            "",
            "",
        ),
        (
            f"backfill {r['ops']['backfill']['tasks']:,} tasks: list API vs one GET per ID",
            f"{r['ops']['backfill']['list_s']:.2f} s ({r['ops']['backfill']['list_requests']} req)"
            f" vs {r['ops']['backfill']['per_id_s']:.2f} s",
            f"{r['ops']['backfill']['speedup']:.1f}x faster",
            "",
        ),
        (
            f"compaction: {r['ops']['compaction']['files_before']} files, "
            f"{r['ops']['compaction']['rows_written']:,} rows -> "
            f"{r['ops']['compaction']['files_after']}",
            f"{r['ops']['compaction']['compact_s']:.1f} s, "
            f"{r['ops']['compaction']['peak_rss_mb']:.0f} MB peak RSS",
            "",
            "",
        ),
        (
            "compaction: daily report before vs after",
            f"{r['ops']['compaction']['daily_before_s']:.2f} s vs "
            f"{r['ops']['compaction']['daily_after_s']:.2f} s",
            f"{r['ops']['compaction']['daily_speedup']:.1f}x faster",
            "",
        ),
        (
            f"compaction: {r['ops']['compaction_bodies']['rows']:,} error rows of "
            f"{r['ops']['compaction_bodies']['body_kb']} KB bodies in "
            f"{r['ops']['compaction_bodies']['files']} files",
            f"{r['ops']['compaction_bodies']['peak_rss_mb']:.0f} MB peak RSS vs "
            f"{r['ops']['compaction_bodies']['import_only_rss_mb']:.0f} MB idle",
            "",
            "<= 512 MB (was 3.3 GB)",
        ),
        (
            "cost: GB-s per million task logs (512 MB)",
            f"{money['gb_s_per_million_uncapped']:.0f} uncapped, "
            f"{money['gb_s_per_million_at_60_rps']:.0f} at 60 req/s",
            f"${money['usd_per_million_uncapped']:.3f} / ${money['usd_per_million_at_60_rps']:.3f}",
            "",
        ),
    ]
    if "package" in r:
        rows.append(
            (
                "package: dependencies + code, unzipped (arm64)",
                f"{r['package']['dependencies_mb']:.0f} + {r['package']['code_mb']:.1f} MB",
                "",
                "< 250 MB",
            )
        )
    lines = ["| measure | figure | ratio | target |", "| --- | --- | --- | --- |"]
    lines += [f"| {a} | {b} | {c} | {d} |" for a, b, c, d in rows]
    lines.append(f"\nbench ran in {r['elapsed_s']:.0f} s")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
