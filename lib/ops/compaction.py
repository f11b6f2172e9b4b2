"""`python -m lib compact`: merge each chosen partition's small files (see lib/lake/compact.py)."""

from __future__ import annotations

import argparse
import logging
from collections.abc import Callable
from datetime import date
from typing import Any

from lib.core.inventory_schema import INVENTORY_PREFIX
from lib.core.schema import DATA_TABLE, ERRORS_TABLE
from lib.core.settings import LAKE_URI
from lib.lake.compact import MAX_OLDER_THAN_DAYS, MAX_TARGET_MB, MIN_TARGET_MB, Selection
from lib.lake.reader import LakeNotFound
from lib.lake.storage import ObjectStore
from lib.lake.writer import DEFAULT_TARGET_MB
from lib.ops.flags import Number
from lib.ops.output import counted, emit, format_option, format_rows


def register(commands: Any, lake_option: Callable[[argparse.ArgumentParser], None]) -> None:
    compact = commands.add_parser(
        "compact",
        help="merge each partition's small files, keeping the latest row per task",
        description="Rewrite the chosen partitions' files as a few files of about --target-mb, "
        "dropping duplicates (one row per task id: the greatest updated_at, then ingested_at). "
        "Safe beside running writers: only the files read are removed, after the new ones exist.",
    )
    lake_option(compact)
    chosen = compact.add_mutually_exclusive_group()
    chosen.add_argument("--dt", help="compact this partition (YYYY-MM-DD)")
    chosen.add_argument(
        "--older-than-days",
        type=Number("--older-than-days", maximum=MAX_OLDER_THAN_DAYS, integer=True),
        help="compact days at least N days old (default 1)",
    )
    compact.add_argument(
        "--target-mb",
        type=Number("--target-mb", minimum=MIN_TARGET_MB, maximum=MAX_TARGET_MB),
        default=DEFAULT_TARGET_MB,
        help=f"file size to aim for (default {DEFAULT_TARGET_MB:g})",
    )
    compact.add_argument(
        "--keep-history", action="store_true", help="keep every distinct snapshot of a task"
    )
    format_option(compact)
    compact.set_defaults(run=compact_command)


def compact_command(args: argparse.Namespace) -> int:
    from lib.lake.compact import Compactor
    from lib.lake.storage import open_store

    selection = selection_from(args.dt, args.older_than_days)
    store = open_store(args.location)
    compactor = Compactor(store, target_mb=args.target_mb, keep_history=args.keep_history)
    tables = any(compactor.partitions(table) for table in (DATA_TABLE, ERRORS_TABLE))
    if not tables and not store.list(f"{INVENTORY_PREFIX}/"):
        raise LakeNotFound(f"no lake files under {args.lake}: check --lake or {LAKE_URI}")
    summary = compactor.run(selection, log_level=logging.DEBUG)  # each is a row of the table
    totals = {**summary.as_dict(), **_expire_inventory(store, args.lake)}
    rows = [p.as_dict() for p in summary.partitions]
    human = said(totals)
    if rows:
        human += "\n\n" + format_rows(list(rows[0]), rows)
    emit(args.format, {**totals, "partitions": rows}, human)
    return 1 if totals["failed"] else 0


def said(totals: dict[str, Any]) -> str:
    """What a compaction did, in a sentence or two."""
    seen = totals["partitions_seen"]
    if seen == 0:
        text = "nothing to compact: no partition of the days chosen"
    else:
        text = f"compacted {totals['compacted']} of {counted(seen, 'partition')}"
        if totals["compacted"]:
            text += (
                f": {counted(totals['files_in'], 'file')} into {totals['files_out']}, "
                f"{counted(totals['rows_dropped'], 'duplicate row')} dropped"
            )
        others = [
            (totals["already_compact"], "already compact"),
            (totals["changed_meanwhile"], "changed meanwhile (left for the next run)"),
            (totals["left"], "not reached in the time allowed (left for the next run)"),
            (totals["failed"], "FAILED (the log says why; its files are untouched)"),
        ]
        text += "".join(f"; {count} {what}" for count, what in others if count)
    removed = totals.get("inventory_snapshots_removed", 0)
    text += (
        f"; {counted(removed, 'expired inventory snapshot')} removed "
        f"({counted(totals.get('inventory_files_removed', 0), 'file')})"
    )
    return text


def _expire_inventory(store: ObjectStore, lake: str) -> dict[str, Any]:
    """Inventory snapshots older than INVENTORY_KEEP_DAYS go with every compaction."""
    import os

    from lib.core.settings import Settings
    from lib.core.times import now_utc
    from lib.lake.snapshots import remove_expired

    keep_days = Settings.for_lake(os.environ, lake_uri=lake).inventory_keep_days
    return remove_expired(store, keep_days, now_utc())


def selection_from(day: str | None, older_than_days: int | None) -> Selection:
    """The partitions --dt or --older-than-days (default 1) choose."""
    if day is None:
        return Selection(older_than_days=1 if older_than_days is None else older_than_days)
    try:
        return Selection(day=date.fromisoformat(day))
    except ValueError:
        raise ValueError(f"--dt must be a date like 2026-11-20, got {day!r}") from None
