"""How operator commands print: aligned tables and short sentences for people, JSON for scripts.

A command that is piped into `head` and loses its reader stops quietly (see `lib.ops.cli.main`).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping, Sequence
from typing import Any, TextIO

from lib.reports.values import plain

HUMAN, JSON = "table", "json"


def format_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--format",
        choices=(HUMAN, JSON),
        default=HUMAN,
        help="table: sentences and aligned columns for people (default); json: for scripts",
    )


def format_rows(header: Sequence[str], rows: Sequence[Mapping[str, Any]], width: int = 40) -> str:
    """An aligned plain-text rendering; long cells are cut to `width` characters."""
    cells = [[_cell(plain(row.get(h)), width) for h in header] for row in rows]
    widths = [max([len(h)] + [len(r[i]) for r in cells]) for i, h in enumerate(header)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True))]
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in cells]
    return "\n".join(line.rstrip() for line in lines)


def _cell(value: object, width: int) -> str:
    text = "" if value is None else str(value)
    return text if len(text) <= width else text[: width - 1] + "…"


def counted(number: int, singular: str, plural: str | None = None) -> str:
    """A count and its noun, agreeing: 1 line, 2 lines, 0 lines; 1 retry, 3 retries."""
    return f"{number} {agree(number, singular, plural)}"


def agree(number: int, singular: str, plural: str | None = None) -> str:
    """The word that agrees with the count: line or lines, was or were (`plural` when it is
    not the singular with an s)."""
    return singular if number == 1 else plural or f"{singular}s"


def emit(fmt: str, document: Any, human: str, stream: TextIO | None = None) -> None:
    """The command's result: `human` text, or `document` as JSON with --format json."""
    out = stream or sys.stdout
    if fmt == JSON:
        out.write(json.dumps(document, ensure_ascii=False, default=plain, indent=2) + "\n")
    else:
        out.write(human.rstrip("\n") + "\n")
