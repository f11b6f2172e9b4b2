"""The package tree keeps its shape: the layers' import rule, the Lambda path apart from the
operator tools, and modules and functions small enough to read."""

from __future__ import annotations

import ast
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT

MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 50


def test_the_lambda_entry_point_never_loads_the_operator_tools() -> None:
    code = (
        "import sys, handler\n"
        "loaded = sorted(m for m in sys.modules if m.startswith(('lib.ops', 'lib.reports')))\n"
        "print(loaded)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"


def lint_imports(tree: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(Path(sys.executable).parent / "lint-imports"), "--no-cache"],
        cwd=tree,
        env={"PYTHONPATH": str(tree), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=False,
    )


def test_make_lint_refuses_an_import_that_breaks_the_layers(tmp_path: Path) -> None:
    shutil.copytree(ROOT / "lib", tmp_path / "lib", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    assert lint_imports(tmp_path).returncode == 0  # the tree as it is keeps the contract

    ids = tmp_path / "lib" / "core" / "ids.py"
    ids.write_text(ids.read_text() + "\nimport lib.ops.cli  # a core module reaching up\n")
    result = lint_imports(tmp_path)
    assert result.returncode != 0
    assert "lib.core is not allowed to import lib.ops" in result.stdout


def python_files() -> list[Path]:
    return [ROOT / "handler.py", *sorted((ROOT / "lib").rglob("*.py"))]


@pytest.mark.parametrize("path", python_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_modules_and_functions_stay_small(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    assert text.count("\n") <= MAX_MODULE_LINES, f"{path.name} is over {MAX_MODULE_LINES} lines"
    lines = text.splitlines()
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            length = (node.end_lineno or node.lineno) - node.lineno + 1
            body = lines[node.lineno - 1 : node.end_lineno]
            explained = any("long because" in line for line in body)
            assert length <= MAX_FUNCTION_LINES or explained, (
                f"{path.name}:{node.lineno} {node.name} is {length} lines; split it, or say in "
                "a comment why it is long ('long because ...')"
            )


CYCLE_FINDER = """
import json, sys
import grimp

graph = grimp.build_graph("lib", include_external_packages=False)
cycles = []
for package in sorted(m for m in graph.modules if graph.find_children(m)):
    children = sorted(graph.find_children(package))
    for i, first in enumerate(children):
        for second in children[i + 1 :]:
            there = graph.find_shortest_chain(importer=first, imported=second, as_packages=True)
            back = graph.find_shortest_chain(importer=second, imported=first, as_packages=True)
            if there and back:
                cycles.append(" -> ".join([*there, *back[1:]]))
print(json.dumps(cycles))
"""


def import_cycles(tree: Path) -> list[str]:
    """Every pair of modules (or subpackages) of one lib package that import each other,
    directly or through others, lazy and TYPE_CHECKING imports included: a cycle shown as the
    chain there and back. Run apart so the graph is built from `tree`, not the loaded `lib`."""
    result = subprocess.run(
        [sys.executable, "-c", CYCLE_FINDER],
        cwd=tree,
        env={"PYTHONPATH": str(tree), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=True,
    )
    cycles: list[str] = json.loads(result.stdout)
    return cycles


def test_no_lib_package_has_an_import_cycle() -> None:
    assert import_cycles(ROOT) == []


def test_the_cycle_check_finds_a_cycle_made_on_purpose(tmp_path: Path) -> None:
    shutil.copytree(ROOT / "lib", tmp_path / "lib", ignore=shutil.ignore_patterns("__pycache__"))
    catalog = tmp_path / "lib" / "reports" / "catalog.py"
    catalog.write_text(
        catalog.read_text()
        + "\n\ndef later() -> None:\n    from lib.reports.engine import run_reports  # noqa\n"
    )
    cycles = import_cycles(tmp_path)
    assert "lib.reports.catalog -> lib.reports.engine -> lib.reports.catalog" in cycles
