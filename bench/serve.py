"""Serve generated operation logs from the fake CBR in its own process (for benchmarks).

Prints the base URL on stdout, then serves until stdin closes. `--generator fixed` serves one
small log shape (the fetch benchmarks); `samples` and `varied` serve bench/generate.py's logs,
renamed `task-00000000`, ... in one project, all created on generate.START's day. `--unique`
gives every log a name, vault name and error message of its own (nothing repeats, so nothing
shares memory or a dictionary entry: the heaviest bodies of their size).
"""

from __future__ import annotations

import argparse
import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from fakecbr import FakeCBR, Reply
from generate import GENERATORS

PROJECT = "04f1829c788037ac2fb8c01eb2b04b95"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--ids", type=int, required=True)
    parser.add_argument("--latency", type=float, default=0.02)
    parser.add_argument("--rate-cap", type=float, default=None, help="GETs per second, else 429")
    parser.add_argument("--faults", type=float, default=0.0, help="share of IDs answered 500 once")
    parser.add_argument("--throttles", type=float, default=0.0, help="share answered 429 once")
    parser.add_argument("--generator", choices=["fixed", *GENERATORS], default="fixed")
    parser.add_argument("--unique", action="store_true", help="no name or message repeats")
    args = parser.parse_args()
    rng = random.Random(11)
    with FakeCBR(latency=args.latency) as server:
        server.rate_cap = args.rate_cap
        for n, log in enumerate(served_logs(args.ids, args.generator, unique=args.unique)):
            server.add_log(log)
            draw = rng.random()
            if draw < args.faults:
                server.script(task_id(n), Reply(500, {"error_code": "BackupService.9910"}))
            elif draw < args.faults + args.throttles:
                server.script(task_id(n), Reply(429, headers={"Retry-After": "0"}))
        print(server.base_url, flush=True)
        sys.stdin.readline()  # a line asks for the count of throttled requests; EOF ends
        print(server.throttled, flush=True)
        sys.stdin.read()


def served_logs(count: int, generator: str, *, unique: bool = False) -> list[dict]:
    if generator == "fixed":
        return [sample_log(n) for n in range(count)]
    logs = GENERATORS[generator](count, seed=11, days=1)
    for n, log in enumerate(logs):
        log["id"], log["project_id"] = task_id(n), PROJECT
    return unique_names_and_messages(logs) if unique else logs


def unique_names_and_messages(logs: list[dict]) -> list[dict]:
    """Every log's resource name, vault name and error message made its own."""
    rng = random.Random(13)
    for n, log in enumerate(logs):
        token = f"{n:06d}-{rng.getrandbits(48):012x}"
        resource = log.setdefault("extra_info", {}).get("resource")
        if isinstance(resource, dict):
            resource["name"] = f"{resource.get('name') or 'resource'}-{token}"
        log["vault_name"] = f"{log.get('vault_name') or 'vault'}-{token}"
        error = log.get("error_info") if isinstance(log.get("error_info"), dict) else {}
        message = error.get("message") or f"Operation on {log['vault_name']} reported."
        log["error_info"] = {**error, "message": f"{message} Request {token}: see the trace."}
    return logs


def sample_log(n: int) -> dict:
    return {
        "id": task_id(n),
        "project_id": PROJECT,
        "operation_type": "backup",
        "status": "success",
        "provider_id": "0daac4c5-6707-4851-97ba-169e36266b66",
        "checkpoint_id": f"b432511f-d889-428f-8b0e-{n:012d}",
        "created_at": "2026-11-20T14:31:36.039365",
        "started_at": "2026-11-20T14:31:36.007230",
        "ended_at": "2026-11-20T14:35:23.511155",
        "updated_at": "2026-11-20T14:35:23.584418",
        "error_info": {"code": "", "message": ""},
        "extra_info": {
            "resource": {"type": "OS::Nova::Server", "id": f"res-{n}", "name": f"ecs-{n}"},
            "backup": {"backup_name": f"autobk_{n}", "backup_id": f"bk-{n}"},
            "common": {"progress": 100, "request_id": f"req-{n}"},
        },
    }


def task_id(n: int) -> str:
    return f"task-{n:08d}"


if __name__ == "__main__":
    main()
