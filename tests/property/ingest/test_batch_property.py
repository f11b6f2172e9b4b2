"""The batch Arrow path gives what the per-record path gives, table by table.

For the sample logs, the hostile answers, generated logs of both bench generators and
hypothesis-built records with drift and wrong types (the flatten property test's strategies),
spelled as an API might (compact, spaced, indented, escaped or not), both paths run on the same
texts: the per-record path decodes each text as the fetch step does and flattens it, the batch
path reads them together. Every column must be equal, `raw_json` JSON-equal (the batch keeps the
original spelling), the drift, nulled and coerced counts equal, and the same records undecodable.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import random
import sys
from collections import Counter
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lib.cbr.texts import operation_log_text
from lib.core.jsontext import MAX_DEPTH, content_key, decode_json, deeper_than
from lib.core.schema import OPERATION_LOGS_SCHEMA
from lib.ingest.batch import FANOUT, MIN_CHUNK, Record, to_table
from lib.ingest.flatten import FlattenReport, flatten

from conftest import FIXTURE_LOGS, ROOT
from hostile import HOSTILE_ANSWERS

INGESTED = datetime(2026, 11, 27, 6, 0, tzinfo=UTC)
SETTINGS = settings(
    max_examples=120,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def _module(path: Path, name: str) -> Any:
    """A module by file (tests/ and bench/ are no packages)."""
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


FLATTEN_PROPERTIES = _module(
    Path(__file__).with_name("test_flatten_property.py"), "batch_flatten_strategies"
)
GENERATORS = _module(ROOT / "bench" / "generate.py", "batch_bench_generate").GENERATORS

# The two paths -----------------------------------------------------------------------------------


def per_record(texts: list[bytes]) -> tuple[pa.Table, FlattenReport, list[int]]:
    """Today's path: decode each text as the fetch step does, flatten it, convert the rows."""
    rows, report, undecodable = [], FlattenReport(), []
    for n, text in enumerate(texts):
        try:
            log = decode_json(text)
        except (ValueError, RecursionError):
            log = None
        if not isinstance(log, dict):
            undecodable.append(n)
            continue
        row, noticed = flatten(log, ingested_at=INGESTED, source_message_id=f"m{n}")
        rows.append(row)
        for name in ("drift", "nulled", "coerced"):
            getattr(report, name).extend(getattr(noticed, name))
    return pa.Table.from_pylist(rows, schema=OPERATION_LOGS_SCHEMA), report, undecodable


def records_of(texts: list[bytes], *, with_logs: bool = False) -> list[Record]:
    return [
        Record(decode_json(text) if with_logs else None, text, f"m{n}")
        for n, text in enumerate(texts)
    ]


def assert_same(texts: list[bytes], *, with_logs: bool = False) -> int:
    """Both paths over the texts agree; returns how many records the batch took per record."""
    expected, report, undecodable = per_record(texts)
    batch = to_table(records_of(texts, with_logs=with_logs), ingested_at=INGESTED, decode=_decode)
    got = batch.table
    assert got.schema == OPERATION_LOGS_SCHEMA
    assert list(batch.undecodable) == undecodable
    assert got.num_rows == expected.num_rows
    for name in OPERATION_LOGS_SCHEMA.names:
        if name == "raw_json":
            continue
        left, right = expected[name].combine_chunks(), got[name].combine_chunks()
        assert left.equals(right), (name, _first_difference(left, right))
    decoded = [n for n in range(len(texts)) if n not in set(undecodable)]
    pairs = zip(decoded, expected["raw_json"].to_pylist(), got["raw_json"].to_pylist(), strict=True)
    for n, mine, theirs in pairs:
        if deeper_than(texts[n], MAX_DEPTH):
            # Today's path keeps parts deeper than MAX_DEPTH as text; the batch path keeps the
            # record's original text (or, handed a decoded log, does as today's path does).
            assert theirs in (texts[n].decode(), mine)
        else:
            assert mine == theirs or _content(mine) == _content(theirs)
    assert batch.drift_paths == Counter(report.drift)
    assert batch.nulled_paths == Counter(report.nulled)
    assert batch.coerced_paths == Counter(report.coerced)
    assert (batch.drift, batch.nulled) == (len(report.drift), len(report.nulled))
    return batch.per_record


def _content(text: str) -> Any:
    """What a raw_json holds, whatever its spelling: numbers of any size read exactly."""
    return json.loads(text, parse_int=Decimal, parse_float=Decimal)


def _decode(text: bytes) -> Any:
    return decode_json(text)


def _first_difference(left: pa.Array, right: pa.Array) -> Any:
    pairs = zip(left.to_pylist(), right.to_pylist(), strict=True)
    return next(((n, a, b) for n, (a, b) in enumerate(pairs) if a != b), None)


def spellings(log: Any) -> list[bytes]:
    """The ways an API might write one object (only those that are valid UTF-8)."""
    texts = [
        json.dumps(log).encode(),
        json.dumps(log, separators=(",", ":")).encode(),
        json.dumps(log, indent=2).encode(),
    ]
    with contextlib.suppress(UnicodeEncodeError):  # a lone surrogate can only be sent escaped
        texts.append(json.dumps(log, ensure_ascii=False, separators=(",", ":")).encode())
    return texts


# Fixed corpora -----------------------------------------------------------------------------------


def test_the_sample_logs_read_alike_from_their_bodies() -> None:
    bodies = [path.read_bytes() for path in sorted(FIXTURE_LOGS.glob("*.json"))]
    texts = [operation_log_text(body) for body in bodies]
    assert all(text is not None for text in texts)
    assert assert_same(texts) == 0  # pretty-printed, with drift: all read in C++
    assert assert_same(texts, with_logs=True) == 0


def test_the_hostile_answers_read_alike() -> None:
    texts = [operation_log_text(body.encode()) for body in HOSTILE_ANSWERS.values()]
    assert all(text is not None for text in texts)
    assert_same(texts)
    assert_same(texts, with_logs=True)


@pytest.mark.parametrize("generator", sorted(GENERATORS))
def test_generated_logs_read_alike_in_every_spelling(generator: str) -> None:
    logs = GENERATORS[generator](600, seed=5, days=3)
    for spelled in zip(*(spellings(log) for log in logs), strict=True):
        assert assert_same(list(spelled)) == 0


UNDECODABLE = [
    b"null",
    b"[]",
    b'"text"',
    b"",
    b'{"id": "a", "x": NaN}',
    b'{"id": "a", "x": -Infinity}',
    b'{"id": "a"} {"id": "b"}',
    b'{"id": "a"}, "other": {}',
    b'{"id": "caf\xe9"}',  # Latin-1, not UTF-8
    b'{"id": "a"',
]


def test_texts_that_are_not_one_json_object_are_undecodable_as_today() -> None:
    good = json.dumps({"id": "ok", "created_at": "2026-11-20T10:00:00Z"}).encode()
    texts = [good, *UNDECODABLE, good]
    assert_same(texts)
    batch = to_table(records_of(texts), ingested_at=INGESTED, decode=_decode)
    assert batch.table["id"].to_pylist() == ["ok", "ok"]


def test_numbers_no_float_holds_and_extreme_nesting_still_make_rows() -> None:
    """Once refused (and redelivered for ever): now kept, deep parts and huge numbers as text."""
    texts = [b'{"id": "a", "x": 1e400}', b'{"zz":' + b"[" * 20_000 + b"]" * 20_000 + b"}"]
    assert assert_same(texts) == 2  # both past what the batch reader takes: today's path
    batch = to_table(records_of(texts), ingested_at=INGESTED, decode=_decode)
    assert batch.table["id"].to_pylist() == ["a", None] and not batch.undecodable


# Generated records -------------------------------------------------------------------------------

spelled_records = st.tuples(FLATTEN_PROPERTIES.records, st.integers(0, 3)).map(
    lambda pair: spellings(pair[0])[pair[1] % len(spellings(pair[0]))]
)


@SETTINGS
@given(texts=st.lists(spelled_records, min_size=1, max_size=10))
def test_any_records_with_drift_and_wrong_types_read_alike(texts: list[bytes]) -> None:
    assert_same(texts)


@settings(SETTINGS, max_examples=40)
@given(
    odd=st.lists(spelled_records, min_size=0, max_size=6),
    seed=st.integers(0, 2**32),
    generator=st.sampled_from(sorted(GENERATORS)),
)
def test_odd_records_scattered_through_a_large_batch_cost_only_their_chunks(
    odd: list[bytes], seed: int, generator: str
) -> None:
    size = MIN_CHUNK * FANOUT // 2  # split once, each chunk then small enough to go per record
    rng = random.Random(seed)
    texts = [json.dumps(log).encode() for log in GENERATORS[generator](size, seed=seed % 97)]
    for text in odd:
        texts.insert(rng.randrange(len(texts) + 1), text)
    taken_per_record = assert_same(texts)
    assert taken_per_record <= len(odd) * -(-len(texts) // FANOUT)


@SETTINGS
@given(
    left=st.lists(FLATTEN_PROPERTIES.json_values(), max_size=3),
    right=st.lists(FLATTEN_PROPERTIES.json_values(), max_size=3),
)
def test_drift_keys_with_null_values_are_counted_like_the_per_record_path(
    left: list[Any], right: list[Any]
) -> None:
    # GIVEN unknown keys that are null in some records, absent in others, escaped in some
    logs: list[dict[str, Any]] = [{"id": "a", "zz": None}, {"id": "b"}, {"id": "c", "zz": 1}]
    logs += [{"id": "d", "extra_info": {"zz": None, "common": {"zz": left}}}]
    logs += [{"id": "e", "extra_info": {"remove_resources": {"resources": [{"zz": None}, {}]}}}]
    logs += [{"id": "f", "extra_info": {"zz": right}}]
    texts = [json.dumps(log).encode() for log in logs]
    texts.append(b'{"id": "g", "z\\u007a": null}')  # "zz", spelled with an escape
    texts.append(b'{"id": "h", "\\u00e9": null, "\xc3\xa9x": null}')
    # THEN the counts are the per-record path's, key by key
    assert_same(texts)


def test_the_content_key_ignores_the_spelling() -> None:
    log = json.loads(HOSTILE_ANSWERS["wrong-types"])["operation_log"]
    keys = {content_key(decode_json(text)) for text in spellings(log)}
    assert len(keys) == 1
    assert content_key({**log, "status": "other"}) not in keys


@SETTINGS
@given(record=FLATTEN_PROPERTIES.records)
def test_the_content_key_is_the_same_for_every_spelling_of_a_record(record: dict[str, Any]) -> None:
    keys = {content_key(decode_json(text)) for text in spellings(record)}
    assert len(keys) == 1
