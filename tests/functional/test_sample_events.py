"""The shipped sample data replays cleanly: every sample operation log fits the declared schema.

`make demo` and `sam local invoke` replay `events/`; a warning there would teach a new user to
ignore the `schema drift` line that matters when the API really changes.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from conftest import (
    EVENTS,
    FIXTURE_LOGS,
    fixture_logs,
    read_rows,
    run_handler_script,
    sqs_event,
)

SQS_SAMPLES = sorted(
    path.name
    for path in EVENTS.glob("*.json")
    if "Records" in json.loads(path.read_text(encoding="utf-8"))
)


def replay(event_file: Path | str, tmp_path: Path, **env: str) -> list[dict[str, Any]]:
    """`python handler.py EVENT` offline (the demo's replay); its JSON log lines."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("CBR_", "IAM_", "LAKE_"))}
    run = run_handler_script(str(event_file), {**clean, "LAKE_URI": str(tmp_path / "lake"), **env})
    assert run.returncode == 0, run.stderr
    return [json.loads(line) for line in run.stderr.splitlines() if line.startswith("{")]


def drift_lines(lines: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [line for line in lines if line["message"] == "schema drift"]


def summary(lines: list[dict[str, Any]]) -> dict[str, Any]:
    (done,) = [line for line in lines if line["message"] == "invocation done"]
    return done


def all_samples_event(tmp_path: Path, ids: list[str]) -> Path:
    path = tmp_path / "all-samples.json"
    path.write_text(json.dumps(sqs_event(*ids)), encoding="utf-8")
    return path


def test_every_sample_operation_log_replays_without_drift(tmp_path: Path) -> None:
    ids = sorted(fixture_logs())
    lines = replay(all_samples_event(tmp_path, ids), tmp_path)
    assert drift_lines(lines) == []
    assert (summary(lines)["drift"], summary(lines)["nulled"]) == (0, 0)
    assert [row["id"] for row in read_rows(tmp_path / "lake")] == ids


@pytest.mark.parametrize("event_file", SQS_SAMPLES)
def test_sample_sqs_events_replay_without_drift(event_file: str, tmp_path: Path) -> None:
    lines = replay(f"events/{event_file}", tmp_path)
    assert drift_lines(lines) == []
    assert summary(lines)["rows"] > 0


def test_the_replay_does_report_a_field_the_schema_lacks(tmp_path: Path) -> None:
    """The check above can fail: the same replay names an unknown field when a sample has one."""
    folder = tmp_path / "logs"
    folder.mkdir()
    log_id = sorted(fixture_logs())[0]
    body = json.loads((FIXTURE_LOGS / f"{log_id}.json").read_text(encoding="utf-8"))
    body["operation_log"]["extra_info"]["unheard_of"] = {"count": 1}
    (folder / f"{log_id}.json").write_text(json.dumps(body), encoding="utf-8")
    lines = replay(all_samples_event(tmp_path, [log_id]), tmp_path, CBR_ENDPOINT=f"file://{folder}")
    assert [line["unknown_fields"] for line in drift_lines(lines)] == [["extra_info.unheard_of"]]
