"""The README shows what the code declares: the column tables and the two commands."""

from __future__ import annotations

from lib.core.schema import DATA_TABLE, ERRORS_TABLE
from lib.ops.cli import schema_markdown

from conftest import ROOT

README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_readme_column_tables_match_the_schema() -> None:
    for table in (DATA_TABLE, ERRORS_TABLE):
        assert schema_markdown(table) in README, (
            f"regenerate with: python -m lib schema --table {table}"
        )


def test_readme_names_the_two_commands_and_every_setting() -> None:
    assert "make demo" in README and "make test" in README
    from lib.core import settings

    names = set(settings.variable_names()) - {"AWS_LAMBDA_FUNCTION_NAME"}
    missing = sorted(n for n in names if f"`{n}`" not in README)
    assert missing == []


def test_the_architecture_section_names_every_module() -> None:
    section = README[README.index("## Architecture") : README.index("## Development")]
    missing = sorted(
        str(path.relative_to(ROOT))
        for path in (ROOT / "lib").rglob("*.py")
        if path.stem not in ("__init__", "__main__") and path.stem not in section
    )
    assert missing == []
    assert "core` ← {`cbr`, `lake`} ← `ingest` ← `aws` ← `reports` ← `ops`" in section
