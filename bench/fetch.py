"""Fetch-stage benchmark: N IDs through the real pipeline vs the latency-ideal time.

    python bench/fetch.py [--ids 2000] [--latency 0.02] [--concurrency 16] [--runs 3]

The fake CBR server runs in its own process. The baseline is a bare thread pool of requests GETs
with the same concurrency (no parsing, no writing), measured in the same run.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from serve import task_id  # noqa: E402

from lib.pipeline import Message, build_pipeline  # noqa: E402
from lib.runtime import Deadline  # noqa: E402
from lib.settings import Settings  # noqa: E402

PROJECT = "04f1829c788037ac2fb8c01eb2b04b95"


def pipeline_seconds(base_url: str, ids: list[str], concurrency: int) -> float:
    with tempfile.TemporaryDirectory() as lake:
        settings = Settings(
            cbr_endpoint=base_url, project_id=PROJECT, lake_uri=lake, fetch_concurrency=concurrency
        )
        pipeline = build_pipeline(settings)
        messages = [Message(f"m{i}", json.dumps(ids[i : i + 10])) for i in range(0, len(ids), 10)]
        started = time.perf_counter()
        result = pipeline.process(messages, Deadline.after(600))
        elapsed = time.perf_counter() - started
        assert not result.failed and result.data_rows == len(ids), result.summary()
        return elapsed


def bare_get_seconds(base_url: str, ids: list[str], concurrency: int) -> float:
    session = requests.Session()
    adapter = requests.adapters.HTTPAdapter(pool_maxsize=concurrency)
    session.mount("http://", adapter)

    def get(log_id: str) -> int:
        url = f"{base_url}/v3/{PROJECT}/operation-logs/{log_id}"
        return len(session.get(url, timeout=10).content)

    started = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(get, ids))
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ids", type=int, default=2000)
    parser.add_argument("--latency", type=float, default=0.02)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    server = subprocess.Popen(
        [
            sys.executable,
            str(ROOT / "bench" / "serve.py"),
            "--ids",
            str(args.ids),
            "--latency",
            str(args.latency),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        base_url = server.stdout.readline().strip()
        ids = [task_id(n) for n in range(args.ids)]
        ideal = args.ids * args.latency / args.concurrency
        bare = [bare_get_seconds(base_url, ids, args.concurrency) for _ in range(args.runs)]
        full = [pipeline_seconds(base_url, ids, args.concurrency) for _ in range(args.runs)]
    finally:
        server.stdin.close()
        server.wait(timeout=30)
    bare_s, full_s = statistics.median(bare), statistics.median(full)
    print(
        f"fetch: {args.ids} IDs, {args.latency * 1000:.0f} ms latency,"
        f" concurrency {args.concurrency}"
    )
    print(f"  ideal (N x latency / concurrency)   {ideal:7.2f} s")
    print(f"  bare requests thread pool (median)  {bare_s:7.2f} s  = {bare_s / ideal:.2f}x ideal")
    print(
        f"  pipeline fetch+flatten+write (med.) {full_s:7.2f} s  = {full_s / ideal:.2f}x ideal, "
        f"{full_s / bare_s:.2f}x bare"
    )


if __name__ == "__main__":
    main()
