"""What the discovery tests share: tasks spread over the last days, the settings against the fake,
a pass run in this process or as the CLI in a process of its own, and the state it leaves."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from lib.aws.app import Root
from lib.core.runtime import Deadline
from lib.core.settings import Settings
from lib.ingest.discover_run import ProjectRun
from lib.ingest.watermark import Watermarks, state_key
from lib.lake.storage import LocalStore

from conftest import PROJECT, ROOT, read_rows
from fakecbr import FakeCBR
from tasks import make_log

NOW = datetime.now(UTC).replace(microsecond=0)
START = NOW - timedelta(days=4)
OTHER = "0a1b2c3d4e5f60718293a4b5c6d7e8f9"


def spread(fake: FakeCBR, count: int, first: int = 0, project: str = PROJECT) -> list[dict]:
    """`count` tasks created over the last three days (the newest an hour ago)."""
    logs = []
    for n in range(first, first + count):
        created = (
            NOW - timedelta(hours=1) - timedelta(minutes=(3 * 24 * 60 - 60) * (n - first) / count)
        )
        log = make_log(n, created, project_id=project)
        fake.add_log(log)
        logs.append(log)
    return logs


def environment(fake: FakeCBR, **extra: str) -> dict[str, str]:
    return {
        "CBR_ENDPOINT": fake.base_url,
        "CBR_PROJECT_ID": PROJECT,
        "DISCOVER_START": START.isoformat(),
        "LOG_LEVEL": "WARNING",
        "MAX_ATTEMPTS": "2",
        **extra,
    }


def discover_root(env: dict[str, str], lake: Path | str, *, page_size: int = 1000) -> Root:
    root = Root(replace(Settings.from_env(env, lake_uri=str(lake)), backoff_base_s=0.01))
    root.discovery.config = replace(root.discovery.config, page_size=page_size)
    return root


def discover(env: dict[str, str], lake: Path | str, *, page_size: int = 1000) -> list[ProjectRun]:
    root = discover_root(env, lake, page_size=page_size)
    return root.discovery.run(root.discover_projects(), Deadline.after(120))


def state(lake: Path, project: str = PROJECT) -> dict[str, Any]:
    """The project's state document as written."""
    return json.loads((lake / state_key(project)).read_text())


def watermark(lake: Path, project: str = PROJECT) -> datetime | None:
    return Watermarks(LocalStore(lake)).read(project, datetime.now(UTC)).watermark


def ids_in(lake: Path | str) -> list[str]:
    return sorted(row["id"] for row in read_rows(lake))


def identities(lake: Path | str) -> Counter[tuple[str, Any]]:
    return Counter((row["id"], row["updated_at"]) for row in read_rows(lake))


def list_starts(fake: FakeCBR) -> list[str]:
    return [parse_qs(r.path.partition("?")[2])["start_time"][0] for r in fake.list_requests()]


def run_cli(*arguments: str, env: dict[str, str]) -> subprocess.Popen[str]:
    """`python -m lib ...` in a process of its own, as an operator runs it."""
    return subprocess.Popen(
        [sys.executable, "-m", "lib", *arguments],
        cwd=ROOT,
        env={**env, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
