"""The operator CLI: thin commands over lib functions (`python -m lib --help`)."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

import pyarrow as pa

from lib.core.errors import ConfigError, SinkError
from lib.core.inventory_schema import INVENTORY_TABLES
from lib.core.runtime import configure_logging
from lib.core.schema import DATA_TABLE, ERRORS_TABLE
from lib.core.settings import DEFAULT_LAKE, LAKE_URI, Settings
from lib.lake.reader import SCHEMAS, LakeNotFound
from lib.ops import compaction, discover, inventory, report_cli, show, verify
from lib.ops.backfill import cli as backfill_cli
from lib.ops.flags import FlagError
from lib.ops.output import format_rows


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command: its exit status (2: usage or configuration, 1: it failed)."""
    parser = _parser()
    try:
        args = parser.parse_args(argv)
        if hasattr(args, "lake"):
            _resolve_lake(args)
        return int(args.run(args))
    except (LakeNotFound, ValueError, ConfigError, FlagError) as exc:  # ReportError: ValueError
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except SinkError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except BrokenPipeError:  # `... | head`: the reader left; say nothing more
        _silence_stdout()
        return 0


def _silence_stdout() -> None:
    """After a broken pipe, point stdout at nothing so the interpreter's final flush is quiet."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())


def _parser() -> argparse.ArgumentParser:
    command = os.path.basename(sys.argv[0])
    prog = "oplog-lake" if command == "oplog-lake" else "python -m lib"  # as the user typed it
    parser = argparse.ArgumentParser(prog=prog, description=__doc__)
    commands = parser.add_subparsers(required=True, metavar="COMMAND")
    show.register(commands, _lake_option)
    report_cli.register(commands, _lake_option)
    template = commands.add_parser(
        "template", help="print (or --write) the generated Glue tables and Athena queries"
    )
    template.add_argument("--write", action="store_true", help="update template.yaml in place")
    template.add_argument("--path", default="template.yaml", help=argparse.SUPPRESS)
    template.set_defaults(run=template_command)
    backfill_cli.register(commands, _lake_option)
    discover.register(commands, _lake_option)
    inventory.register(commands, _lake_option)
    verify.register(commands, _lake_option)
    compaction.register(commands, _lake_option)
    schema = commands.add_parser("schema", help="print a table's columns (the docs' tables)")
    schema.add_argument(
        "--table", choices=[ERRORS_TABLE, DATA_TABLE, *INVENTORY_TABLES], default=DATA_TABLE
    )
    schema.set_defaults(run=print_schema)
    return parser


def _lake_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--lake",
        help=f"a folder or s3://bucket/prefix (default ${LAKE_URI}, else {DEFAULT_LAKE})",
    )


def _resolve_lake(args: argparse.Namespace) -> None:
    """--lake, else LAKE_URI, else the default, checked like LAKE_URI; `args.location` also says
    how to reach it, and the log level the settings ask for is applied."""
    settings = Settings.for_lake(os.environ, lake_uri=args.lake)
    configure_logging(settings.log_level)
    args.lake, args.location = settings.lake_uri, settings.lake


def template_command(args: argparse.Namespace) -> int:
    from pathlib import Path

    from lib.reports import athena

    if not args.write:
        sys.stdout.write(athena.generated_block())
        return 0
    changed = athena.rewrite_template(Path(args.path))
    print(f"{args.path}: {'updated' if changed else 'already up to date'}", file=sys.stderr)
    return 0


def print_schema(args: argparse.Namespace) -> int:
    if args.table in INVENTORY_TABLES:
        print(inventory.inventory_markdown(args.table))
    else:
        print(schema_markdown(args.table))
    return 0


def schema_markdown(table: str) -> str:
    """The column table as Markdown, derived from the declared schema."""
    lines = ["| column | type |", "| --- | --- |"]
    lines += [f"| `{f.name}` | `{f.type}` |" for f in SCHEMAS[table]]
    return "\n".join(lines)


def format_table(table: pa.Table, width: int = 40) -> str:
    return format_rows(table.column_names, table.to_pylist(), width)
