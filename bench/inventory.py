"""Inventory benchmark: one snapshot of an account of 2,000 resources, 50 vaults and 60,000
restore points through the fake list APIs on loopback, within the function's budget.

    python bench/inventory.py [--resources 2000] [--vaults 50] [--backups 60000]

The fake CBR (tests/fakecbr.py with tests/fake_inventory.py) runs in its own process, serving the
account bench/generate.py draws (`varied_account`, `make_inventory`: one project, some resources
in no vault, some vaults without a policy), 50 ms a request. The snapshot runs in a fresh process
under the function's deadline (300 s less its safety margin) and reports its wall time, requests,
rows, bytes written and peak RSS (VmHWM), beside the RSS after imports. The baseline, measured in
the same run: the same requests in a bare loop (one session, each body decoded, nothing kept), so
the ratio is what flattening and writing add to listing. Targets: published, under 300 s and
512 MB.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests"), str(ROOT / "bench")]
LATENCY_S = 0.05
BUDGET_S = 300.0  # template.yaml: Timeout
MEMORY_MB = 512  # template.yaml: MemorySize
TYPES = ("server", "disk", "turbo")  # INVENTORY_TYPES' default


def serve(resources: int, vaults: int, backups: int) -> None:
    """The fake API with the generated account; prints its URL, project and expected rows."""
    from fake_inventory import FakeInventory
    from fakecbr import FakeCBR
    from generate import make_inventory, varied_account

    account = varied_account(7, projects=1, vaults=vaults, resources=resources)
    ((project, listed),) = make_inventory(account, backups=backups).items()
    with FakeCBR(latency=LATENCY_S) as server:
        server.inventory = FakeInventory()
        held = server.inventory.account(project)
        held.vaults, held.policies, held.backups = (
            listed["vaults"],
            listed["policies"],
            listed["backups"],
        )
        held.protectables = listed["protectables"]
        expected = {
            "vaults": len(listed["vaults"]),
            "vault_resources": sum(len(v["resources"]) for v in listed["vaults"]),
            "policies": len(listed["policies"]),
            "protectables": sum(len(listed["protectables"].get(t, [])) for t in TYPES),
            "backups": len(listed["backups"]),
        }
        print(
            json.dumps({"url": server.base_url, "project": project, "expected": expected}),
            flush=True,
        )
        sys.stdin.read()  # until the parent closes it


def _rss_mb(field: str) -> float:
    line = next(
        x for x in Path("/proc/self/status").read_text().splitlines() if x.startswith(field)
    )
    return int(line.split()[1]) / 1024


def snapshot(base_url: str, project: str, lake: str) -> None:
    """One snapshot in this fresh process, under the function's deadline; prints its figures."""
    from lib.aws.app import Root
    from lib.core.runtime import Deadline
    from lib.core.settings import Settings

    env = {"CBR_ENDPOINT": base_url, "CBR_PROJECT_ID": project, "LOG_LEVEL": "ERROR"}
    root = Root(Settings.from_env(env, lake_uri=lake))
    root.inventory  # noqa: B018 - built before the idle figure, as a warm function has it
    idle = _rss_mb("VmRSS:")
    started = time.perf_counter()
    (run,) = root.inventory.run([project], Deadline.for_budget(BUDGET_S))
    seconds = time.perf_counter() - started
    figures = {
        "seconds": seconds,
        "published": run.published,
        "stopped_by": run.stopped_by,
        "requests": run.requests,
        "pages": run.pages,
        "rows": run.rows,
        "bytes": run.bytes,
        "idle_rss_mb": idle,
        "peak_rss_mb": _rss_mb("VmHWM:"),
    }
    print(json.dumps(figures))


def bare(base_url: str, project: str, pages: dict[str, int]) -> None:
    """The same requests as the snapshot's, each body decoded and dropped; prints the seconds."""
    import requests

    session = requests.Session()
    base = f"{base_url}/v3/{project}"

    def get(path: str, **query: object) -> list:
        answer = session.get(f"{base}/{path}", params=query, timeout=30).json()
        return next(value for value in answer.values() if isinstance(value, list))

    started = time.perf_counter()
    get("policies")
    for n in range(pages["ListVault"]):
        get("vaults", limit=100, **({"offset": 100 * n} if n else {}))
    for kind in TYPES:
        marker: dict[str, str] = {}
        for _ in range(pages[f"ListProtectable {kind}"]):
            items = get(f"protectables/{kind}/instances", limit=50, **marker)
            marker = {"marker": items[-1]["id"]} if items else marker
    for n in range(pages["ListBackups"]):
        get(
            "backups",
            limit=1000,
            sort="created_at:desc,id:desc",
            **({"offset": 1000 * n} if n else {}),
        )
    print(json.dumps({"seconds": time.perf_counter() - started}))


def _child(*args: str) -> dict:
    output = subprocess.run(
        [sys.executable, __file__, *args], capture_output=True, text=True, check=True, timeout=900
    ).stdout
    return dict(json.loads(output.strip().splitlines()[-1]))


def measure(resources: int = 2000, vaults: int = 50, backups: int = 60_000) -> dict:
    server = subprocess.Popen(
        [sys.executable, __file__, "--serve", str(resources), str(vaults), str(backups)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert server.stdin and server.stdout
    try:
        served = json.loads(server.stdout.readline())
        with tempfile.TemporaryDirectory() as lake:
            run = _child("--snapshot", served["url"], served["project"], lake)
        baseline = _child("--bare", served["url"], served["project"], json.dumps(run["pages"]))
    finally:
        server.stdin.close()
        server.wait(timeout=60)
    assert run["published"] and run["rows"] == served["expected"], (run, served["expected"])
    return {
        "resources": resources,
        "vaults": vaults,
        "backups": backups,
        "latency_s": LATENCY_S,
        "snapshot": run,
        "bare_s": baseline["seconds"],
        "vs_bare": run["seconds"] / baseline["seconds"],
        "budget_s": BUDGET_S,
        "memory_mb": MEMORY_MB,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--resources", type=int, default=2000)
    parser.add_argument("--vaults", type=int, default=50)
    parser.add_argument("--backups", type=int, default=60_000)
    parser.add_argument("--serve", nargs=3, type=int, help=argparse.SUPPRESS)
    parser.add_argument("--snapshot", nargs=3, help=argparse.SUPPRESS)
    parser.add_argument("--bare", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(*args.serve)
    elif args.snapshot:
        snapshot(*args.snapshot)
    elif args.bare:
        bare(args.bare[0], args.bare[1], json.loads(args.bare[2]))
    else:
        print(json.dumps(measure(args.resources, args.vaults, args.backups), indent=2))


if __name__ == "__main__":
    main()
