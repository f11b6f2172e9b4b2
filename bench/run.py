"""`make bench`: every benchmark in one run, figures with their baselines and ratios.

Results go to bench/results.json and a table on standard output. Each figure is compared with a
baseline measured in the same run (medians of several runs), except memory, stated absolutely.
The CPU, memory, lake and operations figures are given for both bench generators (`samples`:
derived from the 18 sample logs; `varied`: an account's varied logs, bench/generate.py); the
audit pack's (bench/pack.py) for a month of the varied account.

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
sys.path[:0] = [str(ROOT / "bench"), str(ROOT / "tools")]

import discover  # noqa: E402
import pack  # noqa: E402

import cpu  # noqa: E402
import fetch  # noqa: E402
import inventory  # noqa: E402
import lake  # noqa: E402
import memory  # noqa: E402
import ops  # noqa: E402
import package  # noqa: E402
from generate import GENERATORS  # noqa: E402

MEMORY_MB = 512  # the function's configured memory (template.yaml)
PRICE_GB_S = 0.0000133334  # Lambda arm64, USD per GB-second
CAPPED_RPS = 60  # template default CbrMaxRps
BARE_IMPORTS = "import boto3, requests, pyarrow.parquet"
COLD_RUNS = 15
# What an SQS event adds to a cold start: the App built as the first invocation builds it.
SQS_READY = (
    "import handler; from lib.aws.app import App; from lib.core.settings import Settings; "
    "App.from_settings(Settings(cbr_endpoint='file:///nowhere', lake_uri='/nowhere'))"
)


def cold_imports(folder: Path, python: str, runs: int) -> dict:
    """`import handler` vs the bare imports (and the App an SQS event builds first), each in
    fresh processes of the runtime's Python that see only the package (and the standard
    library) and write no bytecode, in turn; medians."""

    def seconds(statement: str) -> float:
        code = f"import sys; sys.path[:0] = [{str(folder)!r}]; {statement}"
        started = time.perf_counter()
        subprocess.run([python, "-I", "-S", "-B", "-c", code], check=True, cwd=folder)
        return time.perf_counter() - started

    ours, bare, ready = [], [], []
    for _ in range(runs):
        ours.append(seconds("import handler"))
        bare.append(seconds(BARE_IMPORTS))
        ready.append(seconds(SQS_READY))
    ours_s, bare_s = statistics.median(ours), statistics.median(bare)
    ready_s = statistics.median(ready)
    return {
        "runs": runs,
        "import_handler_s": ours_s,
        "bare_imports_s": bare_s,
        "ratio": ours_s / bare_s,
        "sqs_ready_s": ready_s,
        "sqs_ready_ratio": ready_s / bare_s,
    }


def package_figures(runs: int) -> dict:
    """Sizes of the package as pip leaves it and as built (arm64, as deployed, and x86_64), and
    cold starts from both x86_64 ones (Python 3.12, `runs` fresh processes each); the built
    x86_64 package is also proven."""
    python = package.find_runtime_python()
    found: dict = {"runtime_python": python}
    with tempfile.TemporaryDirectory() as work:
        for arch in ("arm64", "x86_64"):
            as_is = package.build(Path(work) / f"{arch}-as-is", arch, prune=False)
            built = package.build(Path(work) / arch, arch, python=python)
            found[arch] = {
                "as_is_mb": as_is.steps[-1][1] / 2**20,
                "built_mb": built.steps[-1][1] / 2**20,
                "steps": [(step, size / 2**20) for step, size in built.steps],
                "notes": built.notes,
            }
        if python is not None:
            found["proof"] = package.check(Path(work) / "x86_64", python)
            found["cold_as_is"] = cold_imports(Path(work) / "x86_64-as-is", python, runs)
            found["cold_built"] = cold_imports(Path(work) / "x86_64", python, runs)
    return found


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
    parser.add_argument("--skip-package", action="store_true", help="no package build")
    args = parser.parse_args()
    quick = args.quick
    started = time.perf_counter()
    results: dict = {}
    results["fetch"] = {
        "uncapped": fetch.uncapped(500 if quick else 2000, 1 if quick else 3),
        "capped": fetch.capped(400 if quick else 2000),
    }
    results["cpu"] = cpu.measure(2000 if quick else 20_000, 1 if quick else 5)
    results["memory"] = memory.measure(1000 if quick else 10_000, 5000 if quick else 100_000)
    results["lake"] = lake.measure(2000 if quick else 20_000, 100_000 if quick else 1_000_000)
    results["ops"] = ops.measure(1000 if quick else 10_000, 10_000 if quick else 100_000)
    results["ops_bodies"] = ops.compaction_bodies()
    results["discovery"] = discover.measure(10_000 if quick else 100_000, 500)
    results["inventory"] = (
        inventory.measure(500, 20, 6000) if quick else inventory.measure(2000, 50, 60_000)
    )
    results["pack"] = pack.measure(27_000, 1 if quick else 3)
    results["cost"] = cost(results["fetch"])
    if not args.skip_package:
        results["package"] = package_figures(3 if quick else COLD_RUNS)
    results["elapsed_s"] = time.perf_counter() - started
    (ROOT / "bench" / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    print(table(results))


def table(r: dict) -> str:
    rows = fetch_rows(r["fetch"])
    for name in GENERATORS:
        rows += generator_rows(name, r)
    rows += invocation_rows("unique names and messages", r["memory"]["unique"])
    rows += hardening_rows(r) + discovery_rows(r["discovery"]) + inventory_rows(r["inventory"])
    rows += pack.rows(r["pack"])
    money = r["cost"]
    rows.append(
        (
            "cost: GB-s per million task logs (512 MB)",
            f"{money['gb_s_per_million_uncapped']:.0f} uncapped, "
            f"{money['gb_s_per_million_at_60_rps']:.0f} at 60 req/s",
            f"${money['usd_per_million_uncapped']:.3f} / ${money['usd_per_million_at_60_rps']:.3f}",
            "",
        ),
    )
    if "package" in r:
        rows += package_rows(r["package"])
    lines = ["| measure | figure | ratio | target |", "| --- | --- | --- | --- |"]
    lines += [f"| {a} | {b} | {c} | {d} |" for a, b, c, d in rows]
    lines.append(f"\nbench ran in {r['elapsed_s']:.0f} s")
    return "\n".join(lines)


Row = tuple[str, str, str, str]


def fetch_rows(f: dict) -> list[Row]:
    uncapped, capped = f["uncapped"], f["capped"]
    return [
        (
            "fetch, uncapped: pipeline vs bare GET loop",
            f"{uncapped['pipeline_s']:.2f} s vs {uncapped['bare_s']:.2f} s",
            f"{uncapped['pipeline_vs_bare']:.2f}x",
            "<= 1.3x",
        ),
        (
            "fetch, uncapped: pipeline vs ideal N x latency / concurrency",
            f"{uncapped['pipeline_s']:.2f} s vs {uncapped['ideal_s']:.2f} s",
            f"{uncapped['pipeline_vs_ideal']:.2f}x",
            "< 3x",
        ),
        (
            "fetch, 200 req/s cap, 50 ms: sustained rate",
            f"{capped['sustained_rps']:.1f} req/s",
            f"{capped['share_of_cap']:.1%} of cap",
            ">= 95%",
        ),
        (
            "fetch, 200 req/s cap: answered 429",
            f"{capped['throttled']} of {capped['requests']}",
            f"{capped['throttled_share']:.2%}",
            "< 1%",
        ),
    ]


def generator_rows(name: str, r: dict) -> list[Row]:
    c, m, lk, o = r["cpu"][name], r["memory"][name], r["lake"][name], r["ops"][name]
    size, back, comp, drain = lk["size"], o["backfill"], o["compaction"], m["drain"]
    levels = ", ".join(
        f"{level}: {v['ratio']:.3f} in {v['encode_s']:.2f} s" for level, v in size["levels"].items()
    )
    return [
        (
            f"[{name}] cpu: bodies -> zstd Parquet, the pipeline (decode + batch path) vs pandas",
            f"{c['batch_records_per_s']:.0f} vs {c['pandas_records_per_s']:.0f} rec/s",
            f"{c['batch_vs_pandas']:.2f}x",
            ">= 2.5x",
        ),
        (
            f"[{name}] cpu: the per-record path vs pandas",
            f"{c['per_record_records_per_s']:.0f} vs {c['pandas_records_per_s']:.0f} rec/s",
            f"{c['per_record_vs_pandas']:.2f}x",
            "",
        ),
        *invocation_rows(name, m),
        (
            f"[{name}] memory: batch path alone, {m['batch_path']['ids']} bodies",
            f"{m['batch_path']['peak_rss_mb']:.0f} MB peak RSS",
            "",
            "",
        ),
        (
            f"[{name}] memory: scheduled drain, {drain['ids']} IDs",
            f"{drain['peak_rss_mb']:.0f} MB peak; RSS "
            f"{drain['rss_second_quarter_mb']:.0f} -> {drain['rss_last_quarter_mb']:.0f} MB",
            f"{drain['rss_growth']:.2f}x growth",
            "flat",
        ),
        (
            f"[{name}] lake: Parquet vs raw JSON bytes (raw_json kept)",
            f"{size['parquet_bytes'] / 2**20:.1f} vs {size['raw_json_bytes'] / 2**20:.1f} MB"
            f" (batch path: {size['batch_parquet_bytes'] / 2**20:.1f} MB)",
            f"{size['ratio']:.2f} ({size['batch_ratio']:.2f})",
            "<= 0.45",
        ),
        (f"[{name}] lake: zstd level: ratio, encoding time", levels, "", ""),
        (
            f"[{name}] lake: daily report over {lk['daily']['rows']:,} rows (DuckDB)",
            f"{lk['daily']['query_s']:.2f} s",
            "",
            "",
        ),
        (
            f"[{name}] backfill {back['tasks']:,} tasks: list API vs one GET per ID",
            f"{back['list_s']:.2f} s ({back['list_requests']} req) vs {back['per_id_s']:.2f} s",
            f"{back['speedup']:.1f}x faster",
            "",
        ),
        (
            f"[{name}] compaction: {comp['files_before']} files, "
            f"{comp['rows_written']:,} rows -> {comp['files_after']}",
            f"{comp['compact_s']:.1f} s, {comp['peak_rss_mb']:.0f} MB peak RSS"
            f" of {comp['function_memory_mb']:,} MB",
            f"{comp['peak_rss_mb'] / comp['function_memory_mb']:.0%} of the function's",
            "",
        ),
        (
            f"[{name}] compaction: daily report before vs after",
            f"{comp['daily_before_s']:.2f} s vs {comp['daily_after_s']:.2f} s",
            f"{comp['daily_speedup']:.1f}x faster",
            "",
        ),
    ]


def invocation_rows(name: str, m: dict) -> list[Row]:
    """One invocation fetched over HTTP and replayed offline from files (file://)."""
    http, replay = m["invocation"], m["replay"]
    return [
        (
            f"[{name}] memory: one invocation, {http['ids']} IDs over HTTP",
            f"{http['peak_rss_mb']:.0f} MB peak RSS",
            "",
            "<= 256 MB",
        ),
        (
            f"[{name}] memory: the same invocation replayed offline (file://) vs over HTTP",
            f"{replay['peak_rss_mb']:.0f} MB vs {http['peak_rss_mb']:.0f} MB peak RSS",
            f"{m['replay_vs_http']:.2f}x",
            "<= 256 MB",
        ),
    ]


def hardening_rows(r: dict) -> list[Row]:
    """What hostile inputs may cost: invalid-ID batches, and compaction of large bodies."""
    invalid = r["memory"][next(iter(GENERATORS))]["invalid_ids"]
    bodies = r["ops_bodies"]
    rows = [
        (
            f"memory: {n} messages of 1,000 invalid IDs vs of 1 invalid ID",
            f"{v['peak_rss_mb']:.0f} MB vs {v['baseline_rss_mb']:.0f} MB peak RSS",
            f"{v['ratio']:.2f}x",
            "<= 256 MB",
        )
        for n, v in invalid.items()
    ]
    rows.append(
        (
            f"compaction: {bodies['rows']:,} error rows of {bodies['body_kb']} KB bodies",
            f"{bodies['peak_rss_mb']:.0f} MB peak RSS vs "
            f"{bodies['import_only_rss_mb']:.0f} MB idle",
            "",
            "of 3,008 MB (was 3.3 GB)",
        )
    )
    return rows


def discovery_rows(d: dict) -> list[Row]:
    backlog, steady = d["backlog"], d["steady"]
    return [
        (
            f"discovery: {d['tasks']:,}-task 30-day backlog, 1,000 per page, 50 ms",
            f"{backlog['seconds']:.1f} s, {backlog['requests']} requests, "
            f"{backlog['peak_rss_mb']:.0f} MB peak RSS",
            f"{backlog['gb_s']:.1f} GB-s",
            "< 150 req, < 256 MB",
        ),
        (
            f"discovery: steady 10-minute pass with {d['new']} new tasks",
            f"{steady['seconds']:.2f} s, {steady['requests']} requests",
            f"{steady['gb_s']:.2f} GB-s",
            "< 5 req per project",
        ),
    ]


def inventory_rows(i: dict) -> list[Row]:
    run = i["snapshot"]
    return [
        (
            f"inventory: one snapshot of {i['resources']:,} resources, {i['vaults']} vaults, "
            f"{i['backups']:,} restore points, {i['latency_s'] * 1000:.0f} ms a request",
            f"{run['seconds']:.1f} s, {run['requests']} requests, {run['peak_rss_mb']:.0f} MB "
            f"peak RSS ({run['idle_rss_mb']:.0f} MB idle)",
            f"{i['vs_bare']:.2f}x the same requests bare",
            f"< {i['budget_s']:.0f} s, < {i['memory_mb']} MB",
        )
    ]


def package_rows(p: dict) -> list[Row]:
    rows = [
        (
            f"package ({arch}): as pip installs it vs built (make package)",
            f"{p[arch]['as_is_mb']:.0f} MB vs {p[arch]['built_mb']:.0f} MB unzipped",
            f"{p[arch]['built_mb'] / p[arch]['as_is_mb']:.2f}",
            "<= 150 MB",
        )
        for arch in ("arm64", "x86_64")
    ]
    for kind, label in (("cold_as_is", "as pip installs it"), ("cold_built", "built")):
        if kind in p:
            cold = p[kind]
            rows.append(
                (
                    f"cold start, x86_64 package {label}, Python 3.12, median of {cold['runs']}:"
                    f" import handler vs {BARE_IMPORTS}",
                    f"{cold['import_handler_s']:.3f} s vs {cold['bare_imports_s']:.3f} s",
                    f"{cold['ratio']:.2f}x",
                    "<= 1.0x",
                )
            )
    if "cold_built" in p:
        cold = p["cold_built"]
        rows.append(
            (
                "cold start, built package: import handler and build the App an SQS event"
                " needs (its imports come with its first event) vs the bare imports",
                f"{cold['sqs_ready_s']:.3f} s vs {cold['bare_imports_s']:.3f} s",
                f"{cold['sqs_ready_ratio']:.2f}x",
                "",
            )
        )
    return rows


if __name__ == "__main__":
    main()
