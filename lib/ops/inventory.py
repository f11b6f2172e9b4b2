"""`python -m lib inventory`: one inventory snapshot per project, as the scheduled function takes.

Exit status: 0 when every project's snapshot was published, 1 when one was not (a request or a
write failed, a list could not be read whole, or the time budget ran out: the snapshot in force
stays the one before), 2 for a usage or configuration error.
"""

from __future__ import annotations

import argparse
import logging
import os
from collections.abc import Callable
from typing import Any

from lib.core.inventory_schema import INVENTORY_TABLES, SNAPSHOT_COLUMNS, SNAPSHOT_NOTES
from lib.ops.flags import project_option
from lib.ops.output import emit, format_option, format_rows

BUDGET_S = 3600.0  # an operator's run; the function's is its invocation's budget
STOPS = {
    "time": "the time budget ran out",
    "request_failed": "a request failed",
    "list_incomplete": "a list could not be read whole",
    "write_failed": "writing to the lake failed",
}
COLUMNS = ("project_id", "vaults", "vault_resources", "policies", "protectables", "backups")


def register(commands: Any, lake_option: Callable[[argparse.ArgumentParser], None]) -> None:
    parser = commands.add_parser(
        "inventory",
        help="snapshot each project's vaults, policies, protectable resources and restore points",
        description="Read ListPolicies, ListVault, ListProtectable (each type of INVENTORY_TYPES) "
        "and ListBackups whole for each project and write them to the lake's inventory tables; "
        "the snapshot is published (readers use it) only when all of it is written. Projects: "
        "--project (repeatable), else CBR_PROJECT_IDS, else CBR_PROJECT_ID (replaying file:// "
        "answers offline: the replay's projects).",
    )
    lake_option(parser)
    project_option(parser)
    format_option(parser)
    parser.set_defaults(run=inventory_command)


def inventory_command(args: argparse.Namespace) -> int:
    from lib.aws.app import Root
    from lib.core.runtime import Deadline
    from lib.core.settings import Settings
    from lib.ingest.inventory.snapshot import summarize

    root = Root(Settings.from_env(os.environ, lake_uri=args.lake))
    projects = root.inventory_projects(args.project)
    inventory = root.inventory
    inventory.done_level = logging.DEBUG  # each snapshot is said below, in a sentence
    runs = inventory.run(projects, Deadline.after(BUDGET_S))
    summary = summarize(runs)
    emit(args.format, summary, describe(summary["projects"], args.lake))
    return 1 if summary["inventory_failures"] else 0


def describe(projects: list[dict[str, Any]], lake: str) -> str:
    """A sentence per project, then the rows each published snapshot holds."""
    lines = []
    for run in projects:
        if run["published"]:
            lines.append(
                f"{run['project_id']}: snapshot {run['snapshot_id']} taken at "
                f"{_second(run['snapshot_at'])} is published in {lake} ({run['requests']} requests"
                + (f", {run['drift']} undocumented fields kept in raw_json" if run["drift"] else "")
                + ")."
            )
        else:
            before = (
                f"{run['in_force']} (taken at {_second(run['in_force_at'])})"
                if run["in_force"]
                else "none"
            )
            lines.append(
                f"{run['project_id']}: no snapshot published: {STOPS.get(run['stopped_by'], '?')}"
                f" ({run['error']}). The snapshot in force stays {before}."
            )
    counted = [{"project_id": r["project_id"], **r["rows"]} for r in projects if r["published"]]
    if counted:
        lines += ["", "Rows per table:", format_rows(COLUMNS, counted)]
    return "\n".join(lines)


def _second(moment: str) -> str:
    """A time of the JSON summary, for people: to the second."""
    from lib.core.times import format_second, parse_utc

    return format_second(parse_utc(moment))


def inventory_markdown(name: str) -> str:
    """An inventory table's columns as Markdown (the docs' tables), from its declaration."""
    table = INVENTORY_TABLES[name]
    lines = [
        f"`{table.path}/dt=YYYY-MM-DD/`, one row per object of {table.source}:",
        "",
        "| column | type | from |",
        "| --- | --- | --- |",
    ]
    lines += [f"| `{n}` | `{t}` | {SNAPSHOT_NOTES[n]} |" for n, t in SNAPSHOT_COLUMNS]
    for field in table.fields:
        origin = " or ".join(f"`{'.'.join(path)}`" for path in field.paths) or field.note
        lines.append(f"| `{field.name}` | `{field.type}` | {origin} |")
    if table.raw_json:
        lines.append(f"| `raw_json` | `string` | {table.raw_note} |")
    return "\n".join(lines)
