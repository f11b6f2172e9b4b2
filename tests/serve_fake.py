"""Serve a folder of operation logs as the CBR API on a loopback port, to try the product offline.

    python bench/generate.py --out logs/               # an account's worth of logs, one file each
    python tests/serve_fake.py --logs logs/ --port 8080

Every `DIR/*.json` holding a GET body (`{"operation_log": {...}}`, as the generator writes and as
`CBR_ENDPOINT=file://DIR` replays) is served by ID (ShowOpLog) and listed (ListOpLogs: time window,
filters, paging) by the test suite's fake API (`tests/fakecbr.py`), which also answers IAM's token
request. It prints the settings that point the product at it, then serves until interrupted.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from fakecbr import FakeCBR


def load(fake: FakeCBR, folder: Path) -> Counter[str]:
    """Every log body of the folder into the fake; the count of logs per project."""
    projects: Counter[str] = Counter()
    for path in sorted(folder.glob("*.json")):
        body = path.read_bytes()
        try:
            log = json.loads(body)["operation_log"]
            log_id = str(log["id"])
        except (ValueError, KeyError, TypeError):
            print(f"skipped {path.name}: not an API body with an operation_log", file=sys.stderr)
            continue
        fake.add_body(log_id, body)
        projects[str(log.get("project_id"))] += 1
    return projects


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python tests/serve_fake.py", description=__doc__)
    parser.add_argument("--logs", type=Path, required=True, help="a folder of DIR/{id}.json bodies")
    parser.add_argument(
        "--port", type=int, default=8080, help="on 127.0.0.1 (default 8080; 0: any)"
    )
    parser.add_argument("--latency", type=float, default=0.0, help="seconds added to each answer")
    args = parser.parse_args(argv)
    if not args.logs.is_dir():
        parser.error(f"--logs {args.logs} is not a folder")
    fake = FakeCBR(latency=args.latency, port=args.port)
    projects = load(fake, args.logs)
    try:
        fake.start()
    except OSError as exc:
        parser.error(f"cannot listen on 127.0.0.1:{args.port}: {exc.strerror}")
    print(f"serving {sum(projects.values())} operation logs of {len(projects)} projects")
    print(f"export CBR_ENDPOINT={fake.base_url}")
    print(f"export CBR_PROJECT_IDS={','.join(sorted(projects))}")
    print("(no credentials needed; Ctrl-C or kill stops)", flush=True)
    signal.signal(signal.SIGTERM, _interrupt)  # `kill` stops it as Ctrl-C does
    signal.signal(signal.SIGINT, _interrupt)  # even where a shell started it ignoring Ctrl-C
    try:
        threading.Event().wait()  # until Ctrl-C
    except KeyboardInterrupt:
        pass
    finally:
        fake.stop()
    return 0


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


if __name__ == "__main__":
    raise SystemExit(main())
