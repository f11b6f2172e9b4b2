"""`make demo` as shipped: its commands, run in order offline against a lake of their own, end by
showing the unprotected resources of the sample inventory (events/inventory)."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

from conftest import ROOT


def demo_commands() -> list[list[str]]:
    """The recipe of the Makefile's demo target, one argument list per line."""
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    recipe = re.search(r"^demo:.*\n((?:\t.*\n)+)", makefile, flags=re.MULTILINE)
    assert recipe is not None
    return [shlex.split(line.strip()) for line in recipe[1].splitlines()]


def test_the_demo_ends_with_the_unprotected_resources_of_the_sample(tmp_path: Path) -> None:
    lake = str(tmp_path / "lake")
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("CBR_", "IAM_", "LAKE_"))}
    env = {**clean, "LAKE_URI": lake, "LOG_LEVEL": "WARNING"}
    commands = demo_commands()
    assert commands[-2][1:4] == ["-m", "lib", "inventory"]
    assert commands[-1][1:5] == ["-m", "lib", "report", "unprotected"]
    for command in commands:
        assert command[0] == "$(BIN)/python"
        argv = [sys.executable, *(lake if a == "./lake" else a for a in command[1:])]
        result = subprocess.run(
            argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False
        )
        assert result.returncode == 0, (command, result.stderr)
    shown = result.stdout
    assert shown.startswith("Unprotected resources [unprotected]")
    rows = {line.split()[2]: line for line in shown.split("\n\n", 1)[1].splitlines()[1:]}
    # never put in a vault: two servers, a file system, a disk CBR cannot protect; and in
    # the second project a server
    for name in ("ECS-0001", "ecs-jump-01", "sfs-turbo-archive", "ecs-b-batch-02"):
        assert re.search(r" in no vault +20\d\d-", rows[name]), rows[name]
    assert "in no vault; CBR cannot protect it: BackupService.6320" in rows["evs-scratch-03"]
    assert "vault vault-prod-evs has no backup policy" in rows["evs-data-01"]
    assert (
        "the backup policy policy-bms-hana of vault vault-prod-bms is disabled"
        in rows["bms-hana-01"]
    )
    assert len(rows) == 7
    assert result.stderr.count("note: inventory of ") == 2  # each project's snapshot time
