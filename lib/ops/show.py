"""`python -m lib show`: what the lake holds: each table's size and first rows, and each project's
inventory snapshot."""

from __future__ import annotations

import argparse
import functools
from collections.abc import Callable
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from lib.core.schema import DATA_TABLE, ERRORS_TABLE, PARTITION_KEY
from lib.core.settings import LAKE_URI
from lib.core.times import format_utc
from lib.lake.reader import LakeNotFound, scan
from lib.lake.snapshots import Snapshots
from lib.ops.flags import Number
from lib.ops.output import counted, emit, format_option, format_rows

SHOW_COLUMNS = {
    DATA_TABLE: ["dt", "id", "operation_type", "status", "created_at", "error_info__code"],
    ERRORS_TABLE: ["dt", "reason", "operation_log_id", "http_status", "error_code", "error_msg"],
}


def register(commands: Any, lake_option: Callable[[argparse.ArgumentParser], None]) -> None:
    show = commands.add_parser("show", help="summarise what the lake holds, with sample rows")
    lake_option(show)
    show.add_argument(
        "--limit",
        type=Number("--limit", maximum=1_000_000, integer=True),
        default=20,
        help="rows to print per table (default 20)",
    )
    format_option(show)
    show.set_defaults(run=show_lake)


def show_lake(args: argparse.Namespace) -> int:
    """Each table's size and first rows, and the latest inventory snapshot of each project; a
    lake with none of them is an error (as in report)."""
    from lib.lake.storage import open_store

    tables = [_table(args.location, name, args.limit) for name in (DATA_TABLE, ERRORS_TABLE)]
    snapshots, notes = Snapshots(open_store(args.location)).latest()
    if not any(t["files"] for t in tables) and not snapshots and not notes:
        raise LakeNotFound(f"no lake files under {args.lake}: check --lake or {LAKE_URI}")
    inventory = [
        {
            "project_id": s.project_id,
            "snapshot_id": s.snapshot_id,
            "snapshot_at": format_utc(s.snapshot_at),
            **dict(s.rows),
        }
        for s in snapshots
    ]
    document = {"lake": args.lake, "tables": tables, "inventory": inventory, "notes": notes}
    emit(args.format, document, _human(tables, inventory, notes))
    return 0


def _table(location: Any, table: str, limit: int) -> dict[str, Any]:
    """One table's rows, files, partitions and its first `limit` rows (by day, then id)."""
    try:
        rows, files = scan(location, table, functools.partial(_show_rows, table=table))
    except LakeNotFound:
        rows, files = None, 0
    if rows is None or not files:
        return {"table": table, "rows": 0, "files": 0, "partitions": 0, "first_rows": []}
    return {
        "table": table,
        "rows": rows.num_rows,
        "files": files,
        "partitions": pc.count_distinct(rows[PARTITION_KEY]).as_py(),
        "first_rows": rows.slice(0, limit).to_pylist(),
    }


def _show_rows(dataset: Any, table: str) -> tuple[pa.Table, int]:
    rows = dataset.to_table(columns=SHOW_COLUMNS[table]).sort_by(
        [(PARTITION_KEY, "ascending"), (SHOW_COLUMNS[table][1], "ascending")]
    )
    return rows, len(dataset.files)


def _human(tables: list[dict[str, Any]], inventory: list[dict[str, Any]], notes: list[str]) -> str:
    parts = []
    for table in tables:
        name, first = table["table"], table["first_rows"]
        if not table["files"]:
            parts.append(f"{name}: no files yet")
            continue
        lines = [
            f"{name}: {counted(table['rows'], 'row')} in {counted(table['files'], 'file')}, "
            f"{counted(table['partitions'], 'partition')}",
            format_rows(SHOW_COLUMNS[name], first),
        ]
        if table["rows"] > len(first):
            lines.append(f"... {table['rows'] - len(first)} more")
        parts.append("\n".join(lines))
    if inventory:
        header = list(dict.fromkeys(key for row in inventory for key in row))
        title = f"inventory: the latest snapshot of {counted(len(inventory), 'project')}"
        parts.append(title + "\n" + format_rows(header, inventory))
    else:
        parts.append("inventory: no snapshot yet (`python -m lib inventory` takes one)")
    parts += [f"note: {note}" for note in notes]
    return "\n\n".join(parts)
