"""A lake of known content for the audit controls, written through the real writer.

The period is November 2026 (`--since 2026-11-01 --until 2026-11-30`, so it ends at
2026-12-01T00:00Z), evaluated at its end (`--now` is later). Six resources, each built to land
on a known verdict per control; EXPECTED is written by hand from the stories below, not computed.

- web-01: a successful backup every day; the backup of Nov 29 (older than 24 h) replicated; a
  30-minute restore of one of its backups (matched by backup ID: the restore names no resource)
  on Nov 21; its Nov 1 backup deleted on Nov 20 (19 days old).
- db-01: first backup Nov 27; Nov 28 has only a failed backup; its latest success ended at exactly
  2026-11-30T00:00:00Z, 24 h before the evaluation time (the RPO boundary) and failed its
  application-consistent snapshot; a backup running since Nov 30 12:00 (12 h); one restore by
  resource ID that ended 91 days before the evaluation time and took 60 minutes; no replication.
- file-01: backed up from Sep 5 to Oct 10, then nothing; the Oct 10 backup replicated; a backup
  deleted on Nov 10 whose creation is not in the lake.
- app-01: daily successful backups Nov 20-30; its Nov 21 backup deleted 6 days later; only the
  Nov 25 backup replicated (an older one than the one the control checks); a restore by resource
  ID on Nov 25 that took 800 minutes; a replication waiting since Nov 30 20:00 (4 h).
- new-01: a single failed backup created Nov 30 18:00, 6 h before the evaluation time.
- old-vol: no backup task at all, only a delete (in the period) of a backup not in the lake.
"""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from lib.core.times import parse_utc
from lib.ingest.coverage import Proof, Proofs, verify_key
from lib.ingest.flatten import flatten
from lib.ingest.watermark import ProjectState, Span, state_key
from lib.lake.storage import LocalStore
from lib.lake.writer import Lake

PROJECT = "p-audit"
PERIOD = ["--since", "2026-11-01", "--until", "2026-11-30", "--now", "2026-12-05T00:00:00Z"]
AT = datetime(2026, 12, 1, tzinfo=UTC)
RESOURCES = ("web-01", "db-01", "file-01", "app-01", "new-01", "old-vol")
C, N, U = "COMPLIANT", "NON_COMPLIANT", "INSUFFICIENT_DATA"  # U: unknown, not enough data
# resource -> the verdict of each control, in the controls' order:
# backup-within-rpo, daily-adherence, app-consistency, cross-region-copy, restore-tested,
# restore-time, min-retention, no-stuck-tasks
EXPECTED_ROWS = {
    "web-01": (C, C, C, C, C, C, C, C),
    "db-01": (C, N, N, N, N, C, C, N),
    "file-01": (N, N, U, C, N, U, U, C),
    "app-01": (C, C, U, N, C, N, N, C),
    "new-01": (U, N, U, U, N, U, C, C),
    "old-vol": (N, U, U, U, N, U, U, C),
}
CONTROLS = (
    "backup-within-rpo",
    "daily-adherence",
    "app-consistency",
    "cross-region-copy",
    "restore-tested",
    "restore-time",
    "min-retention",
    "no-stuck-tasks",
)
EXPECTED = {
    (resource, control): status
    for resource, statuses in EXPECTED_ROWS.items()
    for control, status in zip(CONTROLS, statuses, strict=True)
}
TYPES = {"file-01": "OS::Sfs::Turbo", "old-vol": "OS::Cinder::Volume"}


def stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def log(
    task_id: str,
    op: str,
    status: str,
    created: str,
    minutes: float | None,
    resource: str | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """An operation log created at `created`, ending `minutes` later (None: not finished)."""
    start = parse_utc(created)
    end = None if minutes is None else start + timedelta(minutes=minutes)
    info: dict[str, Any] = {
        "common": {"progress": 100 if end else 30, "request_id": f"r-{task_id}"}
    }
    if resource:
        kind = TYPES.get(resource, "OS::Nova::Server")
        info["resource"] = {"id": resource, "name": f"{resource}.example", "type": kind}
    info.update(extra)
    return {
        "id": task_id,
        "project_id": PROJECT,
        "operation_type": op,
        "status": status,
        "created_at": stamp(start),
        "started_at": stamp(start),
        "ended_at": stamp(end) if end else "",
        "updated_at": stamp(end or start),
        "vault_name": f"vault-{(resource or 'x').split('-')[0]}",
        "error_info": {"code": "BackupService.7101" if status == "failed" else "", "message": ""},
        "extra_info": info,
    }


def backup(task_id: str, resource: str, created: str, status: str = "success", **consistency: str):
    minutes = None if status in ("running", "waiting") else 10
    body = {"backup_id": f"bk-{task_id}", "backup_name": f"autobk-{task_id}", **consistency}
    return log(task_id, "backup", status, created, minutes, resource, backup=body)


def replication(task_id: str, resource: str, created: str, source: str, status: str = "success"):
    body = {
        "source_backup_id": f"bk-{source}",
        "source_region": "ap-southeast-1",
        "destination_region": "ap-southeast-3",
        "source_project_id": PROJECT,
        "destination_project_id": "p-dr",
    }
    minutes = None if status in ("running", "waiting") else 40
    return log(task_id, "replication", status, created, minutes, resource, replication=body)


def delete(task_id: str, resource: str, created: str, backup_task: str) -> dict[str, Any]:
    body = {"backup_id": f"bk-{backup_task}", "backup_name": f"autobk-{backup_task}"}
    return log(task_id, "delete", "success", created, 1, resource, delete=body)


def restore(task_id: str, resource: str | None, created: str, minutes: float, backup_task: str):
    body = {"backup_id": f"bk-{backup_task}", "target_resource_id": "target-vm"}
    return log(task_id, "restore", "success", created, minutes, resource, restore=body)


def day(n: int, time: str = "22:00:00", month: int = 11) -> str:
    return f"2026-{month:02d}-{n:02d}T{time}Z"


def web() -> list[dict[str, Any]]:
    logs = [
        backup(f"web-b{n:02d}", "web-01", day(n), app_consistency_status="1") for n in range(1, 31)
    ]
    logs.append(replication("web-rep29", "web-01", day(30, "01:00:00"), "web-b29"))
    logs.append(restore("web-rst", None, day(21, "10:00:00"), 30, "web-b15"))
    logs.append(delete("web-del01", "web-01", day(20, "08:00:00"), "web-b01"))
    return logs


def db() -> list[dict[str, Any]]:
    failed = {
        "app_consistency_status": "0",
        "app_consistency_error_code": "BackupService.7130",
        "app_consistency_error_message": "VSS writer failed",
    }
    return [
        backup("db-b27", "db-01", day(27, "10:00:00"), app_consistency_status="1"),
        backup("db-b28", "db-01", day(28, "10:00:00"), status="failed"),
        # Created 23:50, ended at midnight: exactly 24 h before the evaluation time.
        backup("db-b29", "db-01", day(29, "23:50:00"), **failed),
        backup("db-b30", "db-01", day(30, "12:00:00"), status="running"),
        # Ended 2026-09-01T00:00Z: 91 days before 2026-12-01.
        restore("db-rst", "db-01", "2026-08-31T23:00:00Z", 60, "db-old"),
    ]


def file_server() -> list[dict[str, Any]]:
    logs = [backup(f"file-b{n:02d}", "file-01", day(n, month=9)) for n in range(5, 31, 5)]
    logs.append(backup("file-b1010", "file-01", day(10, month=10)))
    logs.append(replication("file-rep", "file-01", day(11, "03:00:00", month=10), "file-b1010"))
    logs.append(delete("file-del", "file-01", day(10, "09:00:00"), "file-b0101"))  # not in lake
    return logs


def app() -> list[dict[str, Any]]:
    logs = [backup(f"app-b{n}", "app-01", day(n, "06:00:00")) for n in range(20, 31)]
    logs.append(delete("app-del21", "app-01", day(27, "06:00:00"), "app-b21"))  # 6 days old
    logs.append(replication("app-rep25", "app-01", day(25, "09:00:00"), "app-b25"))
    logs.append(restore("app-rst", "app-01", day(25, "01:00:00"), 800, "app-b24"))
    logs.append(replication("app-rep30", "app-01", day(30, "20:00:00"), "app-b30", "waiting"))
    return logs


def others() -> list[dict[str, Any]]:
    return [
        backup("new-b30", "new-01", day(30, "18:00:00"), status="failed"),
        delete("old-del", "old-vol", day(15, "12:00:00"), "old-gone"),
    ]


def audit_logs() -> list[dict[str, Any]]:
    return web() + db() + file_server() + app() + others()


ERRORS = [
    {
        "operation_log_id": "gone-1",
        "project_id": PROJECT,
        "source_message_id": "m-e1",
        "reason": "not_found",
        "http_status": 404,
        "error_code": "BackupService.6500",
        "error_msg": "not found",
        "raw_message": "gone-1",
        "observed_at": datetime(2026, 11, 12, 8, tzinfo=UTC),
    },
    {
        "operation_log_id": None,
        "project_id": None,
        "source_message_id": "m-e2",
        "reason": "invalid_message",
        "http_status": None,
        "error_code": None,
        "error_msg": None,
        "raw_message": "{not json",
        "observed_at": datetime(2026, 11, 12, 9, tzinfo=UTC),
    },
]


def write_audit_lake(root: Path) -> str:
    """The lake, in two writes: db-b29 is first seen running, then finished (a later snapshot)."""
    lake = Lake(LocalStore(root))
    ingested = datetime(2026, 12, 1, 6, tzinfo=UTC)
    early = backup("db-b29", "db-01", day(29, "23:50:00"), status="running")
    lake.write([flatten(early, ingested_at=ingested, source_message_id="m0")[0]], [])
    rows = [
        flatten(entry, ingested_at=ingested, source_message_id="m1")[0] for entry in audit_logs()
    ]
    lake.write(rows, ERRORS)
    return str(root)


def write_watermark(
    root: Path,
    project: str,
    watermark: str | None,
    listed_from: str | None = "2026-10-01T00:00:00Z",
    earlier: tuple[tuple[str, str], ...] = (),
) -> None:
    """The discovery state as discovery itself writes it: listed whole from `listed_from` to
    the watermark, and in each `earlier` (from, to) span."""
    state = ProjectState(
        watermark=parse_utc(watermark) if watermark else None,
        listed_from=parse_utc(listed_from) if listed_from else None,
        earlier_listed=tuple(Span(parse_utc(a), parse_utc(b)) for a, b in earlier),
    )
    LocalStore(root).put(state_key(project), state.to_json(datetime(2026, 12, 1, tzinfo=UTC)))


def write_proofs(root: Path, project: str, *spans: tuple[str, str]) -> None:
    """The periods verify proved, as verify itself records them."""
    proved = datetime(2026, 12, 1, tzinfo=UTC)
    proofs = Proofs(tuple(Proof(parse_utc(a), parse_utc(b), proved) for a, b in spans))
    LocalStore(root).put(verify_key(project), proofs.to_json(proved))


# --- an estate: many resources, for the pack's page budget -------------------------------------
# Resources of eight kinds (their number modulo 8), each landing on known verdicts: 0-1 a
# successful backup every day, replicated, a restore tested: compliant everywhere; 2 the same,
# but its restore took 900 minutes; 3 misses every fourth day; 4 only failed backups from Nov 26;
# 5 a backup running since Nov 28 (stuck) and its last backup failed application consistency;
# 6 first backed up on Nov 30 (too new to judge most controls); 7 never replicated, one backup
# deleted after 3 days. Kind 4 also has a restore and a delete that failed, and the lake holds
# ERRORS. IDs are UUIDs, as the API's are, so the page has to shorten them.
ESTATE_KINDS = 8
APP_FAILED = {
    "app_consistency_status": "0",
    "app_consistency_error_code": "BackupService.7130",
    "app_consistency_error_message": "VSS writer failed",
}


def estate_resource(n: int, uid: Any) -> list[dict[str, Any]]:
    """One resource's month of tasks, by its kind (n modulo ESTATE_KINDS)."""
    resource, kind = uid(), n % ESTATE_KINDS
    days = [d for d in range(1, 31) if not (kind == 3 and d % 4 == 0) and (kind != 6 or d == 30)]
    ids = {d: uid() for d in days}
    logs = []
    for d in days:
        status = "failed" if kind == 4 and d >= 26 else "success"
        consistency = APP_FAILED if kind == 5 and d == 30 else {"app_consistency_status": "1"}
        logs.append(backup(ids[d], resource, day(d), status, **consistency))
    if kind == 5:
        logs.append(backup(uid(), resource, day(28, "10:00:00"), status="running"))
    if kind == 7:
        logs.append(delete(uid(), resource, day(12, "23:00:00"), ids[9]))
    elif kind != 6:
        logs.append(replication(uid(), resource, day(30, "02:00:00"), ids[days[-2]]))
    if kind != 6:
        minutes = 900 if kind == 2 else 30
        logs.append(restore(uid(), resource, day(21, "10:00:00"), minutes, ids[days[10]]))
    if kind == 4:  # and a restore and a delete that failed
        body = {"backup_id": f"bk-{ids[days[3]]}", "target_resource_id": resource}
        logs.append(log(uid(), "restore", "failed", day(27, "09:00:00"), 5, resource, restore=body))
        logs.append(log(uid(), "delete", "failed", day(28, "09:00:00"), 1, resource, delete=body))
    name = f"ecs-{('web', 'db', 'erp', 'crm', 'etl')[n % 5]}-prod-{n:03d}"
    for entry in logs:
        entry["extra_info"]["resource"]["name"] = name
    return logs


def estate_logs(resources: int, seed: int = 3) -> list[dict[str, Any]]:
    rng = random.Random(seed)

    def uid() -> str:
        return str(uuid.UUID(int=rng.getrandbits(128), version=4))

    return [entry for n in range(resources) for entry in estate_resource(n, uid)]


def write_estate_lake(root: Path, resources: int) -> str:
    """A month of `resources` resources (see ESTATE_KINDS), with the discovery watermark at the
    period's end; written through the real writer."""
    ingested = datetime(2026, 12, 1, 6, tzinfo=UTC)
    rows = [
        flatten(entry, ingested_at=ingested, source_message_id=f"m{n}")[0]
        for n, entry in enumerate(estate_logs(resources))
    ]
    Lake(LocalStore(root)).write(rows, ERRORS)
    write_watermark(root, PROJECT, "2026-12-01T00:00:00Z")
    return str(root)
