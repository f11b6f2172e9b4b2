"""The lake writer partitions, orders and names rows alike whether they come as dicts or as one
Arrow table, and the batch path's table makes the very files the per-record rows make."""

from __future__ import annotations

import json
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lib.core.jsontext import decode_json
from lib.core.schema import OPERATION_LOGS_SCHEMA
from lib.ingest.batch import Record, to_table
from lib.ingest.flatten import flatten, raw_json
from lib.lake.storage import LocalStore
from lib.lake.writer import (
    Lake,
    data_identities,
    data_identity,
    data_partition,
    data_partitions,
)

from conftest import FIXTURE_LOGS

INGESTED = datetime(2026, 11, 27, 6, 0, tzinfo=UTC)
SETTINGS = settings(
    max_examples=150,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)

moments = st.one_of(
    st.none(),
    st.datetimes(
        min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31, 23, 59, 59, 999999)
    ).map(lambda moment: moment.replace(tzinfo=UTC)),
    st.sampled_from([datetime(2026, 11, 20, 10, 0, tzinfo=UTC)]),  # a whole second: no fraction
)
ids = st.one_of(st.none(), st.text(st.characters(codec="utf-8"), max_size=8), st.just("task-1"))


@st.composite
def rows(draw: st.DrawFn) -> dict[str, Any]:
    log = {"id": draw(ids)}
    row, _ = flatten(log, ingested_at=INGESTED, source_message_id="m")
    for name in ("created_at", "started_at", "updated_at"):
        row[name] = draw(moments)
    row["ingested_at"] = draw(st.sampled_from([INGESTED, INGESTED + timedelta(days=400)]))
    return row


@SETTINGS
@given(batch=st.lists(rows(), min_size=1, max_size=20))
def test_vectorised_partitions_and_identities_are_the_row_functions(
    batch: list[dict[str, Any]],
) -> None:
    table = pa.Table.from_pylist(batch, schema=OPERATION_LOGS_SCHEMA)
    assert data_partitions(table).to_pylist() == [data_partition(row) for row in batch]
    assert data_identities(table).to_pylist() == [data_identity(row) for row in batch]


def written(data: list[dict[str, Any]] | pa.Table) -> dict[str, bytes]:
    with tempfile.TemporaryDirectory() as folder:
        Lake(LocalStore(folder)).write(data, [])
        return {
            str(path.relative_to(folder)): path.read_bytes()
            for path in sorted(Path(folder).rglob("*.parquet"))
        }


@SETTINGS
@given(batch=st.lists(rows(), min_size=1, max_size=20))
def test_rows_and_their_table_make_the_same_files(batch: list[dict[str, Any]]) -> None:
    files = written(batch)
    assert files and files == written(pa.Table.from_pylist(batch, schema=OPERATION_LOGS_SCHEMA))


def test_the_batch_table_makes_the_files_the_per_record_rows_make() -> None:
    # GIVEN the sample logs, twice (a redelivery: equal identities) and one copy a day later
    logs = [json.loads(p.read_bytes())["operation_log"] for p in FIXTURE_LOGS.glob("*.json")]
    later = [{**log, "created_at": "2027-01-01T00:00:00Z"} for log in logs[:3]]
    logs = [*logs, *logs, *later]
    rows = [flatten(log, ingested_at=INGESTED, source_message_id="m")[0] for log in logs]
    # WHEN the batch path reads texts spelled as the per-record path spells raw_json
    records = [Record(None, raw_json(log).encode(), "m") for log in logs]
    batch = to_table(records, ingested_at=INGESTED, decode=decode_json)
    assert batch.per_record == 0
    table = batch.table
    # THEN the files are the same, byte for byte
    files = written(rows)
    assert len(files) > 1 and written(table) == files
