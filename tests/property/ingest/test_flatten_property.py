"""Properties of `flatten` over arbitrary operation_log objects, and of the lake that stores them.

Records are built on the schema's own paths (derived from `SOURCE_COLUMNS`) with values of the
right type, the wrong type, or no JSON type in particular, plus fields the schema does not know.
Whatever the record, flattening never raises, the row has every column and converts to the
declared Arrow schema, `raw_json` gives back the record, nothing is nulled without being counted,
and a batch of such rows is written as Parquet files that read back with the declared schema.

The generated values reach the edges: timestamps whose UTC time falls outside years 1-9999,
integer text longer than Python reads, lone surrogates inside lists and objects. The last tests
each aim at one such family, with its smallest trigger as an explicit example.
"""

from __future__ import annotations

import json
import tempfile
from collections import Counter
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from lib.core.schema import OPERATION_LOGS_SCHEMA, SOURCE_COLUMNS
from lib.ingest.flatten import FlattenReport, flatten
from lib.lake.storage import LocalStore
from lib.lake.writer import Lake

PROPERTY_SETTINGS = settings(
    max_examples=250,
    deadline=None,
    database=None,  # nothing written under the project: failures are reproduced by seed
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
INGESTED = datetime(2026, 11, 27, 6, 0, tzinfo=UTC)
MESSAGE_ID = "msg-1"
PYTHON_INT_DIGITS = 4300  # sys.int_info.default_max_str_digits: json.loads reads no longer int

Record = dict[str, Any]
# The schema's paths as nested objects, with Arrow types at the leaves.
Tree = dict[str, "Tree | pa.DataType"]

# The schema, as the record shape it expects -------------------------------------------------------


def schema_tree() -> Tree:
    """{"id": string, "extra_info": {"common": {"progress": int32, ...}, ...}, ...}."""
    tree: Tree = {}
    for column in SOURCE_COLUMNS:
        node = tree
        for key in column.path[:-1]:
            node = node.setdefault(key, {})  # type: ignore[assignment]
        node[column.path[-1]] = column.type
    return tree


TREE = schema_tree()


def columns_of(predicate: Any) -> list[tuple[str, ...]]:
    return [column.path for column in SOURCE_COLUMNS if predicate(column.type)]


STRING_PATHS = columns_of(pa.types.is_string)
INTEGER_PATHS = columns_of(pa.types.is_integer)
TIMESTAMP_PATHS = columns_of(pa.types.is_timestamp)

# Values ------------------------------------------------------------------------------------------

LONE_SURROGATES = ("\ud800", "\udbff", "\udc00", "\udfff")
# Every code point (non-ASCII, controls, NUL) and, often, lone surrogates, which JSON escapes
# such as "\ud800" produce.
any_text = st.text(st.characters(exclude_categories=()) | st.sampled_from(LONE_SURROGATES))
utf8_text = st.text(st.characters(codec="utf-8"))

finite_floats = st.floats(allow_nan=False, allow_infinity=False)
huge_ints = st.integers(min_value=-(10**PYTHON_INT_DIGITS) + 1, max_value=10**PYTHON_INT_DIGITS - 1)
int_edges = st.sampled_from([2**n + d for n in (7, 15, 31, 63, 64) for d in (-1, 0)]).flatmap(
    lambda edge: st.sampled_from([edge, -edge, -edge - 1])
)
any_int = st.integers() | int_edges | huge_ints


def json_values(text: st.SearchStrategy[str] = any_text) -> st.SearchStrategy[Any]:
    """Any value `json.loads` can return, finite floats only (NaN and Infinity are not JSON)."""
    scalars = st.none() | st.booleans() | any_int | finite_floats | text
    return st.recursive(
        scalars,
        lambda children: (
            st.lists(children, max_size=5) | st.dictionaries(text, children, max_size=5)
        ),
        max_leaves=12,
    )


def _iso(moment: datetime, spelling: str) -> str:
    text = moment.isoformat(sep=spelling[0])
    return text.replace("+00:00", "Z") if spelling.endswith("Z") else text


offsets = st.builds(
    lambda minutes: timezone(timedelta(minutes=minutes)), st.integers(-23 * 60 - 59, 23 * 60 + 59)
)
EXTREME_OFFSETS = (timezone(timedelta(hours=23, minutes=59)), timezone(-timedelta(hours=23)))


def timestamp_texts(first: datetime, last: datetime) -> st.SearchStrategy[str]:
    """ISO 8601 texts between first and last (naive, UTC, "Z" or any offset), edges often."""
    zones = st.none() | st.just(UTC) | offsets
    moments = st.datetimes(min_value=first, max_value=last, timezones=zones)
    edges = st.builds(
        lambda moment, zone: moment.replace(tzinfo=zone),
        st.sampled_from([first, last]),
        st.sampled_from(EXTREME_OFFSETS),
    )
    return st.builds(_iso, moments | edges, st.sampled_from(["T", " ", "TZ"]))


def integer_texts(max_digits: int) -> st.SearchStrategy[str]:
    """Integer text as an API might send a count: signed, zero-padded, up to max_digits long."""
    lengths = st.integers(1, max_digits) | st.sampled_from([max_digits - 1, max_digits])
    return st.builds(
        str.__add__,
        st.sampled_from(["", "+", "-"]),
        lengths.map(lambda n: "9" * n)
        | st.integers(0, 2**70).map(str)
        | st.text("0123456789", min_size=1, max_size=25),
    )


# The whole datetime range: with an offset, a UTC conversion can leave years 1-9999.
FIRST_MOMENT = datetime(1, 1, 1)
LAST_MOMENT = datetime(9999, 12, 31, 23, 59, 59, 999999)
# Integer text well past what int() reads (json.loads returns it as a string, not a number).
MAX_INTEGER_DIGITS = 3 * PYTHON_INT_DIGITS


def right_type_values(type_: pa.DataType) -> st.SearchStrategy[Any]:
    """JSON values an API would send for a column of this type (strings may not be UTF-8)."""
    if pa.types.is_string(type_):
        return any_text
    if pa.types.is_integer(type_):
        as_floats = st.integers(-(2**70), 2**70).map(float) | finite_floats
        return any_int | integer_texts(MAX_INTEGER_DIGITS) | as_floats
    if pa.types.is_timestamp(type_):
        texts = timestamp_texts(FIRST_MOMENT, LAST_MOMENT)
        return texts | st.sampled_from(["", " "]) | utf8_text
    if pa.types.is_list(type_):
        return st.lists(values_for(type_.value_type), max_size=4)
    assert pa.types.is_struct(type_), type_
    return objects_for({field.name: field.type for field in type_})


def values_for(node: Tree | pa.DataType) -> st.SearchStrategy[Any]:
    """Anything for a position in the record: the right type, another type, or null.

    Values of another type may hold lone surrogates: in a string column a list or object is kept
    as its JSON text, which must still be valid UTF-8.
    """
    right = objects_for(node) if isinstance(node, dict) else right_type_values(node)
    return st.one_of(right, right, json_values(), st.none())


drift_keys = st.one_of(
    any_text,
    st.sampled_from(["ID", "id ", "created_at\u200b", "extra-info", "__proto__", "", "é"]),
)


def objects_for(tree: Tree) -> st.SearchStrategy[Record]:
    """An object with any of the tree's keys, and some keys the schema does not know."""
    known = st.fixed_dictionaries({}, optional={k: values_for(v) for k, v in tree.items()})
    unknown = st.dictionaries(drift_keys.filter(lambda k: k not in tree), json_values(), max_size=2)
    return st.builds(lambda a, b: {**b, **a}, known, unknown)


def operation_logs() -> st.SearchStrategy[Record]:
    """operation_log objects built on the schema's paths, with drift and wrong types."""
    return objects_for(TREE)


records = operation_logs()

# Checks ------------------------------------------------------------------------------------------


def run(record: Record) -> tuple[Record, FlattenReport]:
    return flatten(record, ingested_at=INGESTED, source_message_id=MESSAGE_ID)


def lookup(record: Record, path: tuple[str, ...]) -> Any:
    value: Any = record
    for key in path:
        value = value.get(key) if isinstance(value, dict) else None
    return value


def as_arrow_row(row: Record) -> Record:
    """The row after a trip through the declared schema (raises if it does not conform)."""
    return pa.Table.from_pylist([row], schema=OPERATION_LOGS_SCHEMA).to_pylist()[0]


def is_utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def assert_report_is_paths(report: FlattenReport) -> None:
    for noticed in (report.drift, report.coerced, report.nulled):
        assert isinstance(noticed, list) and all(isinstance(path, str) for path in noticed)


def assert_nothing_nulled_silently(record: Record, row: Record, report: FlattenReport) -> None:
    """A value present in the record and absent from its column is counted as nulled."""
    for column in SOURCE_COLUMNS:
        value = lookup(record, column.path)
        if value is None or row[column.name] is not None:
            continue
        if pa.types.is_timestamp(column.type) and isinstance(value, str) and not value.strip():
            continue  # the API's "" for a time that has not happened yet
        assert ".".join(column.path) in report.nulled, column.name


def assert_right_types_kept(record: Record, row: Record) -> None:
    """Scalars of the column's own type arrive unchanged."""
    for column in SOURCE_COLUMNS:
        value, kept = lookup(record, column.path), row[column.name]
        if pa.types.is_string(column.type) and isinstance(value, str) and is_utf8(value):
            assert kept == value, column.name
        if pa.types.is_integer(column.type) and type(value) is int:
            bound = 2 ** (column.type.bit_width - 1)
            assert kept == (value if -bound <= value < bound else None), column.name


def assert_unknown_keys_are_drift(record: Record, report: FlattenReport) -> None:
    for key in record:
        if key not in TREE:
            assert key in report.drift, key


def assert_flattens_faithfully(record: Record) -> None:
    """Every property of one record's row (tests/fuzz/fuzz_parse.py runs this one too)."""
    # WHEN the record is flattened (it must not raise)
    row, report = run(record)
    # THEN the row has exactly the schema's columns and converts to it
    assert set(row) == set(OPERATION_LOGS_SCHEMA.names)
    stored = as_arrow_row(row)
    # AND raw_json gives back the whole record, also after Arrow
    assert json.loads(row["raw_json"]) == record
    assert stored["raw_json"] == row["raw_json"]
    assert (stored["ingested_at"], stored["source_message_id"]) == (INGESTED, MESSAGE_ID)
    # AND what was noticed is reported as paths, with no value lost unreported
    assert_report_is_paths(report)
    assert_nothing_nulled_silently(record, row, report)
    assert_right_types_kept(record, row)
    assert_unknown_keys_are_drift(record, report)


# Properties --------------------------------------------------------------------------------------


@PROPERTY_SETTINGS
@given(record=records)
def test_any_record_flattens_to_a_conforming_row_that_keeps_the_record(record: Record) -> None:
    # GIVEN any operation_log object built on the schema's paths
    assert_flattens_faithfully(record)


@PROPERTY_SETTINGS
@given(record=json_values())
def test_a_record_of_any_json_shape_flattens(record: Any) -> None:
    """Not built on the schema: random keys, values and nesting, as a changed API might send."""
    assert_flattens_faithfully(record if isinstance(record, dict) else {"id": record})


CREATED_AT = {  # created_at as sent -> the dt partition it lands in
    "2026-11-20T10:00:00Z": "2026-11-20",
    "2026-11-21T23:59:59.999999+00:00": "2026-11-21",
    "2026-11-22T01:00:00+05:00": "2026-11-21",  # converted to UTC first
    "2026-11-23T12:00:00": "2026-11-23",  # no zone means UTC
}


def with_created_at(record: Record, created_at: str) -> Record:
    return {**record, "created_at": created_at, "started_at": None}


def read_back(lake: Path) -> list[tuple[str, pa.Table]]:
    """(dt, table) for every Parquet file of the data table."""
    files = sorted((lake / "operation_logs").glob("dt=*/*.parquet"))
    return [(path.parent.name.removeprefix("dt="), pq.read_table(path)) for path in files]


@settings(PROPERTY_SETTINGS, max_examples=60)
@given(
    batch=st.lists(st.tuples(records, st.sampled_from(sorted(CREATED_AT))), min_size=1, max_size=12)
)
def test_a_batch_of_such_rows_is_written_and_reads_back_with_the_declared_schema(
    batch: list[tuple[Record, str]],
) -> None:
    # GIVEN rows flattened from arbitrary records spread over a few created_at days
    rows = [run(with_created_at(record, created_at))[0] for record, created_at in batch]
    with tempfile.TemporaryDirectory() as folder:  # fresh per example; tmp_path is per test
        lake = Path(folder)
        # WHEN the real sink writes them to a local folder
        report = Lake(LocalStore(lake)).write(rows, [])
        files = read_back(lake)
    # THEN one file per day holds them all, each with exactly the declared schema
    assert sorted(dt for dt, _ in files) == sorted({CREATED_AT[c] for _, c in batch})
    assert len(report.keys) == len(files) and report.data_rows == len(rows)
    assert sum(table.num_rows for _, table in files) == len(rows)
    for dt, table in files:
        assert table.schema.remove_metadata() == OPERATION_LOGS_SCHEMA
        assert {moment.date() for moment in table["created_at"].to_pylist()} == {
            date.fromisoformat(dt)
        }
    stored_json = Counter(v for _, table in files for v in table["raw_json"].to_pylist())
    assert stored_json == Counter(row["raw_json"] for row in rows)


# Edges -------------------------------------------------------------------------------------------
# Each test states what the README promises ("the row is always written"; a value that cannot be
# converted is "set to null and counted") for one family of inputs at the edge of what JSON carries.


def record_with(path: tuple[str, ...], value: Any) -> Record:
    """{"id": "a1"} with value placed at path, e.g. {"extra_info": {"common": {"progress": v}}}."""
    record: Record = {"id": "a1"}
    node = record
    for key in path[:-1]:
        node = node.setdefault(key, {})
    node[path[-1]] = value
    return record


year_edges = st.datetimes(
    min_value=datetime(1, 1, 1), max_value=datetime(1, 1, 1, 23, 59)
) | st.datetimes(min_value=datetime(9999, 12, 31), max_value=datetime(9999, 12, 31, 23, 59))


def in_utc(moment: datetime) -> datetime | None:
    """The moment in UTC, or None when that falls outside years 1-9999."""
    try:
        return moment.astimezone(UTC)
    except OverflowError:
        return None


@PROPERTY_SETTINGS
@given(path=st.sampled_from(TIMESTAMP_PATHS), moment=year_edges, offset=offsets)
@example(path=("created_at",), moment=datetime(1, 1, 1), offset=timezone(timedelta(hours=1)))
@example(
    path=("created_at",), moment=datetime(9999, 12, 31, 23), offset=timezone(-timedelta(hours=1))
)
def test_a_timestamp_whose_utc_time_leaves_the_datetime_range_is_nulled_and_counted(
    path: tuple[str, ...], moment: datetime, offset: timezone
) -> None:
    # GIVEN "0001-01-01T00:00:00+01:00" (UTC would be year 0) or a time near either edge
    aware = moment.replace(tzinfo=offset)
    record = {"id": "a1", path[0]: aware.isoformat()}
    # WHEN flattened
    row, report = run(record)
    as_arrow_row(row)
    # THEN a time outside years 1-9999 in UTC is nulled and counted, any other is kept in UTC
    expected = in_utc(aware)
    assert row[path[0]] == expected
    assert (path[0] in report.nulled) == (expected is None)


@PROPERTY_SETTINGS
@given(path=st.sampled_from(INTEGER_PATHS), digits=st.integers(PYTHON_INT_DIGITS + 1, 20_000))
@example(path=("extra_info", "common", "progress"), digits=PYTHON_INT_DIGITS + 1)
def test_integer_text_too_long_for_python_is_nulled_and_counted(
    path: tuple[str, ...], digits: int
) -> None:
    # GIVEN {"extra_info": {"common": {"progress": "1111…"}}} (4301 digits, valid JSON string)
    record = record_with(path, "1" * digits)
    # WHEN flattened THEN the value, out of any integer column's range, is nulled and counted
    row, report = run(record)
    as_arrow_row(row)
    assert row["__".join(path)] is None and ".".join(path) in report.nulled


containers_with_a_surrogate = st.sampled_from(LONE_SURROGATES).flatmap(
    lambda surrogate: st.sampled_from(
        [[surrogate], {"k": surrogate}, {surrogate: 1}, [[surrogate]]]
    )
)


@PROPERTY_SETTINGS
@given(path=st.sampled_from(STRING_PATHS), value=containers_with_a_surrogate)
@example(path=("status",), value={"a": "\ud800"})
def test_a_container_with_a_lone_surrogate_in_a_string_column_becomes_utf8_text(
    path: tuple[str, ...], value: Any
) -> None:
    # GIVEN {"status": {"a": "\ud800"}} as json.loads reads '{"status": {"a": "\\ud800"}}'
    record = record_with(path, value)
    # WHEN flattened THEN the value is coerced to JSON text that is valid UTF-8, like a scalar
    row, report = run(record)
    text = as_arrow_row(row)["__".join(path)]
    assert isinstance(text, str) and is_utf8(text)
    assert ".".join(path) in report.coerced


def test_a_nested_list_with_a_lone_surrogate_in_a_string_list_becomes_utf8_text() -> None:
    # GIVEN exclude_volumes [["\ud800"]]: a list element that is itself a list with a surrogate
    volumes = json.loads('[["\\ud800"]]')
    record = {"id": "a1", "extra_info": {"resource": {"extra_info": {"exclude_volumes": volumes}}}}
    # WHEN flattened THEN the element is coerced to JSON text that is valid UTF-8
    row, report = run(record)
    (text,) = as_arrow_row(row)["extra_info__resource__extra_info__exclude_volumes"]
    assert isinstance(text, str) and is_utf8(text)
    assert "extra_info.resource.extra_info.exclude_volumes[]" in report.coerced
