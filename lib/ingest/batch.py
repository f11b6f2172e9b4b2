"""Pure: a batch of operation_log records -> one Arrow table of the operation_logs schema, in C++.

The records' texts are read together as NDJSON by pyarrow's JSON reader against the nested schema
derived from `SOURCE_COLUMNS` (timestamps read as text, then cast column by column), and the struct
columns are flattened to the `__` names. `raw_json` is each record's original text.

Whatever that reader refuses (type drift such as "45", 45.0, true or an object where the schema
says otherwise, integer overflow, duplicate keys) fails its whole read, so a failed read is split
into FANOUT chunks and read again, and a chunk of at most MIN_CHUNK records that still fails takes
the per-record path (`lib.ingest.flatten.flatten`). Texts the reader would accept although the
per-record path does not, or would read differently (invalid UTF-8, lone surrogate escapes, NaN
and Infinity, nesting deep enough to exhaust its recursion, anything but one object), never reach
it. So every row, and every drift/nulled count, is what the per-record path gives for that record.

Row identity: the lake names files by `id` + `updated_at` only, so a row's identity does not depend
on how `raw_json` is spelled; rows written before (re-serialised `raw_json`) and after (original
text) with the same `id` and `updated_at` are the same row. `history_key` gives the spelling-free
key of a snapshot for whoever must tell snapshots apart by content (compaction's history mode).
"""

from __future__ import annotations

import hashlib
import io
import itertools
import json
import re
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pj

from lib.core.schema import OPERATION_LOGS_SCHEMA, SOURCE_COLUMNS, STRING, TIMESTAMP, Column
from lib.ingest.flatten import FlattenReport, converter_for, flatten

FANOUT = 16  # a failed read is retried as this many chunks
MIN_CHUNK = 64  # a failing chunk this small takes the per-record path
BLOCK_BYTES = 4 << 20  # the reader's block: larger than its default, fewer blocks to stitch
READ_BYTES = 8 << 20  # texts read at once: bounds the reader's transient memory
MAX_OPENINGS = 1000  # more `{` and `[` than this: per record (the reader recurses and
# crashes beyond about 8,000 levels)
_WHITESPACE = b" \t\r\n"
# Timestamp spellings the vectorised cast reads exactly as `parse_utc` does: year 0001-9999, `T`
# or space, 1-6 fraction digits, `Z`, an offset under 24 h, or no zone (UTC). Others go to Python.
_DAY_TIME = (
    r"^([1-9][0-9]{3}|0[1-9][0-9]{2}|00[1-9][0-9]|000[1-9])-[0-9]{2}-[0-9]{2}"
    r"[T ][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,6})?"
)
_ZONE = r"(Z|[+-]([01][0-9]|2[0-3]):[0-5][0-9])"
_NAIVE, _ZONED = f"{_DAY_TIME}$", f"{_DAY_TIME}{_ZONE}$"
_FIRST = datetime(1, 1, 1, tzinfo=UTC)
_LAST = datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)
# Tokens the reader takes and JSON has not
_NON_FINITE = re.compile(rb"[:,\[][ \t\r\n]*-?(?:NaN|Inf)")

Decode = Callable[[bytes], Any]


@dataclass(frozen=True)
class Record:
    """One operation_log: decoded, as text, or both.

    `text` is the object's JSON exactly as the API sent it (None when unknown: `raw_json` is then
    re-serialised, as the per-record path does); `log` is the decoded object when the caller has
    it (else the text is decoded only if the record takes the per-record path)."""

    log: dict[str, Any] | None
    text: bytes | None
    source_message_id: str | None = None


@dataclass
class BatchTable:
    """The rows of a batch and what building them noticed, as the per-record path counts it."""

    table: pa.Table  # OPERATION_LOGS_SCHEMA; the decodable records, in input order
    undecodable: tuple[int, ...] = ()  # records whose text is not one JSON object (no row)
    drift_paths: Counter[str] = field(default_factory=Counter)
    nulled_paths: Counter[str] = field(default_factory=Counter)
    coerced_paths: Counter[str] = field(default_factory=Counter)
    per_record: int = 0  # records that took the per-record path

    @property
    def drift(self) -> int:
        return sum(self.drift_paths.values())

    @property
    def nulled(self) -> int:
        return sum(self.nulled_paths.values())


def read_schema(columns: Sequence[Column] = SOURCE_COLUMNS) -> pa.Schema:
    """The nested shape of an operation_log, derived from the columns; timestamps as text."""
    tree: dict[str, Any] = {}
    for column in columns:
        node = tree
        for key in column.path[:-1]:
            node = node.setdefault(key, {})
        node[column.path[-1]] = STRING if pa.types.is_timestamp(column.type) else column.type
    return pa.schema(_fields(tree))


def _fields(tree: dict[str, Any]) -> list[pa.Field]:
    return [
        pa.field(key, pa.struct(_fields(value)) if isinstance(value, dict) else value)
        for key, value in tree.items()
    ]


READ_SCHEMA = read_schema()
_PARSE = pj.ParseOptions(explicit_schema=READ_SCHEMA, unexpected_field_behavior="infer")
_TO_TIMESTAMP = converter_for(TIMESTAMP)


def history_key(log: dict[str, Any]) -> str:
    """A snapshot's content key that ignores how its JSON was spelled: SHA-256 of the canonical
    (sorted keys, compact) JSON of the decoded object. Which of the two encoders serves depends
    on the content only (orjson refuses integers beyond 64 bits and lone surrogates)."""
    try:
        canonical = orjson.dumps(log, option=orjson.OPT_SORT_KEYS)
    except TypeError:
        canonical = json.dumps(log, sort_keys=True, separators=(",", ":")).encode()
    return hashlib.sha256(canonical).hexdigest()


def to_table(records: Sequence[Record], *, ingested_at: datetime, decode: Decode) -> BatchTable:
    """One table for the batch. `decode` turns a text into a JSON value (the fetch step's own
    decoder, so that the per-record path reads exactly what it reads today)."""
    build = _Build(records, ingested_at, decode)
    fast, slow = build.screen()
    for group in _groups(fast, build.texts):
        for indices, raw, lines in build.read(group):
            build.add_read(indices, raw, lines)
    for index in slow:
        build.add_record(index)
    return build.finish()


def _groups(indices: list[int], texts: pa.Array) -> Iterator[list[int]]:
    """Consecutive runs of records of at most READ_BYTES of text (at least one record each)."""
    sizes = pc.binary_length(texts).take(pa.array(indices, pa.int64())).to_pylist()
    group: list[int] = []
    total = 0
    for index, size in zip(indices, sizes, strict=True):
        if group and total + size > READ_BYTES:
            yield group
            group, total = [], 0
        group.append(index)
        total += size
    if group:
        yield group


def _screen(texts: pa.Array) -> pa.Array:
    """Texts the reader may take: one object each, nested less deep than can crash it."""
    ok = pc.fill_null(pc.and_(pc.starts_with(texts, "{"), pc.ends_with(texts, "}")), False)
    long = pc.greater(pc.binary_length(texts), 2 * MAX_OPENINGS)  # else it cannot nest deeper
    if not pc.any(long).as_py():
        return ok
    deep = [False] * len(texts)
    for index in pc.indices_nonzero(long).to_pylist():
        deep[index] = _openings(texts[index].as_py()) > MAX_OPENINGS
    return pc.and_(ok, pc.invert(pa.array(deep, pa.bool_())))


def _openings(text: bytes) -> int:
    return text.count(b"{") + text.count(b"[")


def _non_finite(raw: pa.Table, texts: list[bytes]) -> bool:
    """Whether the reader took NaN or Infinity (JSON has neither) as a number: only a field the
    schema does not know can hold one without failing the read, as an inferred float."""
    inferred = [f.type for f in raw.schema if f.name not in READ_SCHEMA.names]
    inferred += [raw.schema.field(n).type for n in READ_SCHEMA.names if n in raw.column_names]
    if not any(_has_float(t) for t in inferred):
        return False
    return any((b"NaN" in t or b"Inf" in t) and _NON_FINITE.search(t) for t in texts)


def _has_float(type_: pa.DataType) -> bool:
    if pa.types.is_floating(type_):
        return True
    if pa.types.is_list(type_):
        return _has_float(type_.value_type)
    return pa.types.is_struct(type_) and any(_has_float(f.type) for f in type_)


def _one_line_each(texts: list[bytes]) -> bytes | None:
    """NDJSON of texts that span lines (newlines outside strings are whitespace, and JSON
    strings hold none); None when every text is on one line already."""
    if not any(b"\n" in text or b"\r" in text for text in texts):
        return None
    return b"\n".join([text.replace(b"\n", b" ").replace(b"\r", b" ") for text in texts])


def _read(lines: bytes, longest: int) -> pa.Table | None:
    """The NDJSON as read against the schema, or None when the reader refuses it."""
    options = pj.ReadOptions(block_size=max(BLOCK_BYTES, 2 * longest + 2))
    try:
        table = pj.read_json(io.BytesIO(lines), read_options=options, parse_options=_PARSE)
        table.validate()  # the reader can build an invalid list of inferred nulls
    except pa.ArrowInvalid:
        return None
    return table


def _binary(texts: list[bytes]) -> pa.Array:
    """The texts as one binary array over their joined bytes (`pa.array` of a list of bytes
    peaks at several times the data's size)."""
    offsets = pa.array(itertools.accumulate(map(len, texts), initial=0), pa.int64())
    data = pa.py_buffer(b"".join(texts))
    return pa.Array.from_buffers(pa.large_binary(), len(texts), [None, offsets.buffers()[1], data])


def _utf8(text: bytes) -> bool:
    try:
        text.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


class _Build:
    """The state of one `to_table` call: parts read in C++, rows built per record."""

    def __init__(self, records: Sequence[Record], ingested_at: datetime, decode: Decode) -> None:
        self.records, self.ingested_at, self.decode = records, ingested_at, decode
        self.result = BatchTable(pa.table({}))
        self.texts = _binary([r.text or b"" for r in records])
        self.parts: list[tuple[list[int], pa.Table]] = []
        self.rows: list[dict[str, Any]] = []
        self.row_indices: list[int] = []
        self.undecodable: list[int] = []
        self.late: list[int] = []  # records of chunks the reader refused
        self.utf8 = [True] * len(records)
        self.escapes: pa.Array | None = None

    def screen(self) -> tuple[list[int], list[int]]:
        """Records the reader may take, and the rest."""
        try:
            self.texts.cast(STRING)  # one UTF-8 check for the whole batch
        except pa.ArrowInvalid:
            self.utf8 = [r.text is None or _utf8(r.text) for r in self.records]
        taken = _screen(self.texts)
        if not all(self.utf8):
            taken = pc.and_(taken, pa.array(self.utf8))
        fast = pc.indices_nonzero(taken).to_pylist()
        if len(fast) == len(self.records):
            return fast, []
        chosen = set(fast)
        return fast, [i for i in range(len(self.records)) if i not in chosen]

    def read(self, indices: list[int]) -> Iterator[tuple[list[int], pa.Table, bytes]]:
        """(records, table, NDJSON) for every chunk the reader takes whole; the rest go per
        record."""
        if not indices:
            return
        texts = [self.records[i].text or b"" for i in indices]
        lines, longest = b"\n".join(texts), max(map(len, texts))
        table = _read(lines, longest)
        if table is None or table.num_rows != len(indices):  # pretty-printed texts, perhaps
            spread = _one_line_each(texts)
            if spread is not None:
                lines, table = spread, _read(spread, longest)
        if table is not None and table.num_rows == len(indices) and not _non_finite(table, texts):
            yield indices, table, lines
        elif len(indices) <= MIN_CHUNK:
            self.late += indices
        else:
            size = -(-len(indices) // FANOUT)
            for start in range(0, len(indices), size):
                yield from self.read(indices[start : start + size])

    def add_read(self, indices: list[int], raw: pa.Table, lines: bytes) -> None:
        """A chunk as read -> its part of the table, and its counts."""
        nulled: Counter[str] = Counter()
        try:
            tops = {name: raw.column(name).combine_chunks() for name in raw.column_names}
            columns = [_column(tops, column, nulled) for column in SOURCE_COLUMNS]
            drift = self._drift(indices, tops, lines)
        except pa.ArrowException:  # not expected; the per-record path gives the same rows
            self.late += indices
            return
        self.result.nulled_paths.update(nulled)
        self.result.drift_paths.update(drift)
        self.parts.append((indices, pa.table(columns, names=[c.name for c in SOURCE_COLUMNS])))

    def _drift(self, indices: list[int], tops: dict[str, pa.Array], lines: bytes) -> Counter[str]:
        """Unknown keys, counted from the inferred columns. A key whose value is null cannot be
        told from an absent key there: unless the chunk spells the key no more often than it
        has values, the records whose text may spell it are decoded and walked."""
        drift: Counter[str] = Counter()
        found = list(_unknown(tops, pa.array(range(len(indices)), pa.int64())))
        if not found:
            return drift
        values = Counter[str]()
        for _path, key, present, _maybe in found:
            values[key] += len(present)
        counted = {key for key in values if self._spelled_only(key, values[key], indices, lines)}
        texts = self._texts_of(indices)
        exact = pa.repeat(False, len(indices))
        for _path, key, _present, maybe in found:
            if len(maybe) and key not in counted:
                spelled = _may_spell(texts.take(maybe), key)
                exact = pc.or_(exact, _scatter(maybe.filter(spelled), len(indices)))
        skip = pc.indices_nonzero(exact)
        for row in skip.to_pylist():
            drift.update(self._report(indices[row]).drift)
        for path, _key, present, _maybe in found:
            if len(skip):
                present = present.filter(pc.invert(pc.is_in(present, skip)))
            if len(present):
                drift[path] += len(present)
        return drift

    def _spelled_only(self, key: str, values: int, indices: list[int], lines: bytes) -> bool:
        """Whether the chunk spells the key exactly as often as it has values for it (so no
        record holds it with a null value), with no escape that could spell it otherwise."""
        literal = orjson.dumps(key)
        if literal[1:-1] != key.encode() or not key.isascii() or "/" in key:
            return False
        if lines.count(literal) != values:
            return False
        return not pc.any(self._ascii_escapes().take(pa.array(indices, pa.int64()))).as_py()

    def _ascii_escapes(self) -> pa.Array:
        """Per record: whether its text has a `\\u00XX` escape of an ASCII character."""
        if self.escapes is None:
            found = pc.match_substring_regex(self.texts, r"\\u00[0-7]")
            self.escapes = pc.fill_null(found, True)
        return self.escapes

    def _texts_of(self, indices: list[int]) -> pa.Array:
        """The texts of these records (ascending): a slice, without copying, when they are
        consecutive, as they are unless some records took the per-record path."""
        if indices[-1] - indices[0] + 1 == len(indices):
            return self.texts.slice(indices[0], len(indices))
        return self.texts.take(pa.array(indices, pa.int64()))

    def _report(self, index: int) -> FlattenReport:
        log = self._log(index)
        if log is None:  # not expected: the reader took its text, so it is one JSON object
            return FlattenReport()
        return flatten(log, ingested_at=self.ingested_at, source_message_id=None)[1]

    def _log(self, index: int) -> dict[str, Any] | None:
        record = self.records[index]
        if record.log is not None:
            return record.log
        try:
            log = self.decode(record.text or b"")
        except (ValueError, RecursionError):
            return None
        return log if isinstance(log, dict) else None

    def add_record(self, index: int) -> None:
        """The per-record path; `raw_json` is still the original text when there is one."""
        log = self._log(index)
        if log is None:
            self.undecodable.append(index)
            return
        record = self.records[index]
        row, report = flatten(
            log, ingested_at=self.ingested_at, source_message_id=record.source_message_id
        )
        text = record.text
        if text is not None and self.utf8[index] and text[:1] == b"{" and text[-1:] == b"}":
            row["raw_json"] = text.decode("utf-8")
        self.rows.append(row)
        self.row_indices.append(index)
        self.result.drift_paths.update(report.drift)
        self.result.nulled_paths.update(report.nulled)
        self.result.coerced_paths.update(report.coerced)

    def finish(self) -> BatchTable:
        for index in self.late:
            self.add_record(index)
        tables, order = [], []
        for indices, part in self.parts:
            tables.append(self._with_lineage(indices, part))
            order += indices
        if self.rows:
            tables.append(pa.Table.from_pylist(self.rows, schema=OPERATION_LOGS_SCHEMA))
            order += self.row_indices
        table = pa.concat_tables(tables) if tables else OPERATION_LOGS_SCHEMA.empty_table()
        if order != sorted(order):
            table = table.take(pc.sort_indices(pa.array(order, pa.int64())))
        self.result.table = table
        self.result.undecodable = tuple(sorted(self.undecodable))
        self.result.per_record = len(self.rows) + len(self.undecodable)
        return self.result

    def _with_lineage(self, indices: list[int], part: pa.Table) -> pa.Table:
        raw = self._texts_of(indices).cast(STRING)
        moments = pa.repeat(pa.scalar(self.ingested_at, TIMESTAMP), len(indices))
        sources = pa.array([self.records[i].source_message_id for i in indices], STRING)
        columns = [*part.columns, raw, moments, sources]
        return pa.Table.from_arrays(columns, schema=OPERATION_LOGS_SCHEMA)


def _may_spell(texts: pa.Array, key: str) -> pa.Array:
    """Whether each text may spell this key: literally, or through an escape that could stand
    for one of its characters (any `\\u` escape, `\\/`, or, for a key of other characters,
    any escape at all)."""
    literal = orjson.dumps(key).decode()
    if literal[1:-1] != key:  # the key holds characters JSON must escape
        return pc.invert(pc.is_null(texts))
    escape = r"\\u00[0-7]" if key.isascii() else r"\\u"
    if "/" in key:
        escape += r"|\\/"
    spelled = pc.match_substring_regex(texts, re.escape(literal))  # RE2 finds a literal fast
    spelled = pc.or_(spelled, pc.match_substring_regex(texts, escape))
    return pc.fill_null(spelled, True)


def _scatter(rows: pa.Array, size: int) -> pa.Array:
    """A mask of `size` entries, true at the given positions."""
    mask = [False] * size
    for row in rows.to_pylist():
        mask[row] = True
    return pa.array(mask)


def _unknown(
    tops: dict[str, pa.Array], rows: pa.Array
) -> Iterator[tuple[str, str, pa.Array, pa.Array]]:
    """(path, key, rows where it has a value, rows where it may be null) for every key the
    schema does not know, one row entry per occurrence (a list element counts on its own)."""
    for name, column in tops.items():
        if name not in READ_SCHEMA.names:
            yield name, name, rows.filter(column.is_valid()), rows.filter(column.is_null())
        elif column.type != READ_SCHEMA.field(name).type:
            yield from _unknown_in(column, READ_SCHEMA.field(name).type, name, rows)


def _unknown_in(
    array: pa.Array, expected: pa.DataType, path: str, rows: pa.Array
) -> Iterator[tuple[str, str, pa.Array, pa.Array]]:
    if pa.types.is_list(array.type):
        elements = pc.list_flatten(array)
        parents = rows.take(pc.list_parent_indices(array))
        yield from _unknown_in(elements, expected.value_type, f"{path}[]", parents)
        return
    known = {f.name: f.type for f in expected}
    is_object = array.is_valid()
    for position, child in enumerate(array.type):
        values = pc.struct_field(array, [position])
        if child.name not in known:
            maybe = pc.and_(is_object, values.is_null())
            child_path = f"{path}.{child.name}"
            yield child_path, child.name, rows.filter(values.is_valid()), rows.filter(maybe)
        elif child.type != known[child.name]:
            yield from _unknown_in(values, known[child.name], f"{path}.{child.name}", rows)


def _column(tops: dict[str, pa.Array], column: Column, nulled: Counter[str]) -> pa.Array:
    """One lake column from the columns as read: struct fields flattened, types declared."""
    values: Any = tops[column.path[0]]
    for key in column.path[1:]:
        values = pc.struct_field(values, [values.type.get_field_index(key)])
    if pa.types.is_timestamp(column.type):
        return _timestamps(values, ".".join(column.path), nulled)
    return values if values.type == column.type else values.cast(column.type)


def _timestamps(text: pa.Array, path: str, nulled: Counter[str]) -> pa.Array:
    """Text -> timestamp[us, UTC]: common spellings cast in C++, the rest through `parse_utc`."""
    naive = pc.fill_null(pc.match_substring_regex(text, _NAIVE), False)
    canonical = pc.or_(naive, pc.fill_null(pc.match_substring_regex(text, _ZONED), False))
    spelled = pc.if_else(naive, pc.binary_join_element_wise(text, "Z", ""), text)  # UTC
    try:
        moments = pc.if_else(canonical, spelled, pa.scalar(None, STRING)).cast(TIMESTAMP)
        inside = pc.and_(
            pc.greater_equal(moments, pa.scalar(_FIRST, TIMESTAMP)),
            pc.less_equal(moments, pa.scalar(_LAST, TIMESTAMP)),
        )
        done = pc.fill_null(pc.and_(canonical, inside), False)
    except pa.ArrowInvalid:  # a spelling of a day or time that does not exist: all in Python
        moments, done = pa.nulls(len(text), TIMESTAMP), pa.repeat(False, len(text))
    rest = pc.and_(pc.and_(text.is_valid(), pc.invert(done)), pc.not_equal(text, ""))
    rest = pc.fill_null(rest, False)
    if not pc.any(rest).as_py():
        return pc.if_else(done, moments, pa.scalar(None, TIMESTAMP))
    report = FlattenReport()
    parsed = [_TO_TIMESTAMP(value, path, report) for value in text.filter(rest).to_pylist()]
    nulled.update(report.nulled)
    moments = pc.if_else(done, moments, pa.scalar(None, TIMESTAMP))
    return pc.replace_with_mask(moments, rest, pa.array(parsed, TIMESTAMP))
