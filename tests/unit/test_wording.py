"""The project speaks of "the package index", never of a package registry's host by name."""

from __future__ import annotations

import re
import subprocess

import pytest

from conftest import ROOT

# Spelled in pieces, so that this file does not name them either.
REGISTRY_NAMES = re.compile(
    "|".join(
        re.escape(name)
        for name in (
            "py" + "pi",
            "python" + "hosted",
            "npm" + "js.org",
            "npm" + "js.com",
            "crates" + ".io",
            "ruby" + "gems",
            "proxy.golang" + ".org",
            "package" + "cloud",
        )
    ),
    re.IGNORECASE,
)


def tracked_files() -> list[str]:
    listed = subprocess.run(
        ["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=False, timeout=60
    )
    if listed.returncode != 0:
        pytest.skip("not a git checkout")
    return [name for name in listed.stdout.decode().split("\0") if name]


def test_no_file_names_a_package_registry_host() -> None:
    found = []
    for name in tracked_files():
        path = ROOT / name
        if not path.is_file():
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue  # binary
        for number, line in enumerate(text.splitlines(), 1):
            if REGISTRY_NAMES.search(line):
                found.append(f"{name}:{number}: {line.strip()}")
    assert found == [], "\n".join(found)
