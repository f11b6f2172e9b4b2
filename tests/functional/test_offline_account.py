"""An account's worth of logs, offline: `bench/generate.py` writes them, `tests/serve_fake.py`
serves them as the API on a loopback port, and discover and verify run against it as an operator
would (the README's "Trying it offline")."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from conftest import ROOT, read_rows
from faultkit import free_port

pytestmark = pytest.mark.slow


def run(*command: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *command],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_generated_logs_served_offline_are_discovered_and_verified(tmp_path: Path) -> None:
    # GIVEN three days of generated logs, served as the API on a port
    logs = tmp_path / "logs"
    made = run("bench/generate.py", "--out", str(logs), "--logs", "300", "--days", "3")
    assert made.returncode == 0, made.stderr
    assert "wrote 300 operation logs" in made.stdout
    generated = [json.loads(p.read_text())["operation_log"] for p in logs.glob("*.json")]
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "tests/serve_fake.py", "--logs", str(logs), "--port", str(port)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None
        said = [server.stdout.readline() for _ in range(4)]
        settings = dict(
            line.removeprefix("export ").strip().split("=", 1) for line in said if "export" in line
        )
        assert settings["CBR_ENDPOINT"] == f"http://127.0.0.1:{port}", said
        assert set(settings["CBR_PROJECT_IDS"].split(",")) == {g["project_id"] for g in generated}
        start = (datetime.now(UTC) - timedelta(days=3)).date().isoformat()
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("CBR_", "IAM_", "LAKE_"))},
            **settings,
            "DISCOVER_START": start,
            "LAKE_URI": str(tmp_path / "lake"),
        }
        # WHEN discovery runs, then verify checks the period
        discovered = run("-m", "lib", "discover", env=env)
        verified = run("-m", "lib", "verify", "--since", start, "--format", "json", env=env)
    finally:
        server.send_signal(signal.SIGTERM)
        stopped = server.wait(timeout=30)
        assert server.stdout is not None and server.stderr is not None
        server.stdout.close()
        server.stderr.close()
    # THEN the lake holds every log listed up to now, and verify proves the period complete
    assert discovered.returncode == 0, discovered.stdout + discovered.stderr
    now = datetime.now(UTC)
    listed = {g["id"] for g in generated if _created(g["created_at"]) <= now}
    assert {row["id"] for row in read_rows(tmp_path / "lake")} == listed
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert stopped == 0


def _created(text: str) -> datetime:
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
