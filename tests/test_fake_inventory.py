"""Checks that the fake inventory APIs page, and misbehave, as the inventory's tests assume."""

from collections.abc import Iterator
from typing import Any

import pytest
import requests

from fake_inventory import FakeInventory, populate
from fakecbr import FakeCBR

PROJECT = "proj-1"


@pytest.fixture
def fake() -> Iterator[FakeCBR]:
    with FakeCBR() as server:
        server.inventory = FakeInventory()
        populate(server.inventory, PROJECT, vaults=5, servers=120, disks=120, backups=250)
        yield server


def get(fake: FakeCBR, path: str, **query: Any) -> dict[str, Any]:
    answer = requests.get(f"{fake.base_url}/v3/{PROJECT}/{path}", params=query, timeout=5)
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def ids(items: list[dict[str, Any]]) -> list[str]:
    return [item["id"] for item in items]


def test_protectables_come_fifty_at_most_without_a_count_and_follow_the_marker(
    fake: FakeCBR,
) -> None:
    first = get(fake, "protectables/disk/instances", limit=200)
    assert set(first) == {"instances"} and len(first["instances"]) == 50
    after = get(fake, "protectables/disk/instances", limit=50, marker=first["instances"][-1]["id"])
    everything = fake.inventory.accounts[PROJECT].protectables["disk"]
    assert ids(after["instances"]) == ids(everything[50:100])


def test_server_protectables_answer_the_same_page_for_offset_zero_and_one(fake: FakeCBR) -> None:
    servers = [get(fake, "protectables/server/instances", offset=n)["instances"] for n in (0, 1, 2)]
    assert ids(servers[0]) == ids(servers[1]) != ids(servers[2])
    disks = [get(fake, "protectables/disk/instances", offset=n)["instances"] for n in (0, 1)]
    assert ids(disks[0])[1:] == ids(disks[1])[:-1]  # an item offset for disks


def test_a_page_cap_answers_fewer_than_limit_while_count_says_the_total(fake: FakeCBR) -> None:
    fake.inventory.quirk("backups", page_cap=40)
    page = get(fake, "backups", limit=100, offset=200)
    assert (len(page["backups"]), page["count"]) == (40, 250)
    fake.inventory.quirk("backups", count="page")
    assert get(fake, "backups", limit=100)["count"] == 40
    fake.inventory.quirk("backups", count="missing")
    assert "count" not in get(fake, "backups", limit=100)


def test_backups_are_sorted_as_asked_and_moving_orders_change_between_requests(
    fake: FakeCBR,
) -> None:
    newest = get(fake, "backups", limit=1000, sort="created_at:desc")["backups"]
    assert [b["created_at"] for b in newest] == sorted(
        (b["created_at"] for b in newest), reverse=True
    )
    fake.inventory.quirk("vaults", order="rotate")
    one, two = (ids(get(fake, "vaults")["vaults"]) for _ in range(2))
    assert one != two and sorted(one) == sorted(two)


def test_an_unknown_protectable_type_or_a_bad_limit_is_refused_like_the_api(fake: FakeCBR) -> None:
    answer = requests.get(f"{fake.base_url}/v3/{PROJECT}/protectables/tape/instances", timeout=5)
    assert (answer.status_code, answer.json()["error_code"]) == (400, "BackupService.9900")
    answer = requests.get(f"{fake.base_url}/v3/{PROJECT}/vaults?limit=0", timeout=5)
    assert answer.status_code == 400
