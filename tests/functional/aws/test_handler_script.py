"""`python handler.py EVENT.json` as an operator runs it: one line and a non-zero exit for every
mistake, never a traceback; exit 1 when messages are left to redeliver."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import PROJECT, ROOT, read_rows, run_handler_script, sqs_event
from fakecbr import FakeCBR, Reply


def local_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CBR_", "IAM_", "QUEUE_"))}
    return {**env, "LAKE_URI": str(tmp_path / "lake"), **extra}


def assert_one_line_error(stderr: str, *fragments: str) -> None:
    assert "Traceback" not in stderr, stderr
    lines = [line for line in stderr.splitlines() if line.startswith("error: ")]
    assert len(lines) == 1, stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        pytest.param(None, "No such file", id="missing-file"),
        pytest.param("{not json", "not a JSON event", id="malformed-json"),
        pytest.param("\udcff", "not a JSON event", id="not-utf8"),
        pytest.param("[]", "must be a JSON object", id="empty-list"),
        pytest.param('{"hello": 1}', "expected an SQS event", id="unknown-event"),
        pytest.param('{"detail-type": "Scheduled Event"}', "QUEUE_URL", id="schedule-no-queue"),
    ],
)
def test_a_bad_event_file_is_one_line_and_exit_2(
    tmp_path: Path, content: str | None, expected: str
) -> None:
    event = tmp_path / "event.json"
    if content is not None:
        event.write_bytes(content.encode("utf-8", "surrogateescape"))
    run = run_handler_script(str(event), local_env(tmp_path))
    assert run.returncode == 2, run.stderr
    assert_one_line_error(run.stderr, expected)
    assert not (tmp_path / "lake").exists()


def test_bad_settings_are_one_line_and_exit_2(tmp_path: Path) -> None:
    run = run_handler_script("events/sqs-single.json", local_env(tmp_path, FETCH_CONCURRENCY="x"))
    assert run.returncode == 2
    assert_one_line_error(run.stderr, "FETCH_CONCURRENCY must be a number")


def test_help_prints_usage_and_exits_0(tmp_path: Path) -> None:
    run = run_handler_script("--help", local_env(tmp_path))
    assert run.returncode == 0, run.stderr
    assert run.stdout.startswith("usage: python handler.py")
    assert "Traceback" not in run.stderr


def test_no_argument_is_a_usage_error(tmp_path: Path) -> None:
    run = run_handler_script("", local_env(tmp_path))
    assert run.returncode == 2
    assert "Traceback" not in run.stderr


def test_messages_left_to_redeliver_exit_1(fake: FakeCBR, tmp_path: Path) -> None:
    fake.script("stuck-id", *[Reply(503)] * 10)
    event = tmp_path / "event.json"
    event.write_text(json.dumps(sqs_event("stuck-id", "bad id!", ids=["stuck", "invalid"])))
    env = local_env(tmp_path, CBR_ENDPOINT=fake.base_url, CBR_PROJECT_ID=PROJECT, MAX_ATTEMPTS="1")
    run = run_handler_script(str(event), env)
    assert run.returncode == 1, run.stderr
    response = json.loads(run.stdout[: run.stdout.rindex("}") + 1])
    assert response == {"batchItemFailures": [{"itemIdentifier": "stuck"}]}
    assert "2 messages, 1 to redeliver" in run.stdout


def test_a_reader_that_leaves_ends_it_quietly(tmp_path: Path) -> None:
    """`python handler.py EVENT | head -c 0`: the work is done and says so by its exit status;
    the reader that left costs no traceback."""
    process = subprocess.Popen(
        [sys.executable, "handler.py", "events/sqs-single.json"],
        cwd=ROOT,
        env=local_env(tmp_path),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None and process.stderr is not None
    process.stdout.close()  # the reader leaves before the first line
    with process.stderr:
        stderr = process.stderr.read()
    assert process.wait(timeout=120) == 0, stderr
    assert "Traceback" not in stderr and "BrokenPipeError" not in stderr, stderr
    assert read_rows(tmp_path / "lake")  # the work was done
