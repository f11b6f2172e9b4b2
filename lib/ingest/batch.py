"""Pure: a batch of operation_log records -> one Arrow table of the operation_logs schema, in C++.

The records' texts are read together as NDJSON by pyarrow's JSON reader against the nested schema
derived from `SOURCE_COLUMNS` (timestamps read as text, then cast column by column), and the struct
columns are flattened to the `__` names (`lib.ingest.batch_read`). `raw_json` is each record's
original text.

Whatever that reader refuses (type drift such as "45", 45.0, true or an object where the schema
says otherwise, integer overflow, duplicate keys, lone surrogates) fails its whole read, so a
failed read is split into FANOUT chunks and read again, and a chunk of at most MIN_CHUNK records
that still fails takes the per-record path (`lib.ingest.flatten.flatten`). Texts the reader would
accept although the per-record path does not, or would read differently (invalid UTF-8, NaN and
Infinity, nesting deep enough to exhaust its recursion, anything but one object), never reach it
or fail the chunk they are in. So every row, and every drift/nulled count, is what the per-record
path gives for that record.

Row identity: the lake names files by `id` + `updated_at` only, so a row's identity does not depend
on how `raw_json` is spelled; rows written before (re-serialised `raw_json`) and after (original
text) with the same `id` and `updated_at` are the same row. `lib.core.jsontext.content_key` gives
the spelling-free key of a snapshot for whoever must tell snapshots apart by content (compaction's
history mode).
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.compute as pc

from lib.core.schema import OPERATION_LOGS_SCHEMA, SOURCE_COLUMNS, STRING, TIMESTAMP
from lib.ingest.batch_read import (
    lake_column,
    may_spell,
    non_finite,
    one_line_each,
    read_ndjson,
    scatter,
    unknown_keys,
)
from lib.ingest.flatten import FlattenReport, flatten

FANOUT = 16  # a failed read is retried as this many chunks
MIN_CHUNK = 64  # a failing chunk this small takes the per-record path
READ_BYTES = 8 << 20  # texts read at once: bounds the reader's transient memory
MAX_OPENINGS = 1000  # more `{` and `[` than this: per record (the reader recurses and
# crashes beyond about 8,000 levels)

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
        table = read_ndjson(lines, longest)
        if table is None or table.num_rows != len(indices):  # pretty-printed texts, perhaps
            spread = one_line_each(texts)
            if spread is not None:
                lines, table = spread, read_ndjson(spread, longest)
        if table is not None and table.num_rows == len(indices) and not non_finite(table, texts):
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
            columns = [lake_column(tops, column, nulled) for column in SOURCE_COLUMNS]
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
        found = list(unknown_keys(tops, pa.array(range(len(indices)), pa.int64())))
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
                spelled = may_spell(texts.take(maybe), key)
                exact = pc.or_(exact, scatter(maybe.filter(spelled), len(indices)))
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
