"""The audit lake (audit_lake.py) with a hand-written inventory, taken by the product itself.

The list answers below are written as the CBR API gives them into a replay folder, and the
product's own inventory run (`Root(...).inventory`, the `python -m lib inventory` path: the file://
replay client, the row builder, the table writer, the state that publishes) takes each snapshot at
a fixed time. Evaluated at 2026-12-01T00:00Z (audit_lake.PERIOD), project p-audit's snapshot in
force is the one of Nov 30 06:00; the one of Nov 20 is older and the one of Dec 2 later, and both
say otherwise of srv-never (in a vault), so a verdict that reads them shows. Project p-late has
only a snapshot taken after the evaluation time, project p-none none at all.

Vaults and policies of the snapshot in force (size in GB, usage in MB):

| vault  | size | used   | policy     | enabled | schedule                 | retention        |
| v-web  | 1000 | 512000 | pol-daily  | yes     | 02:00 and 14:00 daily    | 30 days          |
| v-db   | 100  | 97280  | pol-weekly | yes     | Sundays 03:00            | the last 4       |
| v-file | -    | -      | none       |         |                          |                  |
| v-app  | 500  | 102400 | pol-off    | no      | 06:00 daily              | 3 days           |
| v-new  | 200  | 0      | pol-odd    | yes     | FREQ=MONTHLY (unread)    | the last 10      |
| v-keep | 400  | 40960  | pol-ever   | yes     | 01:00 daily              | none: for ever   |
| v-few  | 100  | 92160  | pol-few    | yes     | 01:00 daily              | the last 3       |

Resources (the first six are audit_lake's, from the operation logs too):

- web-01 in v-web (its protectable entry names the vault); newest restore point 7.8 h old;
- db-01 in v-db (only v-db's resources list it: its protectable entry names no vault); newest
  restore point 10 days old;
- file-01 in v-file; its only restore point failed (status error);
- app-01 in v-app; newest restore point made exactly 24 h before the snapshot;
- new-01 in v-new; no restore point;
- old-vol: not in the snapshot at all (deleted since);
- srv-never: a server in no vault, never backed up (no task in the operation logs);
- disk-bad: a disk in no vault that CBR cannot protect (error state);
- srv-ever in v-keep, srv-few in v-few: servers the operation logs do not know;
- srv-ghost: its protectable entry names v-gone, a vault ListVault did not return;
- late-01 (project p-late) and other-01 (project p-none): resources of the operation logs only.
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from audit_lake import backup, day, write_audit_lake

from lib.aws.app import Root
from lib.core.runtime import Deadline
from lib.core.settings import Settings
from lib.ingest.flatten import flatten
from lib.lake.storage import LocalStore
from lib.lake.writer import Lake
from lib.reports.controls import INVENTORY_CONTROLS

PROJECT, LATE, NONE = "p-audit", "p-late", "p-none"
IN_FORCE_AT = datetime(2026, 11, 30, 6, tzinfo=UTC)
OLDER_AT = datetime(2026, 11, 20, 6, tzinfo=UTC)
LATER_AT = datetime(2026, 12, 2, 6, tzinfo=UTC)
TYPES = ("server", "disk", "turbo")
SERVER, DISK, TURBO = "OS::Nova::Server", "OS::Cinder::Volume", "OS::Sfs::Turbo"
KINDS = {SERVER: "server", DISK: "disk", TURBO: "turbo"}
C, N, U = "COMPLIANT", "NON_COMPLIANT", "INSUFFICIENT_DATA"
# resource -> its verdict per inventory control, in INVENTORY_CONTROLS' order, by hand
EXPECTED_ROWS = {
    "web-01": (C, C, C, C, C, C),
    "db-01": (C, C, N, C, N, N),
    "file-01": (C, N, U, U, N, U),
    "app-01": (C, N, N, N, C, C),
    "new-01": (C, C, U, U, N, C),
    "old-vol": (U, U, U, U, U, U),
    "srv-never": (N, N, U, U, N, U),
    "disk-bad": (N, N, U, U, N, U),
    "srv-ever": (C, C, C, C, N, C),
    "srv-few": (C, C, C, N, N, N),
    "srv-ghost": (C, U, U, U, N, U),
    "late-01": (U, U, U, U, U, U),
    "other-01": (U, U, U, U, U, U),
}
EXPECTED = {
    (resource, control): status
    for resource, statuses in EXPECTED_ROWS.items()
    for control, status in zip(INVENTORY_CONTROLS, statuses, strict=True)
}


def api_time(moment: str) -> str:
    """The API's way: naive microseconds, meaning UTC."""
    return datetime.fromisoformat(moment.replace("Z", "+00:00")).strftime("%Y-%m-%dT%H:%M:%S.%f")


def member(resource: str, kind: str = SERVER) -> dict[str, Any]:
    return {
        "id": resource,
        "name": f"{resource}.example",
        "type": kind,
        "protect_status": "available",
    }


def vault(vault_id: str, size: int | None, used: int | None, *members: dict[str, Any]):
    billing = {"status": "available", "protect_type": "backup", "object_type": "server"}
    if size is not None:
        billing |= {"size": size, "allocated": size, "used": used}
    return {
        "id": vault_id,
        "name": f"{vault_id}-name",
        "billing": billing,
        "resources": list(members),
        "locked": vault_id == "v-web",
        "created_at": "2026-01-05T08:00:00.000000",
    }


def policy(policy_id: str, vaults: list[str], patterns: list[str], **definition: Any):
    return {
        "id": policy_id,
        "name": f"{policy_id}-name",
        "enabled": definition.pop("enabled", True),
        "operation_type": "backup",
        "operation_definition": {"retention_duration_days": -1, "max_backups": -1} | definition,
        "trigger": {
            "id": f"t-{policy_id}",
            "type": "time",
            "properties": {"pattern": patterns, "start_time": "2026-01-05 00:00:00"},
        },
        "associated_vaults": [{"vault_id": v} for v in vaults],
    }


def protectable(resource: str, kind: str = SERVER, vault_id: str | None = None, **check: Any):
    result = {"result": True, "code": "", "reason": ""} | check
    result["vault"] = {"id": vault_id, "name": f"{vault_id}-name"} if vault_id else None
    return {
        "id": resource,
        "name": f"{resource}.example",
        "type": kind,
        "status": "error" if check else "active",
        "size": 40,
        "children": [],
        "protectable": result,
    }


def restore_point(backup_id: str, resource: str, vault_id: str, made: str, **extra: Any):
    return {
        "id": backup_id,
        "checkpoint_id": f"cp-{backup_id}",
        "name": f"autobk_{backup_id}",
        "resource_id": resource,
        "resource_name": f"{resource}.example",
        "resource_type": SERVER,
        "vault_id": vault_id,
        "status": extra.pop("status", "available"),
        "image_type": "backup",
        "created_at": api_time(made),
        "protected_at": api_time(made),
        "expired_at": extra.pop("expires", None),
        "incremental": False,
        "extend_info": {"auto_trigger": extra.pop("auto", True), "encrypted": True},
    }


DAILY = ["FREQ=DAILY;INTERVAL=1;BYHOUR=1;BYMINUTE=00"]


def answers_in_force() -> dict[str, Any]:
    """p-audit's account on Nov 30 06:00."""
    vaults = [
        vault("v-web", 1000, 512000, member("web-01")),
        vault("v-db", 100, 97280, member("db-01")),
        vault("v-file", None, None, member("file-01", TURBO)),
        vault("v-app", 500, 102400, member("app-01")),
        vault("v-new", 200, 0, member("new-01")),
        vault("v-keep", 400, 40960, member("srv-ever")),
        vault("v-few", 100, 92160, member("srv-few")),
    ]
    twice = [
        "FREQ=DAILY;INTERVAL=1;BYHOUR=2;BYMINUTE=00",
        "FREQ=DAILY;INTERVAL=1;BYHOUR=14;BYMINUTE=00",
    ]
    policies = [
        policy("pol-daily", ["v-web"], twice, retention_duration_days=30),
        policy(
            "pol-weekly", ["v-db"], ["FREQ=WEEKLY;BYDAY=SU;BYHOUR=03;BYMINUTE=00"], max_backups=4
        ),
        policy(
            "pol-off",
            ["v-app"],
            ["FREQ=DAILY;INTERVAL=1;BYHOUR=6;BYMINUTE=00"],
            enabled=False,
            retention_duration_days=3,
        ),
        policy(
            "pol-odd", ["v-new"], ["FREQ=MONTHLY;BYMONTHDAY=1;BYHOUR=1;BYMINUTE=00"], max_backups=10
        ),
        policy("pol-ever", ["v-keep"], DAILY),
        policy("pol-few", ["v-few"], DAILY, max_backups=3),
    ]
    protectables = [
        protectable("web-01", vault_id="v-web"),
        protectable("db-01"),  # only v-db's resources list it
        protectable("file-01", TURBO, "v-file"),
        protectable("app-01", vault_id="v-app"),
        protectable("new-01", vault_id="v-new"),
        protectable("srv-never"),
        protectable(
            "disk-bad",
            DISK,
            result=False,
            code="BackupService.6320",
            reason="The disk is in the error state and cannot be backed up.",
        ),
        protectable("srv-ever", vault_id="v-keep"),
        protectable("srv-few", vault_id="v-few"),
        protectable("srv-ghost", vault_id="v-gone"),
    ]
    backups = [
        restore_point(
            "rp-web-29",
            "web-01",
            "v-web",
            "2026-11-29T22:10:00Z",
            expires="2026-12-29T22:10:00.000000",
        ),
        restore_point("rp-web-20", "web-01", "v-web", "2026-11-20T14:00:00Z", auto=False),
        restore_point("rp-db-20", "db-01", "v-db", "2026-11-20T03:00:00Z"),
        restore_point("rp-file-29", "file-01", "v-file", "2026-11-29T01:00:00Z", status="error"),
        restore_point("rp-app-29", "app-01", "v-app", "2026-11-29T06:00:00Z"),
    ]
    return {
        "vaults": vaults,
        "policies": policies,
        "protectables": protectables,
        "backups": backups,
    }


def answers_elsewhere(resource: str, vault_id: str) -> dict[str, Any]:
    """An account of one resource, in a vault with a policy and a restore point."""
    return {
        "vaults": [vault(vault_id, 100, 0, member(resource))],
        "policies": [policy("pol-x", [vault_id], DAILY, retention_duration_days=30)],
        "protectables": [protectable(resource, vault_id=vault_id)],
        "backups": [restore_point(f"rp-{vault_id}", resource, vault_id, "2026-11-19T01:00:00Z")],
    }


def write_answers(replay: Path, project: str, answers: dict[str, Any]) -> None:
    """The list answers as the API gives them, where the file:// replay reads them."""
    folder = replay / "inventory" / project
    (folder / "protectables").mkdir(parents=True, exist_ok=True)
    for name in ("vaults", "policies", "backups"):
        body = {name: answers[name], "count": len(answers[name])}
        (folder / f"{name}.json").write_text(json.dumps(body))
    for kind in TYPES:
        instances = [p for p in answers["protectables"] if KINDS[p["type"]] == kind]
        (folder / "protectables" / f"{kind}.json").write_text(json.dumps({"instances": instances}))


def snapshot(lake: Path, replay: Path, project: str, answers: dict[str, Any], at: datetime) -> None:
    """One snapshot taken by the product's inventory run, at a fixed time."""
    write_answers(replay, project, answers)
    environ = {"CBR_ENDPOINT": f"file://{replay / 'operation-logs'}", "LAKE_URI": str(lake)}
    root = Root(replace(Settings.from_env(environ), inventory_types=TYPES))
    root.inventory.clock = lambda: at
    (run,) = root.inventory.run([project], Deadline.after(60))
    assert run.published, run.error


def write_inventory_lake(root: Path) -> str:
    """The audit lake, two resources of other projects, and the snapshots."""
    lake = root / "lake"
    write_audit_lake(lake)
    others = [
        dict(backup("late-b29", "late-01", day(29)), project_id=LATE),
        dict(backup("other-b30", "other-01", day(30, "02:00:00")), project_id=NONE),
    ]
    ingested = datetime(2026, 12, 1, 6, tzinfo=UTC)
    Lake(LocalStore(lake)).write(
        [flatten(log, ingested_at=ingested, source_message_id=None)[0] for log in others], []
    )
    replay = root / "replay"
    (replay / "operation-logs").mkdir(parents=True)
    snapshot(lake, replay, PROJECT, answers_elsewhere("srv-never", "v-older"), OLDER_AT)
    snapshot(lake, replay, PROJECT, answers_in_force(), IN_FORCE_AT)
    snapshot(lake, replay, PROJECT, answers_elsewhere("srv-never", "v-later"), LATER_AT)
    snapshot(lake, replay, LATE, answers_elsewhere("late-01", "v-late"), LATER_AT)
    return str(lake)
