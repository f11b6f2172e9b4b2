"""`python -m lib backfill`: its options, and what it prints and returns."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from lib.core.times import parse_day_or_moment
from lib.ingest.listing import MAX_PAGE_SIZE
from lib.ops.flags import Number
from lib.ops.output import agree, counted, emit, format_option

FILTER_OPTIONS = ("operation_type", "status", "vault_id")
MIN_SLICE_HOURS = 1 / 60  # a slice of the window is at least a minute...
MAX_SLICE_HOURS = 100_000.0  # ...and at most about 11 years: any window in one slice


def register(commands: Any, lake_option: Callable[[argparse.ArgumentParser], None]) -> None:
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
    lake_option(backfill)
    backfill.add_argument("--project", help="project ID (default $CBR_PROJECT_ID)")
    backfill.add_argument("--operation-type", help="list only this type (backup, restore, ...)")
    backfill.add_argument("--status", help="list only this status (success, failed, ...)")
    backfill.add_argument("--vault-id", help="list only this vault's tasks")
    backfill.add_argument("--enqueue", metavar="QUEUE_URL", help="send IDs to this queue instead")
    backfill.add_argument(
        "--page-size",
        type=Number("--page-size", minimum=1, maximum=MAX_PAGE_SIZE, integer=True),
        default=MAX_PAGE_SIZE,
        help=f"tasks per list request (default {MAX_PAGE_SIZE})",
    )
    backfill.add_argument(
        "--slice-hours",
        type=Number("--slice-hours", minimum=MIN_SLICE_HOURS, maximum=MAX_SLICE_HOURS),
        default=24.0,
        help="window slice length in hours (default 24; at least one minute)",
    )
    backfill.add_argument(
        "--flush-rows",
        type=Number("--flush-rows", minimum=1, maximum=1_000_000, integer=True),
        default=10_000,
        help="rows per lake write (default 10000)",
    )
    backfill.add_argument("--checkpoint", help="resume file (default .oplog-lake/backfill-*.json)")
    format_option(backfill)
    backfill.set_defaults(run=backfill_command)


def backfill_command(args: argparse.Namespace) -> int:
    from lib.aws.app import Root
    from lib.core.settings import Settings
    from lib.ops.backfill.checkpoint import BackfillError
    from lib.ops.backfill.command import Options, run

    options = Options(
        ids_file=args.ids_file,
        since=parse_day_or_moment(args.since) if args.since else None,
        until=parse_day_or_moment(args.until, end_of_day=True) if args.until else None,
        project_id=args.project,
        filters={name: getattr(args, name) for name in FILTER_OPTIONS if getattr(args, name)},
        queue_url=args.enqueue,
        page_size=args.page_size,
        slice_width=timedelta(hours=args.slice_hours),
        flush_rows=args.flush_rows,
        checkpoint=args.checkpoint,
    )
    try:
        summary = run(options, Root(Settings.from_env(os.environ, lake_uri=args.lake)))
    except BackfillError as exc:
        print(f"error: {exc}; run the same command again to resume", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted; run the same command again to resume", file=sys.stderr)
        return 1
    emit(args.format, summary, describe(summary, args.lake, queue=args.enqueue))
    return 1 if summary.get("failed_lines") or summary.get("invalid_lines") else 0


def describe(summary: dict[str, Any], lake: str, *, queue: str | None) -> str:
    """The summary in sentences."""
    where = f"sent to {queue}" if queue else f"written to {lake}"
    if "lines" in summary:  # a file of IDs
        lines = [
            f"{counted(summary['lines'], 'line')} read"
            f"{' (resumed)' if summary['resumed'] else ''}: "
            f"{counted(summary['rows'], 'row')} {where}, "
            f"{counted(summary['error_rows'], 'error row')}.",
            f"{summary['known']} already in the lake, {summary['duplicates']} named twice.",
        ]
        invalid, failed = summary["invalid_lines"], summary["failed_lines"]
        if invalid:
            lines.append(
                f"{counted(invalid, 'line')} {agree(invalid, 'was', 'were')} not valid "
                "(see the error rows)."
            )
        if failed:
            lines.append(
                f"{counted(failed, 'line')} failed: run the same command again to retry "
                f"{agree(failed, 'it', 'them')}."
            )
        return "\n".join(lines)
    return (
        f"{counted(summary['slices'], 'slice')} listed in {counted(summary['pages'], 'page')}"
        f"{' (resumed)' if summary['resumed'] else ''}: "
        f"{counted(summary['received'], 'task')} listed, "
        f"{summary['written']} {where}, {summary['known']} already in the lake, "
        f"{summary['duplicates']} listed twice ({counted(summary['requests'], 'request')}, "
        f"{counted(summary['retries'], 'retry', 'retries')})."
    )
