"""What CI (`.ci/run`, which sets OPLOG_LAKE_CI=1) changes in the test suite: a browser test
cannot skip for want of Chromium, and property tests draw the same examples on every run."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT

pytestmark = pytest.mark.slow  # three pytest runs of their own

BROWSER_TEST = """
from browser import chromium_binary

def test_needs_the_browser():
    chromium_binary()
"""

PROPERTY_TEST = """
from hypothesis import given, settings, strategies as st

@settings(max_examples=20)
@given(st.text(max_size=30))
def test_draws(text):
    with open("drawn.txt", "a", encoding="utf-8") as seen:  # in the folder it runs in
        seen.write(repr(text) + "\\n")
"""


# OPLOG_LAKE_CI, and the variables by which hypothesis itself recognises a CI machine (it then
# loads a derandomized profile of its own): without them the probe runs as on a developer's machine.
CI_MARKERS = frozenset(
    {
        "OPLOG_LAKE_CI",
        "CI",
        "__TOX_ENVIRONMENT_VARIABLE_ORIGINAL_CI",
        "TF_BUILD",
        "bamboo.buildKey",
        "BUILDKITE",
        "CIRCLECI",
        "CIRRUS_CI",
        "CODEBUILD_BUILD_ID",
        "GITHUB_ACTIONS",
        "GITLAB_CI",
        "HEROKU_TEST_RUN_ID",
        "TEAMCITY_VERSION",
    }
)


def pytest_run(
    folder: Path, test: str, **env: str
) -> tuple[subprocess.CompletedProcess[str], Path]:
    """Run one test file through pytest with the suite's conftest, in a process of its own."""
    path = folder / "test_probe.py"
    path.write_text(test)
    environment = {k: v for k, v in os.environ.items() if k not in CI_MARKERS}
    environment["PYTHONPATH"] = os.pathsep.join(
        [str(ROOT), str(ROOT / "tests"), str(ROOT / "tests" / "functional" / "reports")]
    )
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "conftest",
            "-p",
            "no:cacheprovider",
            "--rootdir",
            str(folder),
            "-c",
            os.devnull,
            str(path),
        ],
        cwd=folder,
        env={**environment, **env},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    return run, path


def test_ci_fails_a_browser_test_without_chromium_and_repeats_the_examples(tmp_path: Path) -> None:
    def run(name: str, **env: str) -> tuple[str, list[str]]:
        folder = tmp_path / name
        folder.mkdir()
        done, _ = pytest_run(
            folder, BROWSER_TEST + PROPERTY_TEST, CHROMIUM=str(folder / "no"), **env
        )
        drawn = (folder / "drawn.txt").read_text(encoding="utf-8").splitlines()
        return done.stdout, drawn

    local, local_drawn = run("dev", HYPOTHESIS_STORAGE_DIRECTORY=str(tmp_path / "examples"))
    assert "1 passed, 1 skipped" in local, local  # here, a missing browser skips its test
    ci, ci_drawn = run("ci-1", OPLOG_LAKE_CI="1")
    assert "1 failed, 1 passed" in ci and "CI runs the browser tests" in ci, ci
    assert run("ci-2", OPLOG_LAKE_CI="1")[1] == ci_drawn  # the same examples, run after run
    assert local_drawn != ci_drawn
