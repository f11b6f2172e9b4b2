"""Every numeric flag of every command refuses what it cannot run with: one line naming the
flag, exit 2, never a traceback (OverflowError, ZeroDivisionError) and never a run."""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import pytest

from lib.ops.cli import _parser, main
from lib.ops.flags import Number

from conftest import ROOT

HOSTILE = ["nan", "inf", "-inf", "-1", "1e-9", "1e300", "100000000", "10" * 30, "x", ""]


def numeric_flags() -> dict[str, tuple[list[str], argparse.Action]]:
    """flag -> (the command's other required arguments, the flag's action), for every command."""
    found = {}
    commands = next(a for a in _parser()._actions if isinstance(a, argparse._SubParsersAction))
    for name, parser in commands.choices.items():
        required = {"backfill": ["--ids-file", "ids.txt"], "verify": ["--since", "2026-11-01"]}
        for action in parser._actions:
            assert action.type not in (int, float), f"{name} {action.option_strings}: use Number"
            if isinstance(action.type, Number):
                found[f"{name} {action.option_strings[0]}"] = (
                    [name, *required.get(name, [])],
                    action,
                )
    return found


FLAGS = numeric_flags()


def test_the_commands_have_the_numeric_flags_expected() -> None:
    assert {
        "show --limit",
        "backfill --page-size",
        "backfill --slice-hours",
        "backfill --flush-rows",
        "compact --older-than-days",
        "compact --target-mb",
        "report --rpo-hours",
        "audit --rpo-hours",
    } <= set(FLAGS)


def accepted(rule: Number, text: str) -> bool:
    try:
        value = float(text)
    except ValueError:
        return False
    if rule.integer and (not value.is_integer() or "e" in text):
        return False
    low = value > rule.minimum if rule.above_minimum else value >= rule.minimum
    return low and value <= rule.maximum


@pytest.mark.parametrize("name", sorted(FLAGS))
def test_a_value_out_of_range_is_one_line_naming_the_flag(
    name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    command, action = FLAGS[name]
    flag = action.option_strings[0]
    for text in HOSTILE:
        if accepted(action.type, text):
            continue
        # WHEN the flag is given a value it cannot run with
        status = main([*command, "--lake", str(tmp_path / "lake"), f"{flag}={text}"])
        # THEN one line names the flag, the exit is 2 and nothing was created
        err = capsys.readouterr().err
        assert status == 2, (name, text, err)
        assert err.startswith(f"error: {flag} ") and err.count("\n") == 1, (name, text, err)
        assert repr(text) in err or text in err
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "args",
    [
        ["--older-than-days", "100000000"],  # was OverflowError
        ["--target-mb", "1e-9"],  # was ZeroDivisionError
    ],
)
def test_compact_refuses_what_used_to_be_a_traceback(tmp_path: Path, args: list[str]) -> None:
    lake = tmp_path / "lake" / "operation_logs" / "dt=2026-01-01"
    lake.mkdir(parents=True)
    (lake / "part-0.parquet").write_bytes(b"PAR1")  # a lake to compact, so the flag is reached
    run = subprocess.run(
        [sys.executable, "-m", "lib", "compact", "--lake", str(tmp_path / "lake"), *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert run.returncode == 2, run.stderr
    assert run.stderr == f"error: {args[0]} " + run.stderr.split(" ", 2)[2]
    assert run.stderr.count("\n") == 1 and "Traceback" not in run.stderr
