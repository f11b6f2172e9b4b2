"""Progress without tqdm: tqdm is the operator extra's, so a plain install must still report."""

from __future__ import annotations

import io
import json
import sys

import pytest

from lib.core.runtime import configure_logging
from lib.ops.progress import Progress


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_on_a_terminal_without_tqdm_progress_falls_back_to_log_lines(
    monkeypatch: pytest.MonkeyPatch, logs: io.StringIO
) -> None:
    monkeypatch.setitem(sys.modules, "tqdm", None)  # what `import tqdm` finds when not installed
    configure_logging("INFO")
    now = [0.0]
    screen = Terminal()
    progress = Progress("backfill", total=4, stream=screen, every_s=1, clock=lambda: now[0])
    for _ in range(4):
        now[0] += 1
        progress.update(1, written=1)
    progress.close(written=4)
    lines = [json.loads(line) for line in logs.getvalue().splitlines()]
    assert screen.getvalue() == ""
    assert [line["message"] for line in lines] == ["backfill progress"] * 4 + ["backfill finished"]
    assert (lines[-1]["done"], lines[-1]["total"], lines[-1]["written"]) == (4, 4, 4)
