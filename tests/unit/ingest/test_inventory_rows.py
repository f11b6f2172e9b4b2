"""Flattening inventory objects, without a network: values, conversions, drift, raw_json."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from lib.core.inventory_schema import INVENTORY_TABLES
from lib.ingest.inventory.rows import RowBuilder, identity, undocumented, vault_policies
from lib.ingest.inventory.schedule import parse_rule, read_schedule

from conftest import EVENTS

AT = datetime(2026, 12, 1, 6, tzinfo=UTC)
SAMPLE = EVENTS / "inventory" / "04f1829c788037ac2fb8c01eb2b04b95"


def sample(name: str, key: str) -> list[dict]:
    return json.loads((SAMPLE / name).read_text(encoding="utf-8"))[key]


def builder() -> RowBuilder:
    return RowBuilder("p1", "s1", AT)


def test_every_row_has_exactly_the_declared_columns() -> None:
    rows = builder()
    vault, members = rows.vault(sample("vaults.json", "vaults")[0], "policy-1")
    built = {
        "vaults": vault,
        "vault_resources": members[0],
        "policies": rows.policy(sample("policies.json", "policies")[0]),
        "protectables": rows.protectable(
            sample("protectables/server.json", "instances")[0], "server"
        ),
        "backups": rows.backup(sample("backups.json", "backups")[0]),
    }
    for name, row in built.items():
        assert list(row) == INVENTORY_TABLES[name].schema.names, name
        assert (row["project_id"], row["snapshot_id"], row["snapshot_at"]) == ("p1", "s1", AT)
    assert rows.report.drift == {}


def test_a_vault_row_reads_billing_units_and_its_resources() -> None:
    source = sample("vaults.json", "vaults")[0]
    vault, members = builder().vault(source, "policy-1")
    assert (
        vault["size_gb"] == source["billing"]["size"]
        and vault["used_mb"] == source["billing"]["used"]
    )
    assert (vault["policy_id"], vault["resource_count"], vault["locked"]) == ("policy-1", 4, True)
    assert vault["created_at"] == datetime(2026, 3, 2, 8, 11, 43, 912301, tzinfo=UTC)
    assert [m["resource_id"] for m in members] == [r["id"] for r in source["resources"]]
    assert {m["vault_id"] for m in members} == {source["id"]}
    assert members[2]["exclude_volumes"] == source["resources"][2]["extra_info"]["exclude_volumes"]
    assert json.loads(vault["raw_json"]) == source


def test_values_of_the_wrong_type_are_converted_when_lossless_else_nulled_and_counted() -> None:
    rows = builder()
    vault, _ = rows.vault(
        {
            "id": "v1",
            "enterprise_project_id": 0,  # an integer, as one document writes it
            "locked": "true",
            "auto_bind": 1,  # a number as a flag would be a guess
            "threshold": "80",
            "billing": {"size": "100", "used": 5.0},
            "created_at": "2020-09-04T06:57:37.344+00:00",
            "resources": [{"id": "r1", "size": "x"}],
        },
        None,
    )
    assert (vault["enterprise_project_id"], vault["locked"], vault["auto_bind"]) == (
        "0",
        True,
        None,
    )
    assert (vault["threshold_pct"], vault["size_gb"], vault["used_mb"]) == (80, 100, 5)
    assert vault["created_at"] == datetime(2020, 9, 4, 6, 57, 37, 344000, tzinfo=UTC)
    assert rows.report.nulled == {"vaults.auto_bind": 1, "vault_resources.size": 1}
    assert rows.report.coerced["vaults.locked"] == 1


def test_drift_names_each_undocumented_field_by_its_path() -> None:
    known = INVENTORY_TABLES["vaults"].known
    item = {
        "id": "v",
        "billing": {"size": 1, "zone": "a"},
        "resources": [{"id": "r", "extra_info": {"more": 1}}],
        "new": 1,
    }
    assert undocumented(item, known) == ["billing.zone", "resources[].extra_info.more", "new"]


def test_a_protectable_row_names_its_vault_and_leaves_the_embedded_vault_out_of_raw_json() -> None:
    instance = sample("protectables/server.json", "instances")[0]
    row = builder().protectable(instance, "server")
    assert row["vault_id"] == instance["protectable"]["vault"]["id"]
    raw = json.loads(row["raw_json"])
    assert "vault" not in raw["protectable"] and raw["id"] == instance["id"]
    assert (row["protectable_type"], row["can_protect"]) == ("server", True)
    unbound = builder().protectable(sample("protectables/server.json", "instances")[4], "server")
    assert unbound["vault_id"] is None


def test_a_backup_reads_incremental_where_either_document_puts_it() -> None:
    source = sample("backups.json", "backups")[0]
    assert builder().backup(source)["incremental"] is True
    moved = {k: v for k, v in source.items() if k != "incremental"}
    moved["extend_info"] = {**source["extend_info"], "incremental": False}
    row = builder().backup(moved)
    assert row["incremental"] is False and row["auto_trigger"] is True


def test_a_policy_names_its_vaults_and_its_longest_gap() -> None:
    row = builder().policy(sample("policies.json", "policies")[0])
    assert row["max_interval_hours"] == 12.0
    assert row["vault_ids"] == [
        "d13c513a-42f8-4da1-97b1-165f0971b7c4",
        "eca9bad1-449e-48e4-b15c-e760f3e452f2",
    ]
    assert (row["retention_duration_days"], row["max_backups"], row["timezone"]) == (
        30,
        -1,
        "UTC+00:00",
    )


def test_each_vault_is_bound_to_its_backup_policy_not_a_replication_one() -> None:
    policies = sample("policies.json", "policies")
    bound = vault_policies(policies)
    assert bound["d13c513a-42f8-4da1-97b1-165f0971b7c4"] == "72488b81-0dfa-4e39-8727-d4dad921bf95"
    assert "cc9ff851-b6ab-4f1a-b79d-b4df2694e1f7" not in bound  # the vault without a policy
    rival = {**policies[0], "id": "00-disabled", "enabled": False}
    assert (
        vault_policies([rival, *policies])["d13c513a-42f8-4da1-97b1-165f0971b7c4"]
        == policies[0]["id"]
    )


def test_identities_tell_rows_apart_within_a_snapshot() -> None:
    assert identity("backups", {"id": "b1"}) == "b1"
    assert identity("protectables", {"protectable_type": "disk", "resource_id": "r"}) == "disk|r"
    assert identity("vault_resources", {"vault_id": "v", "resource_id": "r"}) == "v|r"


@pytest.mark.parametrize(
    ("patterns", "hours"),
    [
        (
            [
                "FREQ=DAILY;INTERVAL=1;BYHOUR=2;BYMINUTE=00",
                "FREQ=DAILY;INTERVAL=1;BYHOUR=14;BYMINUTE=00",
            ],
            12.0,
        ),
        (["FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR,SA,SU;BYHOUR=14;BYMINUTE=00"], 24.0),
        (["FREQ=WEEKLY;BYDAY=MO,FR;BYHOUR=3;BYMINUTE=0"], 96.0),
        (["FREQ=WEEKLY;INTERVAL=2;BYDAY=SU;BYHOUR=3;BYMINUTE=0"], 336.0),
        (["FREQ=DAILY;INTERVAL=3;BYHOUR=6,18;BYMINUTE=0,30"], 59.5),
        (["RRULE:FREQ=daily;BYHOUR=1;BYMINUTE=15;"], 24.0),
    ],
)
def test_schedules_give_the_longest_gap_between_runs(patterns: list[str], hours: float) -> None:
    assert read_schedule(patterns, None).max_interval_hours == hours


def test_interval_patterns_are_aligned_on_the_trigger_start() -> None:
    both = [
        "FREQ=WEEKLY;INTERVAL=2;BYDAY=MO;BYHOUR=17;BYMINUTE=0",
        "FREQ=DAILY;INTERVAL=2;BYDAY=SU,MO,TH;BYHOUR=2;BYMINUTE=0",
    ]
    # Which Mondays and Thursdays the every-other-day rule hits depends on the day it started.
    assert read_schedule(both, datetime(2026, 1, 5).date()).max_interval_hours == 129.0
    assert read_schedule(both, datetime(2026, 1, 6).date()).max_interval_hours == 144.0
    assert read_schedule(both, None).max_interval_hours is None  # not guessed


@pytest.mark.parametrize(
    ("pattern", "why"),
    [
        ("FREQ=MONTHLY;BYHOUR=1;BYMINUTE=0", "FREQ must be DAILY or WEEKLY"),
        ("FREQ=DAILY;BYHOUR=1", "BYHOUR and BYMINUTE are required"),
        ("FREQ=DAILY;COUNT=3;BYHOUR=1;BYMINUTE=0", "COUNT is outside the subset"),
        ("FREQ=WEEKLY;BYDAY=1MO;BYHOUR=1;BYMINUTE=0", "BYDAY must be days"),
        ("FREQ=DAILY;BYHOUR=24;BYMINUTE=0", "BYHOUR must be from 0 to 23"),
        ("FREQ=DAILY;FREQ=DAILY;BYHOUR=1;BYMINUTE=0", "FREQ is given twice"),
        ("FREQ=WEEKLY;BYHOUR=1;BYMINUTE=0", "without BYDAY"),
        ("nonsense", "is not KEY=VALUE"),
    ],
)
def test_a_pattern_outside_the_subset_is_named_and_never_guessed(pattern: str, why: str) -> None:
    schedule = read_schedule([pattern, "FREQ=DAILY;BYHOUR=1;BYMINUTE=0"], None)
    assert schedule.max_interval_hours is None and schedule.unreadable == (pattern,)
    assert why in str(schedule.reason)


def test_a_weekly_rule_without_byday_runs_on_the_start_weekday() -> None:
    rule = parse_rule("FREQ=WEEKLY;BYHOUR=1;BYMINUTE=0", datetime(2026, 1, 7).date())
    assert rule.weekdays == frozenset({2})
    assert (
        read_schedule(
            ["FREQ=DAILY;INTERVAL=7;BYDAY=TU;BYHOUR=1;BYMINUTE=0"], datetime(2026, 1, 5).date()
        ).reason
        == "the patterns schedule no run"
    )
