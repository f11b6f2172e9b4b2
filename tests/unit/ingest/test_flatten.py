"""The pure flattener: every column, timestamps, nulls, drift and type coercion (no network)."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa
import pytest

from lib.core.schema import OPERATION_LOGS_SCHEMA, SOURCE_COLUMNS
from lib.ingest.flatten import flatten

from conftest import fixture_logs
from expected import expected_columns

INGESTED = datetime(2026, 11, 27, 6, 0, tzinfo=UTC)
SEED_ID = "4827f2da-b008-4507-ab7d-42d0df5ed912"


def run(log: dict[str, Any]) -> tuple[dict[str, Any], Any]:
    return flatten(log, ingested_at=INGESTED, source_message_id="msg-1")


def test_seed_example_fills_the_documented_columns() -> None:
    row, report = run(fixture_logs()[SEED_ID])
    assert row["id"] == SEED_ID
    assert row["status"] == "success"
    assert row["operation_type"] == "backup"
    assert row["project_id"] == "04f1829c788037ac2fb8c01eb2b04b95"
    assert row["provider_id"] == "0daac4c5-6707-4851-97ba-169e36266b66"
    assert row["checkpoint_id"] == "b432511f-d889-428f-8b0e-5f47c524c6b6"
    assert row["vault_id"] is None and row["vault_name"] is None and row["policy_id"] is None
    assert row["created_at"] == datetime(2019, 5, 23, 14, 31, 36, 39365, tzinfo=UTC)
    assert row["started_at"] == datetime(2019, 5, 23, 14, 31, 36, 7230, tzinfo=UTC)
    assert row["ended_at"] == datetime(2019, 5, 23, 14, 35, 23, 511155, tzinfo=UTC)
    assert row["updated_at"] == datetime(2019, 5, 23, 14, 35, 23, 584418, tzinfo=UTC)
    assert row["error_info__code"] == "" and row["error_info__message"] == ""
    assert row["extra_info__resource__type"] == "OS::Nova::Server"
    assert row["extra_info__resource__name"] == "ECS-0001"
    assert row["extra_info__backup__backup_name"] == "manualbk_1234"
    assert row["extra_info__backup__backup_id"] == "0e5d0ef6-7f0a-4890-b98c-cb12490e31c1"
    assert row["extra_info__common__progress"] == 100
    assert row["extra_info__common__request_id"] == "req-cdb98cc4-e87b-4f40-9b4a-57ec036620bc"
    assert row["extra_info__restore__backup_id"] is None
    assert row["source_message_id"] == "msg-1" and row["ingested_at"] == INGESTED
    assert report.drift == [] and report.nulled == [] and report.coerced == []


@pytest.mark.parametrize("log_id", sorted(fixture_logs()))
def test_every_fixture_flattens_to_its_source_values(log_id: str) -> None:
    log = fixture_logs()[log_id]
    row, report = run(log)
    table = pa.Table.from_pylist([row], schema=OPERATION_LOGS_SCHEMA)  # conforms to the schema
    written = table.to_pylist()[0]
    for name, value in expected_columns(log).items():
        assert written[name] == value, name
    assert json.loads(written["raw_json"]) == log
    assert report.nulled == []


def test_fixtures_fill_every_column_somewhere() -> None:
    rows = [run(log)[0] for log in fixture_logs().values()]
    empty = [c.name for c in SOURCE_COLUMNS if all(r[c.name] in (None, []) for r in rows)]
    assert empty == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2020-02-23T01:00:32Z", datetime(2020, 2, 23, 1, 0, 32, tzinfo=UTC)),
        ("2019-05-23T14:35:23.584418", datetime(2019, 5, 23, 14, 35, 23, 584418, tzinfo=UTC)),
        ("2019-05-23T14:35:23.584+00:00", datetime(2019, 5, 23, 14, 35, 23, 584000, tzinfo=UTC)),
        ("2026-11-24T07:15:00+08:00", datetime(2026, 11, 23, 23, 15, tzinfo=UTC)),
        ("2026-11-24T07:15:00-05:30", datetime(2026, 11, 24, 12, 45, tzinfo=UTC)),
        ("2020-01-04T09:05:22.701000Z", datetime(2020, 1, 4, 9, 5, 22, 701000, tzinfo=UTC)),
    ],
)
def test_timestamps_are_utc_whatever_the_spelling(text: str, expected: datetime) -> None:
    row, report = run({"id": "a1", "created_at": text})
    assert row["created_at"] == expected
    assert row["created_at"].utcoffset().total_seconds() == 0
    assert report.nulled == []


def test_empty_end_time_is_null_without_complaint() -> None:
    row, report = run({"id": "a1", "ended_at": ""})
    assert row["ended_at"] is None
    assert report.nulled == []


def test_missing_sub_objects_and_json_nulls_give_nulls() -> None:
    row, report = run({"id": "a1", "extra_info": None, "error_info": {"code": None}})
    assert row["id"] == "a1"
    assert all(row[c.name] is None for c in SOURCE_COLUMNS if c.name != "id")
    assert report.drift == [] and report.nulled == []


def test_lists_keep_their_shape_and_empty_lists_stay_empty() -> None:
    log = {
        "id": "a1",
        "extra_info": {
            "resource": {"extra_info": {"exclude_volumes": [], "include_volumes": None}},
            "remove_resources": {"resources": [{"id": "r1", "type": "OS::Nova::Server"}]},
        },
    }
    row, _ = run(log)
    assert row["extra_info__resource__extra_info__exclude_volumes"] == []
    assert row["extra_info__resource__extra_info__include_volumes"] is None
    (resource,) = row["extra_info__remove_resources__resources"]
    assert resource == {"id": "r1", "name": None, "type": "OS::Nova::Server", "extra_info": None}


def test_unknown_fields_are_drift_kept_in_raw_json() -> None:
    log = {
        "id": "a1",
        "enterprise_project_id": "0",
        "extra_info": {
            "migrate": {"to": "x"},
            "common": {"progress": 5, "new_counter": 1},
            "remove_resources": {"resources": [{"id": "r1", "zone": "az1"}]},
        },
    }
    row, report = run(copy.deepcopy(log))
    assert sorted(report.drift) == [
        "enterprise_project_id",
        "extra_info.common.new_counter",
        "extra_info.migrate",
        "extra_info.remove_resources.resources[].zone",
    ]
    assert json.loads(row["raw_json"]) == log
    assert row["extra_info__common__progress"] == 5


@pytest.mark.parametrize(
    ("column", "path_value", "expected", "outcome"),
    [
        ("extra_info__common__progress", "55", 55, "coerced"),
        ("extra_info__common__progress", 55.0, 55, "coerced"),
        ("extra_info__common__progress", "55.5", None, "nulled"),
        ("extra_info__common__progress", True, None, "nulled"),
        ("extra_info__common__progress", 2**31, None, "nulled"),
        ("extra_info__common__progress", "abc", None, "nulled"),
        ("extra_info__common__progress", 7, 7, None),
        ("extra_info__common__request_id", True, "true", "coerced"),
        ("extra_info__common__request_id", 5, "5", "coerced"),
        ("extra_info__common__request_id", 5.0, "5.0", "coerced"),
        ("extra_info__common__request_id", {"a": [1, "é"]}, '{"a":[1,"é"]}', "coerced"),
        ("extra_info__common__request_id", [], "[]", "coerced"),
        ("extra_info__common__request_id", "req-1", "req-1", None),
    ],
)
def test_wrong_types_are_converted_when_lossless_else_nulled(
    column: str, path_value: Any, expected: Any, outcome: str | None
) -> None:
    field = column.removeprefix("extra_info__common__")
    row, report = run({"id": "a1", "extra_info": {"common": {field: path_value}}})
    assert row[column] == expected
    noted = {"coerced": report.coerced, "nulled": report.nulled}
    for kind, paths in noted.items():
        assert (f"extra_info.common.{field}" in paths) == (kind == outcome), kind
    pa.Table.from_pylist([row], schema=OPERATION_LOGS_SCHEMA)


@pytest.mark.parametrize(
    "log",
    [
        {"id": "a1", "created_at": "yesterday"},
        {"id": "a1", "created_at": 1700000000},
        {"id": "a1", "extra_info": "not an object"},
        {"id": "a1", "extra_info": {"resource": {"extra_info": {"exclude_volumes": "v1"}}}},
        {"id": "a1", "extra_info": {"remove_resources": {"resources": ["r1"]}}},
    ],
)
def test_unconvertible_values_are_nulled_and_the_row_survives(log: dict[str, Any]) -> None:
    row, report = run(log)
    assert row["id"] == "a1"
    assert len(report.nulled) == 1
    pa.Table.from_pylist([row], schema=OPERATION_LOGS_SCHEMA)
    assert json.loads(row["raw_json"]) == log


def test_id_of_the_wrong_type_is_kept_as_text() -> None:
    row, report = run({"id": 12345})
    assert row["id"] == "12345"
    assert report.coerced == ["id"]


def test_lone_surrogates_cannot_break_the_parquet_write() -> None:
    log = json.loads('{"id": "a1", "vault_name": "bad \\ud800 name", "extra": "\\udfff"}')
    row, _ = run(log)
    table = pa.Table.from_pylist([row], schema=OPERATION_LOGS_SCHEMA)
    assert table["vault_name"][0].as_py() == "bad ? name"
    assert json.loads(row["raw_json"]) == log


def test_raw_json_keeps_non_ascii_and_is_compact() -> None:
    log = {"id": "a1", "vault_name": "生产备份库", "extra_info": {"common": {"progress": 1}}}
    row, _ = run(log)
    assert (
        row["raw_json"]
        == '{"id":"a1","vault_name":"生产备份库","extra_info":{"common":{"progress":1}}}'
    )


@pytest.mark.parametrize(
    ("log", "path"),
    [
        (
            {"id": "a1", "created_at": "0001-01-01T00:00:00+01:00"},
            "created_at",
        ),  # before year 1 in UTC
        ({"id": "a1", "updated_at": "9999-12-31T23:30:00-01:00"}, "updated_at"),  # after 9999
        (
            {"id": "a1", "extra_info": {"common": {"progress": "1" * 5000}}},
            "extra_info.common.progress",
        ),
    ],
)
def test_values_no_column_can_hold_are_nulled_not_fatal(log: dict[str, Any], path: str) -> None:
    row, report = run(log)
    assert report.nulled == [path]
    pa.Table.from_pylist([row], schema=OPERATION_LOGS_SCHEMA)


def test_an_object_with_a_lone_surrogate_in_a_string_column_becomes_valid_text() -> None:
    log = json.loads(
        '{"id": "a1", "status": {"a": "\\ud800"}, "extra_info": {"resource": '
        '{"extra_info": {"exclude_volumes": [["\\udfff"]]}}}}'
    )
    row, report = run(log)
    table = pa.Table.from_pylist([row], schema=OPERATION_LOGS_SCHEMA)
    assert table["status"][0].as_py() == '{"a":"?"}'
    assert table["extra_info__resource__extra_info__exclude_volumes"][0].as_py() == ['["?"]']
    assert "status" in report.coerced
