"""Discovery benchmark: a 30-day backlog through the list API, then a steady-state pass.

    python bench/discover.py [--tasks 100000] [--new 500]

The fake CBR runs in its own process with TASKS logs spread over the last 30 days (1,000 per
page, 50 ms a request). A first discovery pass, in a fresh process, lists the whole backlog into
a local lake; then NEW tasks arrive in the last ten minutes and a second pass (the schedule's
steady state) lists from the watermark less the 24-hour lookback. Each pass reports its wall
time, list requests, rows written and peak RSS (VmHWM of its process). GB-s is the pass's time
at the function's 512 MB. Targets: the backlog in fewer than 150 requests and 256 MB; a steady
pass in fewer than 5 requests per project.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))
PROJECT = "04f1829c788037ac2fb8c01eb2b04b95"
LATENCY_S = 0.05
MEMORY_GB = 0.5
DAYS = 30


def task(n: int, created: datetime) -> dict:
    stamp = created.isoformat(timespec="microseconds").replace("+00:00", "Z")
    return {
        "id": f"disc-{n:08d}",
        "project_id": PROJECT,
        "operation_type": ("backup", "replication", "restore", "delete")[n % 4],
        "status": "success" if n % 9 else "failed",
        "provider_id": "0daac4c5-6707-4851-97ba-169e36266b66",
        "checkpoint_id": f"b432511f-d889-428f-8b0e-{n:012d}",
        "created_at": stamp,
        "started_at": stamp,
        "ended_at": stamp,
        "updated_at": stamp,
        "error_info": {"code": "", "message": ""},
        "extra_info": {
            "resource": {"type": "OS::Nova::Server", "id": f"res-{n % 5000}", "name": f"ecs-{n}"},
            "backup": {"backup_name": f"autobk_{n}", "backup_id": f"bk-{n}"},
            "common": {"progress": 100, "request_id": f"req-{n}"},
        },
    }


def serve(tasks: int) -> None:
    """The fake list API: TASKS logs over the last 30 days; `add K` on stdin adds K new ones."""
    from fakecbr import FakeCBR

    now = datetime.now(UTC)
    with FakeCBR(latency=LATENCY_S) as server:
        for n in range(tasks):
            server.add_log(task(n, now - timedelta(hours=1) - timedelta(days=DAYS) * n / tasks))
        print(server.base_url, flush=True)
        next_id = tasks
        for line in sys.stdin:
            count = int(line.split()[1])
            moment = datetime.now(UTC)
            for n in range(next_id, next_id + count):
                server.add_log(task(n, moment - timedelta(minutes=10) * (n - next_id) / count))
            next_id += count
            print("ok", flush=True)


def one_pass(base_url: str, lake: str) -> None:
    """A discovery pass in this (fresh) process; prints what it did and its peak RSS."""
    from lib.aws.app import Root
    from lib.core.runtime import Deadline
    from lib.core.settings import Settings

    env = {
        "CBR_ENDPOINT": base_url,
        "CBR_PROJECT_ID": PROJECT,
        "DISCOVER_START": (datetime.now(UTC) - timedelta(days=DAYS + 1)).isoformat(),
        "LOG_LEVEL": "ERROR",
    }
    root = Root(Settings.from_env(env, lake_uri=lake))
    started = time.perf_counter()
    (run,) = root.discovery.run([PROJECT], Deadline.after(3600))
    seconds = time.perf_counter() - started
    peak_kb = next(
        int(line.split()[1])
        for line in Path("/proc/self/status").read_text().splitlines()
        if line.startswith("VmHWM:")
    )
    print(
        json.dumps(
            {
                "seconds": seconds,
                "requests": run.requests,
                "pages": run.pages,
                "listed": run.listed,
                "new_rows": run.new_rows,
                "stopped_by": run.stopped_by,
                "peak_rss_mb": peak_kb / 1024,
                "gb_s": seconds * MEMORY_GB,
            }
        )
    )


def child_pass(base_url: str, lake: str) -> dict:
    output = subprocess.run(
        [sys.executable, __file__, "--pass", base_url, lake],
        capture_output=True,
        text=True,
        check=True,
        timeout=3600,
    ).stdout
    return dict(json.loads(output.strip().splitlines()[-1]))


def measure(tasks: int, new: int) -> dict:
    server = subprocess.Popen(
        [sys.executable, __file__, "--serve", str(tasks)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert server.stdin and server.stdout
    try:
        base_url = server.stdout.readline().strip()
        with tempfile.TemporaryDirectory() as lake:
            backlog = child_pass(base_url, lake)
            server.stdin.write(f"add {new}\n")
            server.stdin.flush()
            server.stdout.readline()
            steady = child_pass(base_url, lake)
    finally:
        server.stdin.close()
        server.wait(timeout=60)
    assert backlog["new_rows"] == tasks and backlog["stopped_by"] == "done", backlog
    assert steady["new_rows"] == new and steady["stopped_by"] == "done", steady
    return {"tasks": tasks, "new": new, "backlog": backlog, "steady": steady}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=100_000)
    parser.add_argument("--new", type=int, default=500)
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--pass", dest="one_pass", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve is not None:
        serve(args.serve)
    elif args.one_pass:
        one_pass(*args.one_pass)
    else:
        print(json.dumps(measure(args.tasks, args.new), indent=2))


if __name__ == "__main__":
    main()
