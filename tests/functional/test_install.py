"""The wheel an operator installs: every module and report query, and a working `oplog-lake`.

Built with the pinned backend (no download, `--no-build-isolation`), installed without
dependencies into a folder of its own, and run from outside the checkout, so the command can only
find what the wheel carries (the test's virtualenv supplies pyarrow and DuckDB).
"""

from __future__ import annotations

import configparser
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from conftest import ROOT, fixture_logs, read_rows, run_handler_script

pytestmark = pytest.mark.slow


def pip(*args: str) -> None:
    subprocess.run(
        [sys.executable, "-m", "pip", "--disable-pip-version-check", "--quiet", *args],
        cwd=ROOT,
        check=True,
        capture_output=True,
        timeout=300,
    )


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    pip("wheel", "--no-deps", "--no-build-isolation", "--no-index", "--wheel-dir", str(out), ".")
    (built,) = out.glob("oplog_lake-*.whl")
    return built


@pytest.fixture(scope="module")
def installed(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("site")
    pip("install", "--no-deps", "--no-index", "--target", str(target), str(wheel))
    return target


def source_files() -> set[str]:
    files = (ROOT / "lib").rglob("*")
    return {
        path.relative_to(ROOT).as_posix()
        for path in files
        if path.suffix in {".py", ".sql"} and "__pycache__" not in path.parts
    }


def test_the_wheel_holds_the_package_and_nothing_else(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        (entry_points,) = [n for n in names if n.endswith(".dist-info/entry_points.txt")]
        scripts = configparser.ConfigParser()
        scripts.read_string(archive.read(entry_points).decode())
    assert {name for name in names if ".dist-info/" not in name} == source_files()
    assert dict(scripts["console_scripts"]) == {"oplog-lake": "lib.ops.cli:main"}


def run_installed(installed: Path, cwd: Path, *command: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(installed)}
    return subprocess.run(
        list(command),
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_installed_command_runs_a_report_outside_the_checkout(
    installed: Path, tmp_path: Path
) -> None:
    lake = tmp_path / "lake"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CBR_", "IAM_", "LAKE_"))}
    env["LAKE_URI"] = str(lake)
    assert run_handler_script("events/sqs-batch.json", env).returncode == 0
    where = run_installed(
        installed, tmp_path, sys.executable, "-c", "import lib; print(lib.__file__)"
    )
    assert Path(where.stdout.strip()).is_relative_to(installed), where
    command = str(installed / "bin" / "oplog-lake")
    run = run_installed(
        installed, tmp_path, command, "report", "latest", "--lake", str(lake), "--format", "json"
    )
    assert run.returncode == 0, run.stderr
    reported = sorted(row["id"] for row in json.loads(run.stdout)["rows"])
    assert reported == sorted(fixture_logs()) == sorted(row["id"] for row in read_rows(lake))


def without_checkout_path() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONSAFEPATH")}


@pytest.mark.parametrize(
    "command",
    [["oplog-lake", "--help"], ["python", "-m", "lib", "--help"]],
    ids=["oplog-lake", "python-m-lib"],
)
def test_make_install_gives_the_documented_commands_in_any_folder(
    tmp_path: Path, command: list[str]
) -> None:
    """`make install` installs the project itself (editable) into .venv: the README's commands
    work from any folder and run this checkout's code."""
    venv = Path(sys.executable).parent
    program = str(venv / command[0]) if command[0] == "oplog-lake" else sys.executable
    run = subprocess.run(
        [program, *command[1:]],
        cwd=tmp_path,
        env=without_checkout_path(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.startswith("usage: ") and "compact" in run.stdout
    where = subprocess.run(
        [sys.executable, "-c", "import lib; print(lib.__file__)"],
        cwd=tmp_path,
        env=without_checkout_path(),
        capture_output=True,
        text=True,
        check=True,
    )
    assert Path(where.stdout.strip()).is_relative_to(ROOT)
