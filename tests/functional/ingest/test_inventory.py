"""Inventory snapshots against the fake list APIs on loopback: every table, paged without loss.

Each test reads back what was written (the published snapshot's Parquet files, through the same
reader the reports use) and compares it with the objects the fake API served.
"""

from __future__ import annotations

import json
import math
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from lib.aws.app import Root
from lib.core.runtime import Deadline
from lib.core.settings import Settings
from lib.ingest.inventory.paging import MAX_PASSES, MAX_STALE_PAGES
from lib.ingest.inventory.snapshot import ProjectSnapshot
from lib.lake.snapshots import InventoryView, Snapshots, read_inventory
from lib.lake.storage import LocalStore

from conftest import PROJECT
from fake_inventory import Account, FakeInventory, populate
from fakecbr import FakeCBR, Reply


@pytest.fixture
def inventory(fake: FakeCBR) -> FakeInventory:
    fake.inventory = FakeInventory()
    return fake.inventory


def snapshot(settings: Settings, lake: Path, **changes: Any) -> ProjectSnapshot:
    root = Root(replace(settings, lake_uri=str(lake), **changes))
    (run,) = root.inventory.run([PROJECT], Deadline.after(60))
    return run


def published(lake: Path) -> InventoryView:
    return read_inventory(LocalStore(lake))


def column(view: InventoryView, table: str, name: str) -> list[Any]:
    return view.tables[table].column(name).to_pylist()


def lake_files(lake: Path) -> list[str]:
    return sorted(str(p.relative_to(lake)) for p in (lake / "inventory").rglob("*.parquet"))


def without_vault(instance: dict[str, Any]) -> dict[str, Any]:
    protectable = {k: v for k, v in instance["protectable"].items() if k != "vault"}
    return {**instance, "protectable": protectable}


def assert_snapshot_is(view: InventoryView, account: Account) -> None:
    """Every object the API listed is one row, its values and raw_json taken from it."""
    vaults = {row["id"]: row for row in view.tables["vaults"].to_pylist()}
    assert sorted(vaults) == sorted(v["id"] for v in account.vaults)
    for vault in account.vaults:
        row = vaults[vault["id"]]
        assert json.loads(row["raw_json"]) == vault
        assert (row["size_gb"], row["used_mb"]) == (
            vault["billing"]["size"],
            vault["billing"]["used"],
        )
        assert row["resource_count"] == len(vault["resources"])
    members = sorted(
        zip(
            column(view, "vault_resources", "vault_id"),
            column(view, "vault_resources", "resource_id"),
            strict=True,
        )
    )
    assert members == sorted((v["id"], r["id"]) for v in account.vaults for r in v["resources"])
    policies = {row["id"]: row for row in view.tables["policies"].to_pylist()}
    assert sorted(policies) == sorted(p["id"] for p in account.policies)
    for policy in account.policies:
        assert policies[policy["id"]]["vault_ids"] == [
            a["vault_id"] for a in policy["associated_vaults"]
        ]
        assert vaults[policy["associated_vaults"][0]["vault_id"]]["policy_id"] == policy["id"]
    protectables = {
        (r["protectable_type"], r["resource_id"]): r
        for r in view.tables["protectables"].to_pylist()
    }
    expected = {(kind, i["id"]): i for kind, items in account.protectables.items() for i in items}
    assert sorted(protectables) == sorted(expected)
    for key, instance in expected.items():
        row = protectables[key]
        assert json.loads(row["raw_json"]) == without_vault(instance)
        vault = instance["protectable"]["vault"]
        assert row["vault_id"] == (vault["id"] if vault else None)
    backups = {row["id"]: row for row in view.tables["backups"].to_pylist()}
    assert sorted(backups) == sorted(b["id"] for b in account.backups)
    for backup in account.backups[:: max(1, len(account.backups) // 50)]:
        row = backups[backup["id"]]
        assert json.loads(row["raw_json"]) == backup
        assert (row["incremental"], row["auto_trigger"]) == (
            backup["incremental"],
            backup["extend_info"]["auto_trigger"],
        )


def test_a_snapshot_reads_every_table_through_pages_capped_below_the_limit(
    settings: Settings, lake: Path, inventory: FakeInventory
) -> None:
    account = populate(inventory, PROJECT, vaults=23, servers=130, disks=61, backups=2345)
    inventory.quirk("vaults", page_cap=7)  # asked for 100 a page, answers 7, counts 23
    inventory.quirk("backups", page_cap=300)  # asked for 1,000

    run = snapshot(settings, lake, inventory_types=("server", "disk", "turbo"))

    assert run.published and run.stopped_by == "done", run.error
    view = published(lake)
    assert_snapshot_is(view, account)
    assert [s.snapshot_id for s in view.snapshots] == [run.snapshot_id]
    assert run.rows == {
        "vaults": 23,
        "vault_resources": sum(len(v["resources"]) for v in account.vaults),
        "policies": 22,
        "protectables": 191,
        "backups": 2345,
    }
    # Offset by the items received, the short pages read on, the list ended by its count.
    backups = inventory.requests_of("backups")
    assert [q.get("offset", "0") for q in backups] == [str(300 * n) for n in range(8)]
    assert {q["limit"] for q in backups} == {"1000"}
    assert [q.get("offset", "0") for q in inventory.requests_of("vaults")] == ["0", "7", "14", "21"]
    assert len(inventory.requests_of("policies")) == 1
    state = json.loads((lake / "_state" / "inventory" / f"{PROJECT}.json").read_text())
    assert (state["snapshot_id"], state["rows"]) == (run.snapshot_id, run.rows)


def test_protectable_resources_are_paged_by_marker_fifty_at_most(
    settings: Settings, lake: Path, inventory: FakeInventory
) -> None:
    account = populate(inventory, PROJECT, vaults=3, servers=137, disks=0)

    run = snapshot(settings, lake, inventory_types=("server",))

    assert run.published, run.error
    queries = inventory.requests_of("protectables")
    servers = account.protectables["server"]
    assert [q.get("marker") for q in queries] == [None] + [servers[n]["id"] for n in (49, 99, 136)]
    assert all(q["limit"] == "50" and "offset" not in q for q in queries)
    assert run.pages["ListProtectable server"] == 4  # three pages, then the empty one
    assert sorted(column(published(lake), "protectables", "resource_id")) == sorted(
        s["id"] for s in servers
    )


@pytest.mark.parametrize("count", ["missing", "page", "inflated"])
def test_a_wrong_or_missing_count_never_ends_a_list_early(
    settings: Settings, lake: Path, inventory: FakeInventory, count: str
) -> None:
    account = populate(inventory, PROJECT, vaults=2, servers=10, backups=2500)
    inventory.quirk("backups", count=count, inflate_by=40)

    run = snapshot(settings, lake)

    assert run.published, run.error
    assert sorted(column(published(lake), "backups", "id")) == sorted(
        b["id"] for b in account.backups
    )
    offsets = [q.get("offset", "0") for q in inventory.requests_of("backups")]
    assert offsets == ["0", "1000", "2000", "2500"]  # on to the empty page each time


def test_a_list_that_moves_while_it_is_read_is_read_again_until_a_pass_adds_nothing(
    settings: Settings, lake: Path, inventory: FakeInventory
) -> None:
    account = populate(inventory, PROJECT, vaults=2, servers=10, backups=2000)
    inventory.quirk("backups", page_cap=250, order="rotate")  # each request shifts the list

    run = snapshot(settings, lake)

    assert run.published, run.error
    ids = column(published(lake), "backups", "id")
    assert sorted(ids) == sorted(b["id"] for b in account.backups)  # each exactly once
    assert len(inventory.requests_of("backups")) > math.ceil(2000 / 250)  # more than one pass


def test_a_list_that_never_settles_fails_the_project_after_bounded_passes(
    settings: Settings, lake: Path, inventory: FakeInventory
) -> None:
    populate(inventory, PROJECT, vaults=2, servers=10, backups=3000)
    first = snapshot(settings, lake)
    files_before = lake_files(lake)
    inventory.quirk("backups", page_cap=200, order="shuffle")
    inventory.requests.clear()

    run = snapshot(settings, lake)

    assert (run.published, run.stopped_by) == (False, "list_incomplete")
    assert f"each of {MAX_PASSES} passes" in str(run.error)
    assert len(inventory.requests_of("backups")) <= MAX_PASSES * 30
    assert [s.snapshot_id for s in published(lake).snapshots] == [first.snapshot_id]
    assert run.in_force == first.snapshot_id
    assert lake_files(lake) == files_before  # what the failed run wrote is gone again


@pytest.mark.parametrize(
    ("list_name", "quirk", "types"),
    [("vaults", "ignore_offset", ("server",)), ("protectables", "ignore_marker", ("server",))],
)
def test_an_api_that_repeats_its_first_page_fails_the_project_instead_of_looping(
    settings: Settings,
    lake: Path,
    inventory: FakeInventory,
    list_name: str,
    quirk: str,
    types: tuple[str, ...],
) -> None:
    populate(inventory, PROJECT, vaults=30, servers=120)
    inventory.quirk(list_name, page_cap=10, **{quirk: True})

    run = snapshot(settings, lake, inventory_types=types)

    assert (run.published, run.stopped_by) == (False, "list_incomplete")
    assert "nothing new" in str(run.error)
    assert len(inventory.requests_of(list_name)) == 1 + MAX_STALE_PAGES
    assert Snapshots(LocalStore(lake)).history(PROJECT) == []


def test_a_request_failing_in_the_middle_leaves_the_previous_snapshot_in_force(
    settings: Settings, lake: Path, inventory: FakeInventory
) -> None:
    account = populate(inventory, PROJECT, vaults=4, servers=40, backups=3000)
    first = snapshot(settings, lake)
    state = (lake / "_state" / "inventory" / f"{PROJECT}.json").read_bytes()
    files_before = lake_files(lake)
    account.backups.append({**account.backups[0], "id": "backup-new"})
    failing = Reply(500, {"error_code": "BackupService.9910", "error_msg": "Unknown error"})
    inventory.script("backups", Reply(passthrough=True), Reply(passthrough=True), *[failing] * 4)

    run = snapshot(settings, lake)

    assert (run.published, run.stopped_by) == (False, "request_failed")
    assert "ListBackups" in str(run.error) and "500" in str(run.error)
    assert (lake / "_state" / "inventory" / f"{PROJECT}.json").read_bytes() == state
    assert lake_files(lake) == files_before
    view = published(lake)
    assert [s.snapshot_id for s in view.snapshots] == [first.snapshot_id]
    assert "backup-new" not in column(view, "backups", "id")


def test_a_refused_list_names_the_permission_the_iam_user_lacks(
    settings: Settings, lake: Path, inventory: FakeInventory
) -> None:
    populate(inventory, PROJECT, vaults=2, servers=5)
    inventory.script(
        "protectables", Reply(403, {"error_code": "APIGW.0302", "error_msg": "denied"})
    )

    run = snapshot(settings, lake)

    assert run.stopped_by == "request_failed" and not run.published
    assert "cbr:vaults:listProtectables" in str(run.error) and "403" in str(run.error)


def test_a_snapshot_that_meets_its_budget_stops_cleanly_and_publishes_nothing(
    settings: Settings, lake: Path, inventory: FakeInventory
) -> None:
    populate(inventory, PROJECT, vaults=3, servers=20, backups=2000)
    now = [0.0]
    deadline = Deadline(at=100.0, clock=lambda: now[0])

    def the_clock_runs_out(list_name: str, number: int) -> None:
        if list_name == "backups" and number == 2:
            now[0] = 100.0

    inventory.on_request = the_clock_runs_out
    root = Root(replace(settings, lake_uri=str(lake)))
    (run,) = root.inventory.run([PROJECT], deadline)

    assert (run.published, run.stopped_by) == (False, "time")
    assert lake_files(lake) == []
    assert Snapshots(LocalStore(lake)).history(PROJECT) == []
    assert len(inventory.requests_of("backups")) == 2


def test_undocumented_fields_and_unreadable_schedules_are_kept_and_counted(
    settings: Settings, lake: Path, inventory: FakeInventory
) -> None:
    account = populate(inventory, PROJECT, vaults=2, servers=6, backups=5)
    account.vaults[0]["billing"]["new_billing_field"] = "x"
    account.backups[0]["extend_info"]["app_consistency"] = {"app_consistency": "0"}
    policy = account.policies[0]
    policy["trigger"]["properties"]["pattern"] = ["FREQ=MONTHLY;BYMONTHDAY=1;BYHOUR=2;BYMINUTE=0"]

    run = snapshot(settings, lake)

    assert run.published and run.drift == 3
    view = published(lake)
    vault = next(r for r in view.tables["vaults"].to_pylist() if r["id"] == account.vaults[0]["id"])
    assert json.loads(vault["raw_json"])["billing"]["new_billing_field"] == "x"
    row = next(r for r in view.tables["policies"].to_pylist() if r["id"] == policy["id"])
    assert row["patterns"] == ["FREQ=MONTHLY;BYMONTHDAY=1;BYHOUR=2;BYMINUTE=0"]
    assert row["max_interval_hours"] is None
    others = [
        r["max_interval_hours"]
        for r in view.tables["policies"].to_pylist()
        if r["id"] != policy["id"]
    ]
    assert others == [24.0] * len(others)


def test_a_count_reached_on_a_full_page_stands_when_the_next_page_brings_nothing_new(
    settings: Settings, lake: Path, inventory: FakeInventory
) -> None:
    """Exactly `limit` vaults from an API that ignores offset: the page after the count repeats
    the first, which confirms the count instead of looping or failing."""
    account = populate(inventory, PROJECT, vaults=100, servers=120)
    inventory.quirk("vaults", ignore_offset=True)

    run = snapshot(settings, lake, inventory_types=("server",))

    assert run.published, run.error
    assert sorted(column(published(lake), "vaults", "id")) == sorted(
        v["id"] for v in account.vaults
    )
    assert len(inventory.requests_of("vaults")) == 4  # two passes: the list met items twice
