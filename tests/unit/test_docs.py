"""The README and the pages of docs/ show what the code declares, and their links lead somewhere."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from lib.core.inventory_schema import INVENTORY_TABLES
from lib.core.schema import DATA_TABLE, ERRORS_TABLE
from lib.ops.cli import schema_markdown
from lib.ops.inventory import inventory_markdown

from conftest import ROOT

README = ROOT / "README.md"
DOCS = sorted((ROOT / "docs").glob("*.md"))
LINK = re.compile(r"\]\(([^)\s]+)\)")


def text(name: str) -> str:
    return (ROOT / name).read_text(encoding="utf-8")


def test_the_lake_page_column_tables_match_the_schema() -> None:
    for table in (DATA_TABLE, ERRORS_TABLE):
        assert schema_markdown(table) in text("docs/lake.md"), (
            f"regenerate with: python -m lib schema --table {table}"
        )


def test_the_inventory_page_column_tables_match_the_declarations() -> None:
    for table in INVENTORY_TABLES:
        assert inventory_markdown(table) in text("docs/inventory.md"), (
            f"regenerate with: python -m lib schema --table {table}"
        )


def test_readme_names_the_two_commands_and_the_configuration_page_every_setting() -> None:
    readme = README.read_text(encoding="utf-8")
    assert "make demo" in readme and "make test" in readme
    from lib.core import settings

    names = set(settings.variable_names()) - {"AWS_LAMBDA_FUNCTION_NAME"}
    page = text("docs/configuration.md")
    assert sorted(n for n in names if f"`{n}`" not in page) == []


def test_the_architecture_page_names_every_module() -> None:
    page = text("docs/architecture.md")
    section = page[page.index("## Architecture") : page.index("## Development")]
    missing = sorted(
        str(path.relative_to(ROOT))
        for path in (ROOT / "lib").rglob("*.py")
        if path.stem not in ("__init__", "__main__") and path.stem not in section
    )
    assert missing == []
    assert "core` ← {`cbr`, `lake`} ← `ingest` ← `aws` ← `reports` ← `ops`" in section


def test_the_readme_links_every_docs_page_and_stays_short() -> None:
    readme = README.read_text(encoding="utf-8")
    assert DOCS, "docs/ has no pages"
    assert [p.name for p in DOCS if f"(docs/{p.name})" not in readme] == []
    assert len(readme.splitlines()) <= 150, "the README is the way in; the reference is in docs/"


def anchors(page: Path) -> set[str]:
    """GitHub's anchors for a page's headings: lower case, punctuation dropped, spaces as -."""
    headings = re.findall(r"^#+ (.+)$", page.read_text(encoding="utf-8"), flags=re.MULTILINE)
    return {re.sub(r"[^\w\- ]", "", h.strip().lower()).replace(" ", "-") for h in headings}


@pytest.mark.parametrize("page", [README, *DOCS], ids=lambda p: p.name)
def test_every_relative_link_reaches_a_file_and_its_heading(page: Path) -> None:
    broken = []
    for target in LINK.findall(page.read_text(encoding="utf-8")):
        if target.startswith(("http://", "https://", "mailto:")):
            continue
        path, _, anchor = target.partition("#")
        linked = (page.parent / path).resolve() if path else page
        if not linked.exists() or (anchor and anchor not in anchors(linked)):
            broken.append(target)
    assert broken == []
