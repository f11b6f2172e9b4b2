"""The operator CLI: thin commands over lib functions (`python -m lib --help`)."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

import pyarrow as pa
import pyarrow.compute as pc

from lib.dataset import SCHEMAS, LakeNotFound, open_table
from lib.schema import DATA_TABLE, ERRORS_TABLE, PARTITION_KEY
from lib.settings import LAKE_URI

SHOW_COLUMNS = {
    DATA_TABLE: ["dt", "id", "operation_type", "status", "created_at", "error_info__code"],
    ERRORS_TABLE: ["dt", "reason", "operation_log_id", "http_status", "error_code", "error_msg"],
}


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        return int(args.run(args))
    except (LakeNotFound, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m lib", description=__doc__)
    commands = parser.add_subparsers(required=True, metavar="COMMAND")
    show = commands.add_parser("show", help="summarise what the lake holds, with sample rows")
    _lake_option(show)
    show.add_argument("--limit", type=int, default=20, help="rows to print per table (default 20)")
    show.set_defaults(run=show_lake)
    schema = commands.add_parser("schema", help="print the lake's columns (README table)")
    schema.add_argument("--table", choices=sorted(SHOW_COLUMNS), default=DATA_TABLE)
    schema.set_defaults(run=print_schema)
    return parser


def _lake_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--lake",
        default=os.environ.get(LAKE_URI, "./lake"),
        help=f"lake location: a folder or s3://bucket/prefix (default ${LAKE_URI} or ./lake)",
    )


def show_lake(args: argparse.Namespace) -> int:
    for table in (DATA_TABLE, ERRORS_TABLE):
        try:
            dataset = open_table(args.lake, table)
        except LakeNotFound:
            print(f"{table}: no files yet\n")
            continue
        rows = dataset.to_table(columns=SHOW_COLUMNS[table]).sort_by(
            [(PARTITION_KEY, "ascending"), (SHOW_COLUMNS[table][1], "ascending")]
        )
        days = pc.count_distinct(rows[PARTITION_KEY]).as_py()
        print(f"{table}: {rows.num_rows} rows in {len(dataset.files)} files, {days} partitions")
        print(format_table(rows.slice(0, args.limit)))
        if rows.num_rows > args.limit:
            print(f"... {rows.num_rows - args.limit} more")
        print()
    return 0


def print_schema(args: argparse.Namespace) -> int:
    print(schema_markdown(args.table))
    return 0


def schema_markdown(table: str) -> str:
    """The column table as Markdown, derived from the declared schema."""
    lines = ["| column | type |", "| --- | --- |"]
    lines += [f"| `{f.name}` | `{f.type}` |" for f in SCHEMAS[table]]
    return "\n".join(lines)


def format_table(table: pa.Table, width: int = 40) -> str:
    """An aligned plain-text rendering; long cells are cut to `width` characters."""
    header = table.column_names
    cells = [[_cell(v, width) for v in row.values()] for row in table.to_pylist()]
    widths = [max([len(h)] + [len(r[i]) for r in cells]) for i, h in enumerate(header)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True))]
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in cells]
    return "\n".join(line.rstrip() for line in lines)


def _cell(value: object, width: int) -> str:
    text = "" if value is None else str(value)
    return text if len(text) <= width else text[: width - 1] + "…"
