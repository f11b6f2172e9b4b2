"""`python -m lib verify`: the API's list for a period against the lake, and --repair."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from lib.ops.cli import main

from conftest import PROJECT, read_rows
from fakecbr import LIST_SCRIPT, FakeCBR, Reply
from tasks import make_log

DAY = datetime(2026, 3, 2, tzinfo=UTC)


@pytest.fixture
def listed(fake: FakeCBR, monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """Ten tasks on 2026-03-02 and 03-03, the CLI pointed at the fake."""
    logs = [make_log(n, DAY + timedelta(hours=5 * n)) for n in range(10)]
    for log in logs:
        fake.add_log(log)
    for name, value in {
        "CBR_ENDPOINT": fake.base_url,
        "CBR_PROJECT_ID": PROJECT,
        "LOG_LEVEL": "ERROR",
        "MAX_ATTEMPTS": "2",
    }.items():
        monkeypatch.setenv(name, value)
    return logs


def verify(lake: Path, capsys: pytest.CaptureFixture[str], *extra: str) -> tuple[int, Any]:
    code = main(["verify", "--since", "2026-03-01", "--until", "2026-03-04", "--lake", str(lake),
                 "--format", "json", *extra])  # fmt: skip
    return code, json.loads(capsys.readouterr().out)


def test_a_lake_holding_every_task_is_complete(
    listed: list[dict[str, Any]], lake: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["backfill", "--since", "2026-03-01", "--until", "2026-03-04", "--lake",
                 str(lake), "--format", "json"]) == 0  # fmt: skip
    capsys.readouterr()
    code, report = verify(lake, capsys)
    assert code == 0 and report["complete"] is True
    (project,) = report["projects"]
    assert (project["api"], project["lake"], project["missing"], project["stale"]) == (
        10,
        10,
        [],
        [],
    )


def test_late_tasks_and_changed_states_are_named_then_repaired(
    fake: FakeCBR, listed: list[dict[str, Any]], lake: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    main(["backfill", "--since", "2026-03-01", "--until", "2026-03-04", "--lake", str(lake),
          "--format", "json"])  # fmt: skip
    capsys.readouterr()
    late = make_log(50, DAY + timedelta(hours=1))  # appears in the API after the backfill
    changed = {**listed[3], "status": "failed", "updated_at": "2026-03-04T01:00:00.000Z"}
    fake.add_log(late)
    fake.add_log(changed)

    code, report = verify(lake, capsys)
    (project,) = report["projects"]
    assert code == 1 and report["complete"] is False
    assert (project["missing"], project["stale"]) == ([late["id"]], [changed["id"]])

    assert (
        main(["verify", "--since", "2026-03-01", "--until", "2026-03-04", "--lake", str(lake)]) == 1
    )
    text = capsys.readouterr().out
    assert (
        "INCOMPLETE" in text
        and f"missing {late['id']}" in text
        and f"stale   {changed['id']}" in text
    )

    code, report = verify(lake, capsys, "--repair")
    assert code == 0 and report["projects"][0]["repaired"] == 2
    rows = {(row["id"], row["status"]) for row in read_rows(lake)}
    assert (late["id"], late["status"]) in rows and (changed["id"], "failed") in rows
    assert verify(lake, capsys)[0] == 0


def test_an_api_failure_means_no_verdict(
    fake: FakeCBR, listed: list[dict[str, Any]], lake: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fake.script(LIST_SCRIPT, *[Reply(503)] * 4)
    assert main(["verify", "--since", "2026-03-01", "--lake", str(lake)]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err.startswith("error: could not list the tasks")


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--since", "2026-03-05", "--until", "2026-03-01"], "--since must be before --until"),
        (["--since", "yesterday"], "not an ISO 8601 date"),
        (["--since", "2026-03-01", "--project", "a b"], "--project must be"),
    ],
)
def test_usage_errors_are_one_line_and_exit_2(
    listed: list[dict[str, Any]],
    lake: Path,
    capsys: pytest.CaptureFixture[str],
    arguments: list[str],
    message: str,
) -> None:
    assert main(["verify", *arguments, "--lake", str(lake)]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
