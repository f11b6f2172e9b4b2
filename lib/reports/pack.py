"""The audit pack: one folder an auditor can be handed and can check.

`index.html` (summary, controls, the exceptions with their evidence, then a section per report
in SECTIONS, with the inventory's INVENTORY_SECTIONS when the lake has an inventory: the summary
then leads with the unprotected resources and each project's snapshot time), each pack report as
CSV and JSON (every row), a page of its own for a report drawn
as a figure (`adherence.html`), and `manifest.json` with the period, parameters, lake,
generation time and the SHA-256 of every other file. Everything but the manifest's generation
time depends only on the lake and the request, so the same run twice writes the same bytes.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from lib.core.settings import LakeLocation
from lib.core.times import format_utc
from lib.lake.storage import open_store
from lib.reports.catalog import get_report
from lib.reports.controls import choose
from lib.reports.coverage_text import coverage_json
from lib.reports.engine import has_inventory, location_of, run_reports
from lib.reports.html.heatmap import STATES, day_state
from lib.reports.html.sections import Section, render_figure_page
from lib.reports.html.summary import render_index, snapshots_by_project
from lib.reports.parameters import Request, Scope
from lib.reports.result import ReportResult
from lib.reports.text import render_csv, render_json

Row = dict[str, Any]


def adherence_day(row: Row) -> str:
    """ "with a successful backup": a resource-day as the grid colours it."""
    spec = get_report("adherence").chart
    return "with " + STATES[day_state(row, spec)][1] if spec else "?"


PROVEN = {  # coverage's `proven`, in words
    "discovery": "proven complete by discovery",
    "verify": "proven complete by verify",
    "discovery, verify": "proven complete by discovery and verify",
    "partly": "proven in part",
    "not": "NOT proven complete",
}


def proven_words(row: Row) -> str:
    """A coverage row's project-day in words ("proven complete by discovery")."""
    if row["project_id"] is None:  # a day of error rows that name no project
        return "errors naming no project"
    return PROVEN.get(row["proven"], str(row["proven"]))


def status_of(row: Row) -> str:
    return str(row["status"])


def unsuccessful(row: Row) -> bool:
    return bool(row["status"] != "success")


# The index's report sections, in order, after the summary, controls and exceptions (which
# every pack has: the controls and resource-compliance reports). One entry per pack report.
SECTIONS = (
    Section("adherence", noun="resource-days", count=adherence_day, figure_page=True),
    Section(
        "restores",
        noun="restores",
        count=status_of,
        exception=unsuccessful,
        listed="restores that did not succeed",
        columns="id created_at status resource_name backup_id error_code error_message",
    ),
    Section(
        "deletions",
        noun="deletions",
        count=status_of,
        exception=unsuccessful,
        listed="deletions that did not succeed",
        columns="id operation_type created_at status resource_name backup_id error_code",
    ),
    Section(
        "coverage",
        noun="project-days",
        count=proven_words,
        exception=lambda row: bool(row["error_rows"]),
        listed="days with error rows (inputs that became no task row)",
        columns="day project_id tasks error_rows error_reasons",
    ),
)


def unprotected_kind(row: Row) -> str:
    """Why a resource of the unprotected report is unprotected, in a few words."""
    why = str(row["why"])
    if why.startswith("in no vault"):
        return "in no vault"
    if why.endswith("has no backup policy"):
        return "in a vault without a backup policy"
    if why.endswith("is disabled"):
        return "under a disabled backup policy"
    return "in a vault the snapshot does not list"


def vault_policy(row: Row) -> str:
    if row["policy_name"] is None:
        return "without a backup policy"
    return f"with {'an enabled' if row['policy_enabled'] else 'a disabled'} backup policy"


IN_SNAPSHOT = "in the inventory snapshot in force"
# The inventory's sections, when the lake has one: the unprotected resources before the others,
# the vaults and the restore points after them.
INVENTORY_SECTIONS = (
    Section(
        "unprotected",
        noun="unprotected resources",
        count=unprotected_kind,
        exception=lambda row: True,
        listed="unprotected resources",
        columns="project_id resource_type resource_name resource_id status vault_name why",
        where=IN_SNAPSHOT,
    ),
    Section(
        "inventory",
        noun="vaults",
        count=vault_policy,
        exception=lambda row: not row["policy_enabled"],
        listed="vaults without an enabled backup policy",
        columns="project_id vault_name vault_id size_gb used_rate policy_name retention resources",
        where=IN_SNAPSHOT,
    ),
    Section(
        "restore-points",
        noun="resources",
        count=lambda row: "with restore points" if row["restore_points"] else "with none",
        exception=lambda row: not row["restore_points"],
        listed="resources without an available restore point",
        columns="project_id resource_type resource_name resource_id vault_name not_available",
        where=IN_SNAPSHOT,
    ),
)


def pack_sections(inventory: bool) -> tuple[Section, ...]:
    """The report sections of a pack: SECTIONS, and the inventory's when the lake has one."""
    if not inventory:
        return SECTIONS
    first, *last = INVENTORY_SECTIONS
    return (first, *SECTIONS, *last)


def pack_reports(sections: Sequence[Section]) -> tuple[str, ...]:
    return ("controls", "resource-compliance", *(section.report for section in sections))


PACK_REPORTS = pack_reports(SECTIONS)
MANIFEST = "manifest.json"
FORMAT = "oplog-lake audit pack 1"


@dataclass(frozen=True)
class Pack:
    files: dict[str, bytes]  # file name -> content; the manifest last
    manifest: dict[str, Any]
    results: dict[str, ReportResult]


def build_pack(
    lake: LakeLocation | str,
    request: Request,
    controls: Sequence[str] | None,
    generated_at: datetime,
) -> Pack:
    lake = location_of(lake)
    inventory = has_inventory(lake)
    chosen = choose(controls, inventory=inventory)
    sections = pack_sections(inventory)
    results = {r.name: r for r in run_reports(lake, request, pack_reports(sections), chosen)}
    scope = results["controls"].scope
    if scope is None:  # every report run over a lake has one
        raise RuntimeError("the controls report ran without a scope")
    title = pack_title(scope)
    index = render_index(results, sections, lake=lake.uri, title=title)
    files = {"index.html": index.encode()}
    for section in sections:
        if section.page:
            page = render_figure_page(results[section.report], lake=lake.uri, title=title)
            files[section.page] = page.encode()
    for name, result in results.items():
        files[f"{name}.csv"] = render_csv(result).encode()
        files[f"{name}.json"] = render_json([result]).encode()
    manifest = {
        "format": FORMAT,
        "period": {"since": _moment(scope.since), "until": _moment(scope.until)},
        "evaluated_at": format_utc(scope.at),
        "generated_at": format_utc(generated_at),
        "lake": lake.uri,
        "controls": list(chosen),
        "parameters": dict(scope.values),
        "rows": {name: len(result.rows) for name, result in results.items()},
        "inventory": {
            project: {"snapshot_id": snapshot_id, "snapshot_at": _moment(taken)}
            if snapshot_id
            else None
            for project, (snapshot_id, taken) in snapshots_by_project(results).items()
        },
        "notes": sorted({note for result in results.values() for note in result.notes}),
        "coverage": coverage_json(coverage) if (coverage := results["coverage"].coverage) else None,
        "files": {name: digest(data) for name, data in sorted(files.items())},
    }
    files[MANIFEST] = (json.dumps(manifest, indent=2, ensure_ascii=False) + "\n").encode()
    return Pack(files, manifest, results)


def digest(data: bytes) -> dict[str, Any]:
    return {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}


def pack_title(scope: Scope) -> str:
    """ "Backup audit 2026-11-01 to 2026-11-30": the days the period covers."""
    first = scope.since.date().isoformat() if scope.since else "the start of the lake"
    end = scope.until or scope.at
    last = (end - timedelta(microseconds=1)).date().isoformat()
    return f"Backup audit {first} to {last}"


class DestinationError(ValueError):
    """The place asked for cannot take the pack without mixing it with other files."""


def pack_files() -> set[str]:
    """The names a pack may hold (those of the inventory only when the lake has one)."""
    sections = pack_sections(inventory=True)
    evidence = {f"{name}.{kind}" for name in pack_reports(sections) for kind in ("csv", "json")}
    pages = {section.page for section in sections if section.page}
    return {"index.html", MANIFEST} | evidence | pages


def check_destination(out: LakeLocation, lake: LakeLocation) -> set[str]:
    """The files of an earlier pack at `out` that the new pack will not replace (to remove).
    Raises DestinationError when `out` is the lake or inside it, or holds files that are not
    an earlier pack's (hidden files, whose names start with a dot, are not looked at)."""
    if _inside(out, lake):
        raise DestinationError(f"{out.uri} is inside the lake {lake.uri}: write the pack elsewhere")
    store = open_store(out)
    present = set(store.list(""))
    if not present:
        return set()
    earlier = _earlier_pack(store) if MANIFEST in present else None
    if earlier is None:
        raise DestinationError(
            f"{out.uri} holds {len(present)} file(s) that are not an audit pack (such as "
            f"{min(present)}): name a new or empty folder, or one holding an earlier pack"
        )
    foreign = present - earlier - pack_files()
    if foreign:
        raise DestinationError(
            f"{out.uri} holds an earlier audit pack and {len(foreign)} other file(s) (such as "
            f"{min(foreign)}): move them, or name a new or empty folder"
        )
    return (present & earlier) - pack_files()


def write_pack(pack: Pack, out: LakeLocation, lake: LakeLocation) -> list[str]:
    """Every file under `out` (a folder or s3://bucket/prefix, encrypted like the lake), the
    manifest last, so a pack with a manifest is whole; an earlier pack there is replaced whole
    (its files the new one lacks removed first). Returns the names written."""
    check_destination(out, lake)  # refuses a place that holds anything but an earlier pack
    stale = _earlier_files(out) - set(pack.files)
    store = open_store(out)
    for name in sorted(stale):
        store.delete(name)
    for name, data in pack.files.items():
        if name != MANIFEST:
            store.put(name, data)
    store.put(MANIFEST, pack.files[MANIFEST])
    return list(pack.files)


def _earlier_files(out: LakeLocation) -> set[str]:
    """The files an earlier pack at `out` holds (one with an inventory, replaced by one
    without, leaves none of its inventory reports behind)."""
    store = open_store(out)
    present = set(store.list(""))
    earlier = _earlier_pack(store) if MANIFEST in present else None
    return (present & earlier) - {MANIFEST} if earlier else set()


def _earlier_pack(store: Any) -> set[str] | None:
    """The files an earlier pack's manifest lists (with the manifest), or None when the
    manifest is not one of ours."""
    try:
        manifest = json.loads(store.get(MANIFEST))
    except ValueError:
        return None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        return None
    return {MANIFEST, *manifest.get("files", {})}


def _inside(out: LakeLocation, lake: LakeLocation) -> bool:
    """`out` is the lake or a folder (prefix) within it."""
    if out.is_s3 != lake.is_s3:
        return False
    if out.is_s3:
        target, root = out.uri.rstrip("/") + "/", lake.uri.rstrip("/") + "/"
        return target.startswith(root)
    target_path, root_path = Path(out.uri).resolve(), Path(lake.uri).resolve()
    return target_path == root_path or root_path in target_path.parents


def _moment(moment: datetime | None) -> str | None:
    return format_utc(moment) if moment else None
