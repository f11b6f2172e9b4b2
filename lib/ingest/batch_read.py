"""Pure: pyarrow's JSON reader on the batch path's side: the nested shape it reads against,
reading NDJSON, turning what it read into lake columns, and finding the keys the schema does not
know in it. `lib.ingest.batch` decides what is read and what goes per record.
"""

from __future__ import annotations

import io
import re
from collections import Counter
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pj

from lib.core.schema import SOURCE_COLUMNS, STRING, TIMESTAMP, Column
from lib.ingest.flatten import FlattenReport, converter_for

BLOCK_BYTES = 4 << 20  # the reader's block: larger than its default, fewer blocks to stitch
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
PARSE_OPTIONS = pj.ParseOptions(explicit_schema=READ_SCHEMA, unexpected_field_behavior="infer")
_TO_TIMESTAMP = converter_for(TIMESTAMP)


def non_finite(raw: pa.Table, texts: list[bytes]) -> bool:
    """Whether the reader took NaN or Infinity (JSON has neither) as a number: only a field the
    schema does not know can hold one without failing the read, as an inferred float."""
    inferred = [f.type for f in raw.schema if f.name not in READ_SCHEMA.names]
    inferred += [raw.schema.field(n).type for n in READ_SCHEMA.names if n in raw.column_names]
    if not any(_has_float(t) for t in inferred):
        return False
    return any((b"NaN" in t or b"Inf" in t) and _NON_FINITE.search(t) for t in texts)


def _has_float(type_: pa.DataType) -> bool:
    """Whether a float is anywhere in the type. A loop, not recursion: an inferred type nests as
    deep as the record (up to the batch path's MAX_OPENINGS), past the interpreter's limit."""
    pending = [type_]
    while pending:
        type_ = pending.pop()
        if pa.types.is_floating(type_):
            return True
        if pa.types.is_list(type_):
            pending.append(type_.value_type)
        elif pa.types.is_struct(type_):
            pending += [f.type for f in type_]
    return False


def one_line_each(texts: list[bytes]) -> bytes | None:
    """NDJSON of texts that span lines (newlines outside strings are whitespace, and JSON
    strings hold none); None when every text is on one line already."""
    if not any(b"\n" in text or b"\r" in text for text in texts):
        return None
    return b"\n".join([text.replace(b"\n", b" ").replace(b"\r", b" ") for text in texts])


def read_ndjson(lines: bytes, longest: int) -> pa.Table | None:
    """The NDJSON as read against the schema, or None when the reader refuses it."""
    options = pj.ReadOptions(block_size=max(BLOCK_BYTES, 2 * longest + 2))
    try:
        table = pj.read_json(io.BytesIO(lines), read_options=options, parse_options=PARSE_OPTIONS)
        table.validate()  # the reader can build an invalid list of inferred nulls
    except pa.ArrowInvalid:
        return None
    return table


def may_spell(texts: pa.Array, key: str) -> pa.Array:
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


def scatter(rows: pa.Array, size: int) -> pa.Array:
    """A mask of `size` entries, true at the given positions."""
    mask = [False] * size
    for row in rows.to_pylist():
        mask[row] = True
    return pa.array(mask)


def unknown_keys(
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


def lake_column(tops: dict[str, pa.Array], column: Column, nulled: Counter[str]) -> pa.Array:
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
