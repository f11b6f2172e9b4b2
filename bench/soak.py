"""Soak: 50,000 IDs through repeated warm invocations against a fake CBR with 1% 5xx and 1% 429.

Checks the delivery invariant for every invocation, redelivers what failed (as SQS would) until
nothing is left, verifies every ID ends as exactly one row in the latest view, and compares the
process's RSS after invocation 1 with the last. Loopback only, bounded in requests and time.

    python bench/soak.py [--ids 50000] [--per-invocation 1000] [--generator varied]

Without --generator it soaks once with each bench generator's logs.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]

from lib.aws.app import App  # noqa: E402
from lib.core.schema import DATA_TABLE  # noqa: E402
from lib.core.settings import Settings  # noqa: E402
from lib.lake.reader import open_table  # noqa: E402

from fetch import fake_server  # noqa: E402
from generate import GENERATORS  # noqa: E402
from serve import task_id  # noqa: E402

PROJECT = "04f1829c788037ac2fb8c01eb2b04b95"
MAX_ROUNDS = 5  # redeliveries of a message before the soak calls it lost


class Budget:
    budget_s = 300.0
    aws_request_id = "soak"

    def get_remaining_time_in_millis(self) -> int:
        return int(self.budget_s * 1000)


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def event(messages: dict[str, list[str]]) -> dict:
    return {
        "Records": [
            {"messageId": mid, "body": json.dumps(ids), "eventSource": "aws:sqs"}
            for mid, ids in messages.items()
        ]
    }


def soak(total: int, per_invocation: int, generator: str) -> dict:
    started = time.perf_counter()
    faults = ("--faults", "0.01", "--throttles", "0.01")
    with (
        fake_server(total, 0.002, None, *faults, generator=generator) as server,
        tempfile.TemporaryDirectory() as lake,
    ):
        settings = Settings(
            cbr_endpoint=server.base_url,
            project_id=PROJECT,
            lake_uri=lake,
            log_level="ERROR",
            backoff_base_s=0.05,
        )
        app = App.from_settings(settings)
        names = [task_id(n) for n in range(total)]
        pending = {f"m{start // 10}": names[start : start + 10] for start in range(0, total, 10)}
        rss: list[float] = []
        redelivered = 0
        for _round in range(MAX_ROUNDS):
            queue = list(pending.items())
            pending = {}
            for start in range(0, len(queue), per_invocation // 10):
                batch = dict(queue[start : start + per_invocation // 10])
                response = app.handle(event(batch), Budget())
                failed = {item["itemIdentifier"] for item in response["batchItemFailures"]}
                pending.update({mid: batch[mid] for mid in failed})
                rss.append(rss_mb())
            redelivered += len(pending)
            if not pending:
                break
        table = open_table(lake, DATA_TABLE).to_table(columns=["id"])
        ids = table["id"].to_pylist()
    return {
        "generator": generator,
        "ids": total,
        "invocations": len(rss),
        "redelivered_messages": redelivered,
        "lost_messages": len(pending),
        "rows": len(ids),
        "distinct_ids": len(set(ids)),
        "all_ids_written": set(ids) == set(names),
        "rss_after_first_mb": rss[0],
        "rss_after_last_mb": rss[-1],
        "rss_growth": rss[-1] / rss[0],
        "elapsed_s": time.perf_counter() - started,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ids", type=int, default=50_000)
    parser.add_argument("--per-invocation", type=int, default=1000)
    parser.add_argument("--generator", choices=sorted(GENERATORS), default=None, help="else both")
    args = parser.parse_args()
    ok = True
    for generator in [args.generator] if args.generator else list(GENERATORS):
        result = soak(args.ids, args.per_invocation, generator)
        print(json.dumps(result, indent=2))
        ok &= result["all_ids_written"] and not result["lost_messages"]
        ok &= result["rss_growth"] < 1.25
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
