"""Realistic generated operation logs for benchmarks: every operation type, nulls, lists, unicode,
and the API's timestamp spellings, derived from the sample logs in events/operation-logs."""

from __future__ import annotations

import argparse
import copy
import json
import random
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

SAMPLES = Path(__file__).resolve().parent.parent / "events" / "operation-logs"
START = datetime(2026, 10, 1, tzinfo=UTC)


def samples() -> list[dict[str, Any]]:
    return [
        json.loads(p.read_text(encoding="utf-8"))["operation_log"]
        for p in sorted(SAMPLES.glob("*.json"))
    ]


def spell(moment: datetime, style: int) -> str:
    """The three spellings the API has used: naive microseconds, +00:00 milliseconds, Z seconds."""
    if style == 0:
        return moment.strftime("%Y-%m-%dT%H:%M:%S.%f")
    if style == 1:
        return moment.isoformat(timespec="milliseconds")
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def make_logs(count: int, seed: int = 7, days: int = 60) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    templates = samples()
    logs = []
    for n in range(count):
        log = copy.deepcopy(templates[n % len(templates)])
        created = START + timedelta(seconds=rng.randrange(days * 86400))
        style = rng.randrange(3)
        log["id"] = str(uuid.UUID(int=rng.getrandbits(128)))
        log["created_at"] = spell(created, style)
        log["started_at"] = spell(created + timedelta(seconds=rng.randrange(5)), style)
        if log.get("ended_at"):
            log["ended_at"] = spell(created + timedelta(seconds=30 + rng.randrange(3600)), style)
        log["updated_at"] = spell(created + timedelta(seconds=3700), style)
        common = log.setdefault("extra_info", {}).setdefault("common", {})
        common["request_id"] = f"req-{uuid.UUID(int=rng.getrandbits(128))}"
        if rng.random() < 0.1:
            log["vault_name"] = None
        logs.append(log)
    return logs


# The varied generator ---------------------------------------------------------------------------
# Logs as a real account produces them: a few projects, each with its own vaults, policies and
# hundreds of resources; mostly scheduled backups clustered at policy hours, then deletes,
# replications, restores and the rarer kinds; random names and IDs, error messages with their
# variable parts, volume lists of varied length, and one timestamp spelling per project.

RESOURCE_KINDS = (  # type, name stem, provider_id
    ("OS::Nova::Server", "ecs", "0daac4c5-6707-4851-97ba-169e36266b66"),
    ("OS::Cinder::Volume", "evs", "d1603440-187d-4516-af25-121250c7cc97"),
    ("OS::Sfs::Turbo", "sfs", "3f3c3220-245c-4805-b811-758870015881"),
    ("OS::Workspace::DesktopV2", "desktop", "86a80900-71bf-4961-956a-d52df944f84a"),
    ("OS::Ironic::BareMetalServer", "bms", "0daac4c5-6707-4851-97ba-169e36266b66"),
)
TEAMS = [
    "web",
    "app",
    "db",
    "erp",
    "crm",
    "billing",
    "search",
    "cache",
    "mq",
    "etl",
    "hr",
    "fin",
    "ops",
    "ci",
    "git",
    "wiki",
    "mail",
    "k8s",
]
ENVIRONMENTS = ("prod", "prod", "prod", "staging", "test", "dev")
UNICODE_NAMES = ("生产备份库", "copias-producción", "サーバー", "données-clients", "резерв")
OS_VERSIONS = (
    "CentOS 7.9 64bit",
    "Ubuntu 22.04 server 64bit",
    "Windows Server 2019 Datacenter 64bit",
    "EulerOS 2.9 64bit",
    "Debian 12.0 64bit",
)
REGIONS = ("ap-southeast-1", "ap-southeast-2", "ap-southeast-3", "la-south-2", "af-south-1")
OPERATIONS = (  # operation_type, weight
    ("backup", 70),
    ("delete", 10),
    ("replication", 5),
    ("copy", 2),
    ("restore", 3),
    ("sync", 3),
    ("remove_resource", 2),
    ("vault_delete", 1),
    ("migrate_resources", 1),
    ("update_expiration_time", 3),
)
BACKUP_STATUS = (("success", 85), ("failed", 7), ("running", 3), ("waiting", 2), ("timeout", 1))
ERRORS = (  # code, message template
    (
        "BackupService.7101",
        "The server {name} is in an abnormal state ({state}). Make sure it is"
        " running or stopped and try again.",
    ),
    (
        "BackupService.7116",
        "Failed to create the application-consistent backup of {name}: the"
        " database {db} could not be frozen within {n} seconds.",
    ),
    (
        "BackupService.6302",
        "The backup task timed out after {n} minutes. {pct}% of volume {vol} was copied.",
    ),
    (
        "BackupService.6113",
        "The vault {vault} is not in the available state. {k} of {n} backups could not be deleted.",
    ),
    (
        "BackupService.7126",
        "The backup of {name} was skipped because task {task} of the same resource is in progress.",
    ),
    ("BackupService.6010", "Insufficient vault capacity: {vault} has {k} GB free, {n} GB needed."),
)
STATES = ("ERROR", "SHUTOFF_PENDING", "MIGRATING", "RESIZE", "UNKNOWN")


def _uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def _weighted(rng: random.Random, pairs: tuple[tuple[str, int], ...]) -> str:
    return rng.choices([p[0] for p in pairs], weights=[p[1] for p in pairs])[0]


class _Account:
    """The projects, vaults, policies and resources one account's logs are drawn from."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.projects = [rng.getrandbits(128).to_bytes(16, "big").hex() for _ in range(3)]
        self.styles = {p: rng.randrange(3) for p in self.projects}
        self.vaults = [self._vault(n) for n in range(40)]
        self.policies = [(_uuid(rng), rng.randrange(24)) for _ in range(12)]  # (id, hour)
        self.resources = [self._resource(n) for n in range(600)]

    def _vault(self, n: int) -> dict[str, str]:
        rng = self.rng
        if rng.random() < 0.08:
            name = f"{rng.choice(UNICODE_NAMES)}-{n:02d}"
        else:
            name = f"vault-{rng.choice(ENVIRONMENTS)}-{rng.choice(TEAMS)}-{n:02d}"
        return {"id": _uuid(rng), "name": name, "project": rng.choice(self.projects)}

    def _resource(self, n: int) -> dict[str, Any]:
        rng = self.rng
        kind, stem, provider = rng.choices(RESOURCE_KINDS, weights=(60, 25, 5, 7, 3))[0]
        name = f"{stem}-{rng.choice(TEAMS)}-{rng.choice(ENVIRONMENTS)}-{rng.randrange(1, 99):02d}"
        volumes = [
            {"id": _uuid(rng), "os_version": rng.choice(OS_VERSIONS)}
            for _ in range(rng.choice((0, 1, 1, 2, 3, 5)))
        ]
        excluded = [_uuid(rng) for _ in range(rng.choice((0, 0, 0, 1, 2)))]
        return {
            "id": _uuid(rng),
            "name": name,
            "type": kind,
            "provider": provider,
            "vault": rng.choice(self.vaults),
            "policy": rng.choice(self.policies),
            "extra_info": {"exclude_volumes": excluded, "include_volumes": volumes}
            if kind == "OS::Nova::Server" and rng.random() < 0.5
            else None,
        }


def make_varied_logs(count: int, seed: int = 7, days: int = 60) -> list[dict[str, Any]]:
    """`count` operation logs as a real account would produce them (see the notes above)."""
    rng = random.Random(seed)
    account = _Account(rng)
    return [_varied_log(rng, account, days) for _ in range(count)]


def _varied_log(rng: random.Random, account: _Account, days: int) -> dict[str, Any]:
    resource = rng.choice(account.resources)
    vault = resource["vault"]
    operation = _weighted(rng, OPERATIONS)
    status = _weighted(rng, BACKUP_STATUS) if operation == "backup" else "success"
    if operation != "backup" and rng.random() < 0.04:
        status = "failed"
    created = _created(rng, days, resource["policy"][1] if operation == "backup" else None)
    log: dict[str, Any] = {
        "id": _uuid(rng),
        "project_id": vault["project"],
        "operation_type": operation,
        "status": status,
        "provider_id": resource["provider"],
        "checkpoint_id": _uuid(rng) if operation in ("backup", "replication", "copy") else None,
        "policy_id": resource["policy"][0] if rng.random() < 0.7 else None,
        "vault_id": vault["id"],
        "vault_name": vault["name"],
    }
    log.update(_times(rng, created, status, account.styles[vault["project"]]))
    log["error_info"] = _error(rng, status, resource, vault)
    log["extra_info"] = _extra(rng, operation, status, resource, vault)
    if operation == "migrate_resources":
        log["enterprise_project_id"] = str(rng.randrange(3))  # fields the schema does not know
        log["extra_info"]["migrate"] = {"resource_count": 1, "source_vault_id": _uuid(rng)}
    return log


def _created(rng: random.Random, days: int, hour: int | None) -> datetime:
    day = START + timedelta(days=rng.randrange(days))
    if hour is None:  # operator actions: any time of the day
        return day + timedelta(seconds=rng.randrange(86400), microseconds=rng.randrange(10**6))
    jitter = timedelta(seconds=rng.expovariate(1 / 120), microseconds=rng.randrange(10**6))
    return day + timedelta(hours=hour) + jitter


def _times(rng: random.Random, created: datetime, status: str, style: int) -> dict[str, Any]:
    started = created + timedelta(milliseconds=rng.randrange(50, 2000))
    duration = timedelta(seconds=min(6 * 3600, rng.lognormvariate(5.5, 1.2)))
    ended = started + duration
    updated = ended + timedelta(milliseconds=rng.randrange(20, 500))
    unfinished = status in ("running", "waiting")
    return {
        "created_at": spell(created, style),
        "started_at": spell(started, style),
        "ended_at": "" if unfinished else spell(ended, style),
        "updated_at": spell(started + duration / 3 if unfinished else updated, style),
    }


def _error(
    rng: random.Random, status: str, resource: dict[str, Any], vault: dict[str, str]
) -> dict[str, str]:
    if status in ("success", "running", "waiting"):
        return {"code": "", "message": ""}
    code, template = rng.choice(ERRORS)
    message = template.format(
        name=resource["name"],
        state=rng.choice(STATES),
        db=f"{rng.choice(TEAMS)}db{rng.randrange(10)}",
        n=rng.randrange(2, 600),
        k=rng.randrange(1, 50),
        pct=rng.randrange(1, 100),
        vol=_uuid(rng),
        vault=vault["name"],
        task=_uuid(rng),
    )
    return {"code": code, "message": message}


def _extra(
    rng: random.Random,
    operation: str,
    status: str,
    resource: dict[str, Any],
    vault: dict[str, str],
) -> dict[str, Any]:
    common: dict[str, Any] = {
        "progress": 100 if status == "success" else rng.randrange(0, 100),
        "request_id": f"req-{_uuid(rng)}",
    }
    if rng.random() < 0.7:
        common["task_id"] = _uuid(rng)
    extra: dict[str, Any] = {"common": common}
    target = {"id": resource["id"], "name": resource["name"], "type": resource["type"]}
    if resource["extra_info"] is not None:
        target["extra_info"] = resource["extra_info"]
    backup_name = f"{rng.choice(('autobk', 'autobk', 'manualbk'))}_{rng.getrandbits(16):04x}"
    if operation == "backup":
        extra["resource"] = target
        extra["backup"] = _backup(rng, backup_name, status)
    elif operation == "delete":
        extra["resource"] = target
        extra["delete"] = {"backup_id": _uuid(rng), "backup_name": backup_name}
    elif operation in ("replication", "copy"):
        extra["resource"] = target
        extra["replication"] = _replication(rng, backup_name, vault)
    elif operation == "restore":
        extra["resource"] = target
        extra["restore"] = {
            "backup_id": _uuid(rng),
            "backup_name": backup_name,
            "target_resource_id": resource["id"],
            "target_resource_name": resource["name"],
        }
    elif operation == "sync":
        extra["resource"] = target
        extra["sync"] = {
            "sync_backup_num": rng.randrange(0, 40),
            "delete_backup_num": rng.randrange(0, 10),
            "err_sync_backup_num": rng.choice((0, 0, 0, 1, 2)),
        }
    elif operation == "remove_resource":
        total = rng.randrange(1, 8)
        extra["remove_resources"] = {
            "fail_count": 0 if status == "success" else rng.randrange(1, total + 1),
            "total_count": total,
            "resources": [_removed(rng) for _ in range(total)],
        }
    elif operation == "vault_delete":
        total = rng.randrange(0, 200)
        extra["vault_delete"] = {"fail_count": 0, "total_count": total}
    elif operation == "update_expiration_time":
        extra["update_expiration_time"] = {
            "affected_backups_count": rng.randrange(1, 500),
            "expiration_day": (START + timedelta(days=rng.randrange(30, 400))).date().isoformat(),
        }
    else:
        extra["resource"] = target
    return extra


def _backup(rng: random.Random, name: str, status: str) -> dict[str, str]:
    backup = {"backup_id": _uuid(rng), "backup_name": name}
    backup["incremental"] = rng.choice(("true", "true", "true", "false"))
    if rng.random() < 0.2:  # application-consistent backups
        ok = status == "success" or rng.random() < 0.5
        backup["app_consistency_status"] = "1" if ok else "0"
        backup["app_consistency_error_code"] = "" if ok else "BackupService.7130"
        backup["app_consistency_error_message"] = (
            "" if ok else f"VSS writer {rng.choice(('SqlServerWriter', 'NTDS'))} failed."
        )
    return backup


def _replication(rng: random.Random, name: str, vault: dict[str, str]) -> dict[str, str]:
    source, destination = rng.sample(REGIONS, 2)
    return {
        "source_backup_id": _uuid(rng),
        "source_checkpoint_id": _uuid(rng),
        "source_project_id": vault["project"],
        "source_region": source,
        "source_backup_name": name,
        "destination_backup_id": _uuid(rng),
        "destination_checkpoint_id": _uuid(rng),
        "destination_project_id": rng.getrandbits(128).to_bytes(16, "big").hex(),
        "destination_region": destination,
        "destination_backup_name": f"{name}_replica",
    }


def _removed(rng: random.Random) -> dict[str, Any]:
    return {
        "id": _uuid(rng),
        "name": f"ecs-{rng.choice(TEAMS)}-legacy-{rng.randrange(1, 99):02d}",
        "type": "OS::Nova::Server",
        "extra_info": {
            "exclude_volumes": [_uuid(rng) for _ in range(rng.randrange(0, 3))],
            "include_volumes": [
                {"id": _uuid(rng), "os_version": rng.choice(OS_VERSIONS)}
                for _ in range(rng.randrange(1, 4))
            ],
        },
    }


GENERATORS = {"samples": make_logs, "varied": make_varied_logs}


# The inventory of the varied generator's account ------------------------------------------------
# What CBR's list APIs show for the account the varied logs are drawn from (the same projects,
# vaults and resources for the same seed): each vault with its resources, a backup policy bound to
# most vaults (some have none), the protectable resources (the logged ones, in their vaults, and
# some never put in one), and restore points of the protected ones at their policy's hour, kept
# for the policy's retention, so some expire within days; a few are manual (kept until deleted)
# or failed.

PROTECTABLE_TYPE = {
    "OS::Nova::Server": "server",
    "OS::Ironic::BareMetalServer": "server",
    "OS::Cinder::Volume": "disk",
    "OS::Sfs::Turbo": "turbo",
    "OS::Workspace::DesktopV2": "workspace",
}
OBJECT_TYPE = {"server": "server", "disk": "disk", "turbo": "turbo", "workspace": "workspace"}
RETENTION_DAYS = (7, 14, 30, 30, 90)


def varied_account(
    seed: int = 7,
    *,
    projects: int | None = None,
    vaults: int | None = None,
    resources: int | None = None,
) -> _Account:
    """The account `make_varied_logs(seed=seed)` draws from; with sizes, a larger one like it
    (drawn after it, so its logs would differ)."""
    account = _Account(random.Random(seed))
    if projects is None and vaults is None and resources is None:
        return account
    account.projects = account.projects[: projects or len(account.projects)]
    account.vaults = [account._vault(n) for n in range(vaults or len(account.vaults))]
    account.resources = [account._resource(n) for n in range(resources or len(account.resources))]
    return account


def make_inventory(
    account: _Account,
    *,
    backups: int = 3000,
    never_protected: float = 0.1,
    now: datetime | None = None,
    seed: int = 11,
) -> dict[str, dict[str, Any]]:
    """{project_id: {"vaults", "policies", "protectables": {type: [...]}, "backups"}}: the list
    APIs' items (documented fields only), as of `now`."""
    rng = random.Random(seed)
    now = now or datetime.now(UTC)
    bound = _vault_policies(account)
    vaults = {v["id"]: _inventory_vault(rng, account, v, now) for v in account.vaults}
    inventory: dict[str, dict[str, Any]] = {
        p: {"vaults": [], "policies": [], "protectables": {}, "backups": []}
        for p in account.projects
    }
    for vault in account.vaults:
        inventory[vault["project"]]["vaults"].append(vaults[vault["id"]])
    for project, listed in inventory.items():
        listed["policies"] = _inventory_policies(rng, account, bound, project)
    for resource in account.resources:
        vault = vaults[resource["vault"]["id"]]
        _add_protectable(inventory[resource["vault"]["project"]], resource, vault)
    for n in range(int(len(account.resources) * never_protected)):
        stray = account._resource(100_000 + n)
        stray["name"] = f"{stray['name']}-unprotected"
        _add_protectable(inventory[rng.choice(account.projects)], stray, None)
    retention = {
        policy: RETENTION_DAYS[n % len(RETENTION_DAYS)]
        for n, (policy, _) in enumerate(account.policies)
    }
    protected = [r for r in account.resources if r["vault"]["id"] in bound]
    for n in range(backups if protected else 0):
        resource = protected[n % len(protected)]
        policy_id, hour = bound[resource["vault"]["id"]]
        item = _inventory_backup(rng, resource, hour, retention[policy_id], now)
        inventory[resource["vault"]["project"]]["backups"].append(item)
    return inventory


def _vault_policies(account: _Account) -> dict[str, tuple[str, int]]:
    """vault ID -> (policy ID, hour): the policy most of its resources were logged with; every
    eighth vault, and a vault without resources, has none."""
    votes: dict[str, dict[tuple[str, int], int]] = {}
    for resource in account.resources:
        tally = votes.setdefault(resource["vault"]["id"], {})
        tally[resource["policy"]] = tally.get(resource["policy"], 0) + 1
    return {
        vault["id"]: max(votes[vault["id"]].items(), key=lambda item: (item[1], item[0]))[0]
        for n, vault in enumerate(account.vaults)
        if vault["id"] in votes and n % 8 != 7
    }


def _inventory_vault(
    rng: random.Random, account: _Account, vault: dict[str, str], now: datetime
) -> dict[str, Any]:
    members = [r for r in account.resources if r["vault"]["id"] == vault["id"]]
    kind = PROTECTABLE_TYPE[members[0]["type"]] if members else "server"
    size = rng.choice((500, 1000, 2000, 5000))
    used = int(
        size * 1024 * (rng.uniform(0.92, 0.99) if rng.random() < 0.1 else rng.uniform(0.05, 0.8))
    )
    return {
        "id": vault["id"],
        "name": vault["name"],
        "project_id": vault["project"],
        "billing": {
            "allocated": size,
            "used": used,
            "size": size,
            "status": "available",
            "protect_type": "backup",
            "object_type": OBJECT_TYPE[kind],
            "spec_code": f"vault.backup.{'volume' if kind == 'disk' else kind}.normal",
            "consistent_level": "app_consistent" if rng.random() < 0.2 else "crash_consistent",
            "charging_mode": "post_paid",
        },
        "resources": [
            {
                "id": r["id"],
                "name": r["name"],
                "type": r["type"],
                "protect_status": "available",
                "size": rng.choice((40, 100, 200, 500)),
                "backup_count": rng.randrange(0, 60),
                "extra_info": {
                    "exclude_volumes": (r["extra_info"] or {}).get("exclude_volumes", [])
                },
            }
            for r in members
        ],
        "enterprise_project_id": "0",
        "auto_bind": False,
        "threshold": 80,
        "locked": rng.random() < 0.3,
        "created_at": spell(now - timedelta(days=rng.randrange(60, 900)), 0),
    }


def _inventory_policies(
    rng: random.Random, account: _Account, bound: dict[str, tuple[str, int]], project: str
) -> list[dict[str, Any]]:
    vaults = {v["id"]: v for v in account.vaults}
    policies = []
    for n, (policy_id, hour) in enumerate(account.policies):
        members = [
            v for v, (p, _) in bound.items() if p == policy_id and vaults[v]["project"] == project
        ]
        if not members:
            continue
        patterns = [f"FREQ=DAILY;INTERVAL=1;BYHOUR={hour};BYMINUTE=00"]
        if n % 4 == 1:
            patterns.append(f"FREQ=DAILY;INTERVAL=1;BYHOUR={(hour + 12) % 24};BYMINUTE=00")
        elif n % 4 == 3:
            patterns = [f"FREQ=WEEKLY;BYDAY=SU;BYHOUR={hour};BYMINUTE=00"]
        days = RETENTION_DAYS[n % len(RETENTION_DAYS)]
        policies.append(
            {
                "id": policy_id,
                "name": f"policy-{rng.choice(TEAMS)}-{n:02d}",
                "enabled": n % 11 != 10,
                "operation_type": "backup",
                "operation_definition": {
                    "retention_duration_days": days,
                    "max_backups": -1,
                    "timezone": "UTC+00:00",
                },
                "trigger": {
                    "id": _uuid(rng),
                    "name": "default",
                    "type": "time",
                    "properties": {"pattern": patterns, "start_time": "2026-01-05 00:00:00"},
                },
                "associated_vaults": [{"vault_id": v} for v in members],
            }
        )
    return policies


def _add_protectable(
    listed: dict[str, Any], resource: dict[str, Any], vault: dict[str, Any] | None
) -> None:
    kind = PROTECTABLE_TYPE[resource["type"]]
    embedded = None if vault is None else {**vault, "updated_at": vault["created_at"]}
    listed["protectables"].setdefault(kind, []).append(
        {
            "id": resource["id"],
            "name": resource["name"],
            "type": resource["type"],
            "status": "active" if kind == "server" else "available",
            "size": 40,
            "children": [],
            "protectable": {"result": True, "code": "", "reason": "", "vault": embedded},
        }
    )


def _inventory_backup(
    rng: random.Random, resource: dict[str, Any], hour: int, retention_days: int, now: datetime
) -> dict[str, Any]:
    age = rng.randrange(retention_days)
    created = (now - timedelta(days=age)).replace(hour=hour, minute=0, second=0, microsecond=0)
    created += timedelta(seconds=rng.expovariate(1 / 120), microseconds=rng.randrange(10**6))
    manual = rng.random() < 0.05
    failed = rng.random() < 0.02
    protected = created + timedelta(seconds=30 + rng.randrange(3600))
    return {
        "id": _uuid(rng),
        "checkpoint_id": _uuid(rng),
        "name": f"{'manualbk' if manual else 'autobk'}_{rng.getrandbits(16):04x}",
        "description": "",
        "resource_id": resource["id"],
        "resource_name": resource["name"],
        "resource_type": resource["type"],
        "resource_size": rng.choice((40, 100, 200)),
        "vault_id": resource["vault"]["id"],
        "project_id": resource["vault"]["project"],
        "provider_id": resource["provider"],
        "status": "error" if failed else "available",
        "image_type": "backup",
        "created_at": spell(created, 0),
        "updated_at": spell(protected, 0),
        "protected_at": None if failed else spell(protected, 0),
        "expired_at": None
        if manual or failed
        else spell(created + timedelta(days=retention_days), 0),
        "incremental": rng.random() < 0.8,
        "parent_id": None,
        "children": [],
        "extend_info": {
            "auto_trigger": not manual,
            "encrypted": rng.random() < 0.3,
            "bootable": False,
        },
    }


# The command line: an account's worth of logs in a folder ---------------------------------------


def main(argv: list[str] | None = None) -> int:
    """`python bench/generate.py --out DIR`: write generated logs as DIR/{id}.json, the API's GET
    bodies, which `CBR_ENDPOINT=file://DIR` replays and `tests/serve_fake.py --logs DIR` serves."""
    parser = argparse.ArgumentParser(
        prog="python bench/generate.py",
        description="Write generated operation logs as API bodies, one file per log.",
    )
    parser.add_argument("--out", type=Path, required=True, help="the folder to write them into")
    parser.add_argument("--logs", type=int, default=20_000, help="how many (default 20000)")
    parser.add_argument("--days", type=int, default=30, help="days they span (default 30)")
    parser.add_argument(
        "--start",
        type=lambda text: datetime.fromisoformat(text).replace(tzinfo=UTC),
        help="first UTC day (default: --days before today, so the last day is yesterday)",
    )
    parser.add_argument("--generator", choices=sorted(GENERATORS), default="varied")
    parser.add_argument("--seed", type=int, default=7, help="the same seed, the same logs")
    args = parser.parse_args(argv)
    if args.logs < 1 or args.days < 1:
        parser.error("--logs and --days must be at least 1")
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    global START  # the generators draw their days from START
    START = args.start or today - timedelta(days=args.days)
    logs = GENERATORS[args.generator](args.logs, seed=args.seed, days=args.days)
    args.out.mkdir(parents=True, exist_ok=True)
    for log in logs:
        body = json.dumps({"operation_log": log}, ensure_ascii=False)
        (args.out / f"{log['id']}.json").write_text(body, encoding="utf-8")
    projects = Counter(str(log.get("project_id")) for log in logs)
    last = START + timedelta(days=args.days - 1)
    print(
        f"wrote {len(logs)} operation logs to {args.out}, created on the UTC days "
        f"{START.date()} to {last.date()}, in {len(projects)} projects:"
    )
    for project, count in projects.most_common():
        print(f"  {project}  {count} logs")
    print(f"serve them: python tests/serve_fake.py --logs {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
