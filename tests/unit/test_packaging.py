"""pyproject.toml and the pinned requirements files say the same thing.

pyproject.toml names the dependencies (with lower bounds) for `pip install '.[reports]'`; the
requirements files pin the exact versions that `sam build`, `make demo`, CI and these tests install.
A package added to one and forgotten in the other would make an operator's install differ from
the tested one, or leave the Lambda package without a module it imports.
"""

from __future__ import annotations

import importlib
import json
import re
import subprocess
import sys
import tomllib
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
PROJECT = PYPROJECT["project"]
# Each pinned file and the part of pyproject.toml that names the same packages.
PINNED_FOR = {
    "requirements.txt": PROJECT["dependencies"],
    "requirements-reports.txt": PROJECT["optional-dependencies"]["reports"],
    "requirements-ops.txt": PROJECT["optional-dependencies"]["ops"],
}
PIN = re.compile(r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)(\[[^\]]*\])?==(?P<version>\S+)$")


def own_pins(text: str) -> dict[str, str]:
    """`name==version` lines of one file (includes not followed), by canonical name."""
    pins = {}
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if not line or line.startswith("-r "):
            continue
        match = PIN.match(line)
        assert match, f"not an exact pin: {line!r}"
        pins[canonicalize_name(match["name"])] = match["version"]
    return pins


def all_pins(name: str) -> dict[str, str]:
    """Every pin a file installs, following its `-r` includes."""
    text = (ROOT / name).read_text(encoding="utf-8")
    pins = own_pins(text)
    for line in text.splitlines():
        if line.startswith("-r "):
            pins |= all_pins(line.removeprefix("-r ").strip())
    return pins


def direct_runtime_pins() -> dict[str, str]:
    """requirements.txt's first block: the packages the code imports (the rest are theirs)."""
    blocks = (ROOT / "requirements.txt").read_text(encoding="utf-8").split("\n\n")
    return own_pins(blocks[0])


def declared(requirements: list[str]) -> dict[str, Requirement]:
    parsed = [Requirement(text) for text in requirements]
    return {canonicalize_name(req.name): req for req in parsed}


def needs_of(package: str) -> set[str]:
    """What an installed package requires, markers evaluated for this platform (no extras)."""
    needs = set()
    for text in metadata.requires(package) or []:
        req = Requirement(text)
        if req.marker is None or req.marker.evaluate({"extra": ""}):
            needs.add(canonicalize_name(req.name))
    return needs


@pytest.mark.parametrize("name", PINNED_FOR)
def test_pyproject_names_the_packages_each_requirements_file_pins(name: str) -> None:
    pins = (
        direct_runtime_pins()
        if name == "requirements.txt"
        else own_pins((ROOT / name).read_text(encoding="utf-8"))
    )
    wanted = declared(PINNED_FOR[name])
    assert sorted(pins) == sorted(wanted)
    for package, req in wanted.items():
        assert req.specifier.contains(pins[package]), f"{package}=={pins[package]} vs {req}"


@pytest.mark.parametrize("name", PINNED_FOR)
def test_each_requirements_file_pins_everything_its_packages_need(name: str) -> None:
    """A complete lock: `sam build` and `make demo` install no version chosen on the day."""
    pins = all_pins(name)
    unpinned = {need for package in pins for need in needs_of(package)} - set(pins)
    assert unpinned == set()


def test_the_second_block_of_the_runtime_file_holds_only_what_the_first_needs() -> None:
    pins, direct = all_pins("requirements.txt"), direct_runtime_pins()
    needed: set[str] = set()
    todo = list(direct)
    while todo:
        fresh = needs_of(todo.pop()) - needed
        needed |= fresh
        todo.extend(fresh)
    assert set(pins) - set(direct) == needed - set(direct)


def test_tests_and_the_demo_install_the_pinned_versions() -> None:
    installed = {canonicalize_name(d.metadata["Name"]): d.version for d in metadata.distributions()}
    for package, version in all_pins("requirements-dev.txt").items():
        assert installed.get(package) == version, package
    assert set(all_pins("requirements-reports.txt")) <= set(all_pins("requirements-dev.txt"))
    assert set(all_pins("requirements-ops.txt")) <= set(all_pins("requirements-dev.txt"))


def test_the_lambda_package_carries_neither_the_reports_nor_the_operator_tools() -> None:
    runtime = set(all_pins("requirements.txt"))
    assert {"duckdb", "tqdm"} & runtime == set()
    demo = set(all_pins("requirements-reports.txt"))
    assert {"pytest", "moto", "cfn-lint", "hypothesis", "tqdm"} & demo == set()


def test_the_console_script_is_the_operator_cli() -> None:
    assert PROJECT["scripts"] == {"oplog-lake": "lib.ops.cli:main"}
    module, _, function = PROJECT["scripts"]["oplog-lake"].partition(":")
    assert callable(getattr(importlib.import_module(module), function))
    assert PYPROJECT["tool"]["flit"]["module"]["name"] == "lib"


def test_a_cold_start_imports_only_what_every_event_kind_needs() -> None:
    """`import handler` loads the events, the settings and logging: no pyarrow, requests or
    boto3, no pipeline, API client or lake (each event kind imports its own when it comes)."""
    code = "import json, sys; import handler; print(json.dumps(sorted(sys.modules)))"
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    loaded = json.loads(done.stdout)
    packages = {name.partition(".")[0] for name in loaded}
    assert packages & {"pyarrow", "requests", "urllib3", "boto3", "botocore", "orjson"} == set()
    layers = {name for name in loaded if name.startswith("lib.")}
    assert layers <= {"lib.aws", "lib.aws.app", "lib.aws.events", "lib.aws.metrics"} | {
        name for name in layers if name.startswith("lib.core")
    }
