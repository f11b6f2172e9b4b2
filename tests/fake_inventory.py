"""The inventory side of the fake CBR API: ListVault, ListPolicies, ListProtectable, ListBackups.

Installed on a FakeCBR (`fake.inventory = FakeInventory()`), it answers
`GET /v3/{project_id}/vaults`, `/policies`, `/protectables/{type}/instances` and `/backups` after
the FakeCBR's own auth and rate checks, with the paging the public documents describe and the
quirks they warn of, each switched on per list (`quirk`):

- `page_cap`: a page holds at most this many items, whatever `limit` asks, while `count` still
  gives the total;
- `count`: "true" (the total), "missing", "page" (counts the page, not the query) or
  "inflated" (the total plus `inflate_by`, items the caller cannot see);
- `order`: "stable"; "rotate" (every request moves the last item to the head, as a new backup
  made meanwhile shifts a newest-first list); "shuffle" (a new order every request);
- `ignore_offset` / `ignore_marker`: the page asked for is always the first;
- ListProtectable gives at most 50 a page and has no `count`; for `server` its `offset` counts
  pages from 1, so offset 0 and 1 answer the same page (what the Terraform provider warns of),
  for the other types it counts items. `marker` is the ID of the last item received.

ListBackups honours `sort` (`created_at` and `id`, `:asc` or `:desc`). Replies can be scripted per
list (`script("backups", Reply(...))`) for failures in the middle of a snapshot.
"""

from __future__ import annotations

import random
import re
import threading
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl

from fakecbr import Reply

INVENTORY_PATH = re.compile(
    r"/v3/(?P<project_id>[^/]+)/(?:(?P<list>vaults|policies|backups)"
    r"|protectables/(?P<type>[^/]+)/instances)"
)
LISTS = ("vaults", "policies", "protectables", "backups")
PROTECTABLE_TYPES = ("server", "disk", "turbo", "workspace", "workspace_v2")
MAX_LIMIT = 1000
PROTECTABLE_CAP = 50
BAD_PARAMETER = {"error_code": "BackupService.9900", "error_msg": "Parameter verification failed."}
SERVER_PROVIDER = "0daac4c5-6707-4851-97ba-169e36266b66"
FIRST_BACKUP = datetime(2026, 1, 1)

Item = dict[str, Any]


@dataclass
class Quirks:
    page_cap: int | None = None
    count: str = "true"  # true, missing, page, inflated
    inflate_by: int = 0
    order: str = "stable"  # stable, rotate, shuffle
    ignore_offset: bool = False
    ignore_marker: bool = False


@dataclass
class Account:
    """One project's inventory as the API holds it."""

    vaults: list[Item] = field(default_factory=list)
    policies: list[Item] = field(default_factory=list)
    protectables: dict[str, list[Item]] = field(default_factory=dict)
    backups: list[Item] = field(default_factory=list)


class FakeInventory:
    def __init__(self) -> None:
        self.accounts: dict[str, Account] = {}
        self.quirks: dict[str, Quirks] = {name: Quirks() for name in LISTS}
        self.requests: list[tuple[str, dict[str, str]]] = []  # (list, query) as received
        self._scripts: dict[str, deque[Reply]] = {}
        self._sorted: dict[tuple[int, int, str | None], list[Item]] = {}
        self._lock = threading.Lock()
        self.on_request: Callable[[str, int], None] | None = None  # (list, its request number)

    def account(self, project_id: str) -> Account:
        return self.accounts.setdefault(project_id, Account())

    def quirk(self, list_name: str, **changes: Any) -> None:
        self.quirks[list_name] = replace(self.quirks[list_name], **changes)

    def script(self, list_name: str, *replies: Reply) -> None:
        """Queue replies for that list's next requests (`Reply(passthrough=True)` lets one by)."""
        with self._lock:
            self._scripts.setdefault(list_name, deque()).extend(replies)

    def requests_of(self, list_name: str) -> list[dict[str, str]]:
        return [query for name, query in list(self.requests) if name == list_name]

    # Called by FakeCBR for a path it does not know, then after its auth checks.

    def match(self, path: str) -> re.Match[str] | None:
        return INVENTORY_PATH.fullmatch(path)

    def answer(self, match: re.Match[str], query_text: str) -> Reply:
        name = match["list"] or "protectables"
        query = dict(parse_qsl(query_text, keep_blank_values=True))
        with self._lock:
            self.requests.append((name, query))
            number = len(self.requests_of(name))
            queued = self._scripts.get(name)
            scripted = queued.popleft() if queued else None
        if self.on_request is not None:
            self.on_request(name, number)
        if scripted is not None and not scripted.passthrough:
            return scripted
        account = self.accounts.get(match["project_id"], Account())
        try:
            reply = self._list(name, match["type"], account, query, number)
        except ValueError as exc:
            reply = Reply(400, {**BAD_PARAMETER, "error_msg": str(exc)})
        return reply if scripted is None else replace(reply, delay=scripted.delay)

    def _list(
        self, name: str, kind: str | None, account: Account, query: dict[str, str], number: int
    ) -> Reply:
        quirks = self.quirks[name]
        if name == "policies":
            return Reply(
                200,
                {
                    "policies": account.policies,
                    "count": self._count(quirks, account.policies, account.policies),
                },
            )
        if name == "protectables":
            if kind not in PROTECTABLE_TYPES:
                raise ValueError(f"protectable_type {kind!r} is not supported")
            items = _ordered(account.protectables.get(kind, []), quirks, number)
            return Reply(200, {"instances": self._protectable_page(kind, items, query, quirks)})
        items = account.vaults if name == "vaults" else self._backups(account, query.get("sort"))
        items = _ordered(items, quirks, number)
        limit, offset = _int(query, "limit", MAX_LIMIT), _int(query, "offset", 0)
        if not 1 <= limit <= MAX_LIMIT or offset < 0:
            raise ValueError("limit must be 1-1000 and offset 0 or more")
        size = min(limit, quirks.page_cap or limit)
        start = 0 if quirks.ignore_offset else offset
        page = items[start : start + size]
        body: dict[str, Any] = {name: page, "limit": limit, "offset": offset}
        count = self._count(quirks, items, page)
        if count is not None:
            body["count"] = count
        return Reply(200, body)

    def _backups(self, account: Account, sort: str | None) -> list[Item]:
        """The account's backups in the order asked for (kept while the list is unchanged)."""
        key = (id(account.backups), len(account.backups), sort)
        with self._lock:
            if key not in self._sorted:
                self._sorted = {key: _sorted(account.backups, sort)}
            return self._sorted[key]

    @staticmethod
    def _count(quirks: Quirks, items: list[Item], page: list[Item]) -> int | None:
        return {
            "true": len(items),
            "missing": None,
            "page": len(page),
            "inflated": len(items) + quirks.inflate_by,
        }[quirks.count]

    @staticmethod
    def _protectable_page(
        kind: str, items: list[Item], query: dict[str, str], quirks: Quirks
    ) -> list[Item]:
        limit = min(
            _int(query, "limit", PROTECTABLE_CAP), PROTECTABLE_CAP, quirks.page_cap or 10**9
        )
        if limit < 1:
            raise ValueError("limit must be 1 or more")
        marker = query.get("marker")
        if marker is not None and not quirks.ignore_marker:
            ids = [item.get("id") for item in items]
            items = items[ids.index(marker) + 1 :] if marker in ids else []
        offset = _int(query, "offset", 0)
        # server: pages counted from 1, so offset 0 and 1 are both the first page
        start = max(0, offset - 1) * limit if kind == "server" else offset
        return items[start : start + limit]


def _int(query: dict[str, str], name: str, default: int) -> int:
    try:
        return int(query.get(name, default))
    except ValueError:
        raise ValueError(f"{name} must be an integer") from None


def _sorted(items: list[Item], sort: str | None) -> list[Item]:
    """ListBackups' `sort=key[:asc|desc],...` (desc when no direction is given), stable."""
    ordered = list(items)
    for part in reversed((sort or "").split(",") if sort else []):
        key, _, direction = part.partition(":")
        if key not in ("created_at", "id", "name", "updated_at", "protected_at", "status"):
            raise ValueError(f"cannot sort by {key!r}")
        ordered.sort(key=lambda item: str(item.get(key) or ""), reverse=direction != "asc")
    return ordered


def _ordered(items: list[Item], quirks: Quirks, number: int) -> list[Item]:
    if quirks.order == "rotate" and items:
        shift = number % len(items)
        return items[len(items) - shift :] + items[: len(items) - shift]
    if quirks.order == "shuffle":
        shuffled = list(items)
        random.Random(number).shuffle(shuffled)
        return shuffled
    return list(items)


# Builders of API objects (only documented fields), for tests and the benchmark -----------------


def make_vault(n: int, project_id: str, resources: list[Item], **changes: Any) -> Item:
    vault = {
        "id": f"vault-{n:04d}-{uuid.UUID(int=n).hex[:12]}",
        "name": f"vault-{n:04d}",
        "project_id": project_id,
        "provider_id": SERVER_PROVIDER,
        "billing": {
            "allocated": 1000,
            "used": 102400 + n,
            "size": 1000,
            "status": "available",
            "protect_type": "backup",
            "object_type": "server",
            "spec_code": "vault.backup.server.normal",
            "consistent_level": "crash_consistent",
            "charging_mode": "post_paid",
        },
        "resources": resources,
        "enterprise_project_id": "0",
        "auto_bind": False,
        "threshold": 80,
        "locked": n % 2 == 0,
        "created_at": f"2026-0{1 + n % 9}-0{1 + n % 9}T08:00:00.{n:06d}",
    }
    vault.update(changes)
    return vault


def vault_entry(resource: Item) -> Item:
    """A resource as a vault's resources[] lists it."""
    return {
        "id": resource["id"],
        "name": resource["name"],
        "type": resource["type"],
        "protect_status": "available",
        "size": resource.get("size", 40),
        "backup_count": 3,
        "extra_info": {"exclude_volumes": []},
    }


def make_resource(n: int, kind: str = "server") -> Item:
    types = {"server": "OS::Nova::Server", "disk": "OS::Cinder::Volume", "turbo": "OS::Sfs::Turbo"}
    return {
        "id": f"{kind}-{n:05d}-{uuid.UUID(int=n + 1).hex[:8]}",
        "name": f"{kind}-{n:05d}",
        "type": types[kind],
        "status": "active" if kind == "server" else "available",
        "size": 40,
        "children": [],
    }


def as_protectable(resource: Item, vault: Item | None) -> Item:
    embedded = None if vault is None else {**vault, "updated_at": vault["created_at"]}
    return {
        **resource,
        "protectable": {"result": True, "code": "", "reason": "", "vault": embedded},
    }


def make_policy(
    n: int, vault_ids: list[str], patterns: list[str] | None = None, **changes: Any
) -> Item:
    policy = {
        "id": f"policy-{n:04d}",
        "name": f"policy-{n:04d}",
        "enabled": True,
        "operation_type": "backup",
        "operation_definition": {
            "retention_duration_days": 30,
            "max_backups": -1,
            "timezone": "UTC+00:00",
        },
        "trigger": {
            "id": f"trigger-{n:04d}",
            "name": "default",
            "type": "time",
            "properties": {
                "pattern": patterns or ["FREQ=DAILY;INTERVAL=1;BYHOUR=2;BYMINUTE=00"],
                "start_time": "2026-01-05 02:00:00",
            },
        },
        "associated_vaults": [{"vault_id": vault_id} for vault_id in vault_ids],
    }
    policy.update(changes)
    return policy


def make_backup(n: int, resource: Item, vault_id: str, project_id: str, **changes: Any) -> Item:
    created_at = FIRST_BACKUP + timedelta(minutes=n, microseconds=n % 10**6)
    created = created_at.strftime("%Y-%m-%dT%H:%M:%S.%f")
    expires = (created_at + timedelta(days=30)).strftime("%Y-%m-%dT%H:%M:%S.%f")
    backup = {
        "id": f"backup-{n:07d}",
        "checkpoint_id": f"checkpoint-{n:07d}",
        "name": f"autobk_{n:07d}",
        "resource_id": resource["id"],
        "resource_name": resource["name"],
        "resource_type": resource["type"],
        "resource_size": 40,
        "vault_id": vault_id,
        "project_id": project_id,
        "status": "available",
        "image_type": "backup",
        "created_at": created,
        "updated_at": created,
        "protected_at": created,
        "expired_at": None if n % 10 == 0 else expires,
        "incremental": n % 3 != 0,
        "children": [],
        "extend_info": {"auto_trigger": n % 10 != 0, "encrypted": n % 4 == 0},
    }
    backup.update(changes)
    return backup


def populate(
    inventory: FakeInventory,
    project_id: str,
    *,
    vaults: int,
    servers: int,
    disks: int = 0,
    backups: int = 0,
    unprotected_every: int = 5,
) -> Account:
    """A consistent account: resources spread over vaults (every `unprotected_every`-th in none),
    a policy for every vault but the last, `backups` restore points of the protected ones."""
    account = inventory.account(project_id)
    resources = [make_resource(n, "server") for n in range(servers)]
    resources += [make_resource(100_000 + n, "disk") for n in range(disks)]
    members: dict[int, list[Item]] = {v: [] for v in range(vaults)}
    placed: dict[str, int] = {}
    for number, resource in enumerate(resources):
        if vaults and number % unprotected_every:
            placed[resource["id"]] = number % vaults
            members[number % vaults].append(resource)
    account.vaults = [
        make_vault(v, project_id, [vault_entry(r) for r in members[v]]) for v in range(vaults)
    ]
    account.policies = [
        make_policy(v, [account.vaults[v]["id"]]) for v in range(max(0, vaults - 1))
    ]
    for resource in resources:
        vault = account.vaults[placed[resource["id"]]] if resource["id"] in placed else None
        kind = "server" if resource["type"] == "OS::Nova::Server" else "disk"
        account.protectables.setdefault(kind, []).append(as_protectable(resource, vault))
    protected = [r for r in resources if r["id"] in placed]
    account.backups = [
        make_backup(
            n,
            protected[n % len(protected)],
            account.vaults[placed[protected[n % len(protected)]["id"]]]["id"],
            project_id,
        )
        for n in range(backups if protected else 0)
    ]
    return account
