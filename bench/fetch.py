"""Fetch-stage benchmark against a fake CBR server in its own process on loopback.

    python bench/fetch.py [--ids 2000] [--runs 3]

1. Uncapped (20 ms latency): N IDs through the real pipeline (fetch + flatten + write) vs a bare
   thread pool of requests GETs with the same concurrency (no parsing, no writing), same run.
2. Rate cap (server answers 429 beyond 200 requests/s, 50 ms latency): the pipeline with
   CBR_MAX_RPS set just under the cap; sustained rate, share of 429s, every ID written.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from lib.aws.app import Root  # noqa: E402
from lib.core.runtime import Deadline  # noqa: E402
from lib.core.settings import Settings  # noqa: E402
from lib.ingest.messages import Message  # noqa: E402
from lib.ingest.pipeline import BatchResult  # noqa: E402

from serve import task_id  # noqa: E402

PROJECT = "04f1829c788037ac2fb8c01eb2b04b95"


class FakeServer:
    """bench/serve.py in a child process."""

    def __init__(self, process: subprocess.Popen[str], base_url: str) -> None:
        self.process, self.base_url = process, base_url

    def throttled(self) -> int:
        assert self.process.stdin and self.process.stdout
        self.process.stdin.write("\n")
        self.process.stdin.flush()
        return int(self.process.stdout.readline())


@contextmanager
def fake_server(
    ids: int,
    latency: float,
    rate_cap: float | None = None,
    *extra: str,
    generator: str = "fixed",
) -> Iterator[FakeServer]:
    command = [sys.executable, str(ROOT / "bench" / "serve.py"), "--ids", str(ids)]
    command += ["--latency", str(latency), "--generator", generator, *extra]
    if rate_cap:
        command += ["--rate-cap", str(rate_cap)]
    process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout
        yield FakeServer(process, process.stdout.readline().strip())
    finally:
        if process.stdin:
            process.stdin.close()
        process.wait(timeout=30)


def run_pipeline(
    base_url: str, ids: list[str], concurrency: int, max_rps: float | None = None
) -> tuple[float, BatchResult]:
    with tempfile.TemporaryDirectory() as lake:
        settings = Settings(
            cbr_endpoint=base_url,
            project_id=PROJECT,
            lake_uri=lake,
            fetch_concurrency=concurrency,
            max_rps=max_rps,
            max_attempts=10,
        )
        pipeline = Root(settings).pipeline()
        messages = [Message(f"m{i}", json.dumps(ids[i : i + 10])) for i in range(0, len(ids), 10)]
        started = time.perf_counter()
        result = pipeline.process(messages, Deadline.after(600))
        return time.perf_counter() - started, result


def bare_gets(base_url: str, ids: list[str], concurrency: int) -> float:
    session = requests.Session()
    session.mount("http://", requests.adapters.HTTPAdapter(pool_maxsize=concurrency))

    def get(log_id: str) -> int:
        url = f"{base_url}/v3/{PROJECT}/operation-logs/{log_id}"
        return len(session.get(url, timeout=10).content)

    started = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(get, ids))
    return time.perf_counter() - started


def uncapped(ids: int, runs: int, latency: float = 0.02, concurrency: int = 16) -> dict:
    names = [task_id(n) for n in range(ids)]
    with fake_server(ids, latency) as server:
        bare = [bare_gets(server.base_url, names, concurrency) for _ in range(runs)]
        full = []
        for _ in range(runs):
            elapsed, result = run_pipeline(server.base_url, names, concurrency)
            assert not result.failed and result.counts.rows == ids, result.summary()
            full.append(elapsed)
    ideal = ids * latency / concurrency
    bare_s, full_s = statistics.median(bare), statistics.median(full)
    return {
        "ids": ids,
        "latency_ms": latency * 1000,
        "concurrency": concurrency,
        "ideal_s": ideal,
        "bare_s": bare_s,
        "pipeline_s": full_s,
        "pipeline_vs_bare": full_s / bare_s,
        "pipeline_vs_ideal": full_s / ideal,
    }


def capped(ids: int, cap: float = 200, latency: float = 0.05, client_rps: float = 196) -> dict:
    names = [task_id(n) for n in range(ids)]
    with fake_server(ids, latency, rate_cap=cap) as server:
        elapsed, result = run_pipeline(server.base_url, names, 16, max_rps=client_rps)
        throttled = server.throttled()
    requests_sent = result.counts.requests
    return {
        "ids": ids,
        "cap_rps": cap,
        "client_max_rps": client_rps,
        "sustained_rps": ids / elapsed,
        "share_of_cap": ids / elapsed / cap,
        "requests": requests_sent,
        "throttled": throttled,
        "throttled_share": throttled / max(1, requests_sent),
        "all_written": result.counts.rows == ids and not result.failed,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ids", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    print(
        json.dumps(
            {"uncapped": uncapped(args.ids, args.runs), "capped": capped(args.ids)}, indent=2
        )
    )


if __name__ == "__main__":
    main()
