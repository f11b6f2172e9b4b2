"""The operator CLI: thin commands over lib functions (`python -m lib --help`)."""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import sys
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from lib.core.errors import ConfigError
from lib.core.runtime import configure_logging
from lib.core.schema import DATA_TABLE, ERRORS_TABLE, PARTITION_KEY
from lib.core.settings import DEFAULT_LAKE, LAKE_URI, Settings
from lib.core.times import format_utc, parse_day_or_moment
from lib.lake.compact import DEFAULT_TARGET_MB
from lib.lake.reader import SCHEMAS, LakeNotFound, open_table

SHOW_COLUMNS = {
    DATA_TABLE: ["dt", "id", "operation_type", "status", "created_at", "error_info__code"],
    ERRORS_TABLE: ["dt", "reason", "operation_log_id", "http_status", "error_code", "error_msg"],
}


FORMATS = ("table", "csv", "json", "html")


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        if hasattr(args, "lake"):
            _resolve_lake(args)
        return int(args.run(args))
    except (LakeNotFound, ValueError, ConfigError) as exc:  # ReportError is a ValueError
        print(f"error: {exc}", file=sys.stderr)
        return 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m lib", description=__doc__)
    commands = parser.add_subparsers(required=True, metavar="COMMAND")
    show = commands.add_parser("show", help="summarise what the lake holds, with sample rows")
    _lake_option(show)
    show.add_argument("--limit", type=int, default=20, help="rows to print per table (default 20)")
    show.set_defaults(run=show_lake)
    report = commands.add_parser(
        "report",
        help="run an audit report over the lake (--list names them)",
        description="Run an audit report (or `all`) over the lake with DuckDB.",
    )
    report.add_argument("name", nargs="?", help="report name, or `all`")
    report.add_argument("--list", action="store_true", help="name and describe every report")
    _lake_option(report)
    report.add_argument("--since", help="ISO 8601 date or UTC datetime (inclusive)")
    report.add_argument("--until", help="ISO 8601 date (inclusive day) or UTC datetime (exclusive)")
    report.add_argument("--hours", type=float, help="threshold of stale-resources and stuck")
    report.add_argument("--format", choices=FORMATS, default="table")
    report.add_argument("--out", help="write to this file instead of standard output")
    report.add_argument("--now", help=argparse.SUPPRESS)  # fixed clock for reproducible output
    report.set_defaults(run=run_report_command)
    template = commands.add_parser(
        "template", help="print (or --write) the generated Glue tables and Athena queries"
    )
    template.add_argument("--write", action="store_true", help="update template.yaml in place")
    template.add_argument("--path", default="template.yaml", help=argparse.SUPPRESS)
    template.set_defaults(run=template_command)
    _backfill_parser(commands)
    compact = commands.add_parser(
        "compact",
        help="merge each partition's small files, keeping the latest row per task",
        description="Rewrite the chosen partitions' files as a few files of about --target-mb, "
        "dropping duplicates (one row per task id: the greatest updated_at, then ingested_at). "
        "Safe beside running writers: only the files read are removed, after the new ones exist.",
    )
    _lake_option(compact)
    chosen = compact.add_mutually_exclusive_group()
    chosen.add_argument("--dt", help="compact this partition (YYYY-MM-DD)")
    chosen.add_argument(
        "--older-than-days", type=int, help="compact days at least N days old (default 1)"
    )
    compact.add_argument(
        "--target-mb", type=float, default=DEFAULT_TARGET_MB, help="file size to aim for"
    )
    compact.add_argument(
        "--keep-history", action="store_true", help="keep every distinct snapshot of a task"
    )
    compact.set_defaults(run=compact_command)
    schema = commands.add_parser("schema", help="print the lake's columns (README table)")
    schema.add_argument("--table", choices=sorted(SHOW_COLUMNS), default=DATA_TABLE)
    schema.set_defaults(run=print_schema)
    return parser


def _backfill_parser(commands: Any) -> None:
    backfill = commands.add_parser(
        "backfill",
        help="list past tasks (or read a file of IDs) into the lake or onto the queue",
        description="List tasks through the CBR list API (--since/--until) or read IDs from a "
        "file (--ids-file), and write them into the lake or send them to a queue (--enqueue). "
        "Interrupted runs resume from their checkpoint; rows the lake holds are not added again.",
    )
    source = backfill.add_mutually_exclusive_group(required=True)
    source.add_argument("--since", help="window start: ISO 8601 date or UTC datetime")
    source.add_argument("--ids-file", help="one message body per line: ID, object or array")
    backfill.add_argument("--until", help="window end: date (inclusive) or datetime; default now")
    _lake_option(backfill)
    backfill.add_argument("--project", help="project ID (default $CBR_PROJECT_ID)")
    backfill.add_argument("--operation-type", help="list only this type (backup, restore, ...)")
    backfill.add_argument("--status", help="list only this status (success, failed, ...)")
    backfill.add_argument("--vault-id", help="list only this vault's tasks")
    backfill.add_argument("--enqueue", metavar="QUEUE_URL", help="send IDs to this queue instead")
    backfill.add_argument("--page-size", type=int, default=1000, help="tasks per list request")
    backfill.add_argument("--slice-hours", type=float, default=24.0, help="window slice length")
    backfill.add_argument("--flush-rows", type=int, default=10_000, help="rows per lake write")
    backfill.add_argument("--checkpoint", help="resume file (default .oplog-lake/backfill-*.json)")
    backfill.set_defaults(run=backfill_command)


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


def show_lake(args: argparse.Namespace) -> int:
    for table in (DATA_TABLE, ERRORS_TABLE):
        try:
            dataset = open_table(args.location, table)
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


def run_report_command(args: argparse.Namespace) -> int:
    from lib.reports import catalog as reports  # DuckDB is imported only when a report runs

    if args.list:
        for report in reports.all_reports().values():
            print(f"{report.name:<16} {report.description}")
        return 0
    if not args.name:
        raise reports.ReportError("name a report (or `all`); --list shows them")
    names = (
        list(reports.all_reports()) if args.name == "all" else [reports.get_report(args.name).name]
    )
    if args.format == "csv" and len(names) > 1:
        raise reports.ReportError("csv holds one report: name it instead of `all`")
    window = reports.Window(
        now=parse_day_or_moment(args.now) if args.now else datetime.now(UTC),
        since=parse_day_or_moment(args.since) if args.since else None,
        until=parse_day_or_moment(args.until, end_of_day=True) if args.until else None,
        hours=args.hours,
    )
    results = [reports.run_report(name, args.lake, window) for name in names]
    text = render(results, args.format, lake=args.lake, now=window.now)
    if args.out:
        with open(args.out, "w", encoding="utf-8") as handle:
            handle.write(text)
        print(f"wrote {args.out}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0


def render(results: list[Any], fmt: str, *, lake: str, now: datetime) -> str:
    """Reports in one output format; json and csv are stable, for scripts."""
    if fmt == "html":
        from lib.reports.html import render_page

        return render_page(results, generated_at=now, lake=lake)
    if fmt == "json":
        rows = {r.name: [_plain_row(row) for row in r.rows] for r in results}
        document = rows[results[0].name] if len(results) == 1 else rows
        return json.dumps(document, ensure_ascii=False, indent=2) + "\n"
    if fmt == "csv":
        (result,) = results
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=result.columns, lineterminator="\n")
        writer.writeheader()
        writer.writerows(_plain_row(row) for row in result.rows)
        return buffer.getvalue()
    sections = []
    for result in results:
        body = format_rows(result.columns, result.rows) if result.rows else "(no rows)"
        sections.append(f"{result.title} [{result.name}]\n{body}\n")
    return "\n".join(sections)


def _plain(value: Any) -> Any:
    """JSON/CSV form of a value: timestamps in ISO 8601 UTC with Z, decimals as numbers."""
    if isinstance(value, datetime):
        return format_utc(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    return value


def _plain_row(row: dict[str, Any]) -> dict[str, Any]:
    return {k: _plain(v) for k, v in row.items()}


def backfill_command(args: argparse.Namespace) -> int:
    from lib.aws.app import Root
    from lib.ops import backfill

    options = backfill.Options(
        ids_file=args.ids_file,
        since=parse_day_or_moment(args.since) if args.since else None,
        until=parse_day_or_moment(args.until, end_of_day=True) if args.until else None,
        project_id=args.project,
        filters={
            name: value
            for name, value in (
                ("operation_type", args.operation_type),
                ("status", args.status),
                ("vault_id", args.vault_id),
            )
            if value
        },
        queue_url=args.enqueue,
        page_size=args.page_size,
        slice_width=timedelta(hours=args.slice_hours),
        flush_rows=args.flush_rows,
        checkpoint=args.checkpoint,
    )
    try:
        root = Root(Settings.from_env(os.environ, lake_uri=args.lake))
        summary = backfill.run(options, root)
    except backfill.BackfillError as exc:
        print(f"error: {exc}; run the same command again to resume", file=sys.stderr)
        return 1
    print(json.dumps(summary))
    for label in ("failed_lines", "invalid_lines"):
        if summary[label]:
            print(f"{summary[label]} lines {label.split('_')[0]}: see the log", file=sys.stderr)
    return 1 if summary["failed_lines"] or summary["invalid_lines"] else 0


def compact_command(args: argparse.Namespace) -> int:
    from lib.lake.compact import Compactor, selection_from
    from lib.lake.storage import open_store

    selection = selection_from(args.dt, args.older_than_days)
    compactor = Compactor(
        open_store(args.location), target_mb=args.target_mb, keep_history=args.keep_history
    )
    summary = compactor.run(selection)
    rows = [p.as_dict() for p in summary.partitions]
    if rows:
        print(format_rows(list(rows[0]), rows), file=sys.stderr)
    print(json.dumps(summary.as_dict()))
    return 1 if summary.as_dict()["failed"] else 0


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
    print(schema_markdown(args.table))
    return 0


def schema_markdown(table: str) -> str:
    """The column table as Markdown, derived from the declared schema."""
    lines = ["| column | type |", "| --- | --- |"]
    lines += [f"| `{f.name}` | `{f.type}` |" for f in SCHEMAS[table]]
    return "\n".join(lines)


def format_table(table: pa.Table, width: int = 40) -> str:
    return format_rows(table.column_names, table.to_pylist(), width)


def format_rows(header: list[str], rows: list[dict[str, Any]], width: int = 40) -> str:
    """An aligned plain-text rendering; long cells are cut to `width` characters."""
    cells = [[_cell(_plain(row.get(h)), width) for h in header] for row in rows]
    widths = [max([len(h)] + [len(r[i]) for r in cells]) for i, h in enumerate(header)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True))]
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in cells]
    return "\n".join(line.rstrip() for line in lines)


def _cell(value: object, width: int) -> str:
    text = "" if value is None else str(value)
    return text if len(text) <= width else text[: width - 1] + "…"
