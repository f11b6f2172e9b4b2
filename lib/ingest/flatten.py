"""Pure: one API `operation_log` object -> one row of the operation_logs schema.

No I/O here. Values of the wrong type are converted when that loses nothing, else set to null;
fields the schema does not know stay in `raw_json`. Both are counted in a `FlattenReport`, and
neither ever fails the row.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson
import pyarrow as pa

from lib.core.jsontext import compact_json, is_utf8, map_strings, orjson_default, utf8_safe
from lib.core.runtime import Scrub, no_scrub
from lib.core.schema import SOURCE_COLUMNS
from lib.core.times import parse_utc

_INTEGER_TEXT = re.compile(r"[+-]?[0-9]+")
_INT_BOUNDS = {8: 2**7, 16: 2**15, 32: 2**31, 64: 2**63}


@dataclass
class FlattenReport:
    """What flattening one record noticed, as dotted paths (`[]` marks a list element)."""

    drift: list[str] = field(default_factory=list)  # fields the schema does not know
    coerced: list[str] = field(default_factory=list)  # converted without loss
    nulled: list[str] = field(default_factory=list)  # could not be converted: set to null


Converter = Callable[[Any, str, FlattenReport], Any]


def raw_json(value: Any) -> str:
    """The record as compact JSON with non-ASCII kept (orjson: several times faster than json).

    A number no float holds is written as it was received (`RawNumber`). orjson refuses lone
    surrogates and integers beyond 64 bits; those records take the standard library, with ASCII
    escapes when the text would not be valid UTF-8.
    """
    try:
        return orjson.dumps(value, default=orjson_default).decode()
    except TypeError:
        pass
    text = compact_json(value)
    return text if is_utf8(text) else compact_json(value, ascii_only=True)


def _to_string(value: Any, path: str, report: FlattenReport) -> str | None:
    if isinstance(value, str):
        if is_utf8(value):
            return value
        report.coerced.append(path)  # a lone surrogate from a JSON escape: Parquet needs UTF-8
        return utf8_safe(value)
    if isinstance(value, float) and not math.isfinite(value):
        report.nulled.append(path)
        return None
    report.coerced.append(path)
    text = compact_json(value)  # true -> "true", 5 -> "5", 5.0 -> "5.0", {} -> "{}"
    return utf8_safe(text)


def _int_converter(bits: int) -> Converter:
    bound = _INT_BOUNDS[bits]

    def to_int(value: Any, path: str, report: FlattenReport) -> int | None:
        number: int | None = None
        if isinstance(value, bool):
            number = None  # true/false as a count is a guess, not a conversion
        elif isinstance(value, int):
            number = value
        elif (isinstance(value, float) and value.is_integer()) or (
            isinstance(value, str) and len(value) <= 20 and _INTEGER_TEXT.fullmatch(value)
        ):
            number = int(value)
        if number is None or not -bound <= number < bound:
            report.nulled.append(path)
            return None
        if not (isinstance(value, int) and not isinstance(value, bool)):
            report.coerced.append(path)
        return number

    return to_int


def _to_timestamp(value: Any, path: str, report: FlattenReport) -> datetime | None:
    if isinstance(value, str):
        if not value.strip():
            return None  # the API sends "" for a time that has not happened yet
        try:
            return parse_utc(value)
        except ValueError:
            pass
    report.nulled.append(path)
    return None


def _list_converter(item: Converter) -> Converter:
    def to_list(value: Any, path: str, report: FlattenReport) -> list[Any] | None:
        if not isinstance(value, list):
            report.nulled.append(path)
            return None
        element_path = f"{path}[]"
        return [None if v is None else item(v, element_path, report) for v in value]

    return to_list


def _struct_converter(struct: pa.StructType) -> Converter:
    fields = {f.name: converter_for(f.type) for f in struct}

    def to_struct(value: Any, path: str, report: FlattenReport) -> dict[str, Any] | None:
        if not isinstance(value, dict):
            report.nulled.append(path)
            return None
        row: dict[str, Any] = {}
        for name, convert in fields.items():
            item = value.get(name)
            row[name] = None if item is None else convert(item, f"{path}.{name}", report)
        report.drift.extend(f"{path}.{key}" for key in value if key not in fields)
        return row

    return to_struct


def converter_for(type_: pa.DataType) -> Converter:
    """The function that turns a JSON value into a value of this Arrow type."""
    if pa.types.is_string(type_):
        return _to_string
    if pa.types.is_integer(type_):
        return _int_converter(type_.bit_width)
    if pa.types.is_timestamp(type_):
        return _to_timestamp
    if pa.types.is_list(type_):
        return _list_converter(converter_for(type_.value_type))
    if pa.types.is_struct(type_):
        return _struct_converter(type_)
    raise TypeError(f"no JSON converter for Arrow type {type_}")


@dataclass(frozen=True)
class _Leaf:
    name: str  # the column
    path: str  # dotted, for reports
    convert: Converter
    plain_text: bool  # a string column: an ASCII str is taken as it is


@dataclass(frozen=True)
class _Branch:
    path: str
    children: dict[str, _Leaf | _Branch]


def _compile() -> dict[str, _Leaf | _Branch]:
    """The schema as a tree of the record's keys, so one pass over a record does everything."""
    root: dict[str, Any] = {}
    for column in SOURCE_COLUMNS:
        node = root
        for depth, key in enumerate(column.path[:-1], start=1):
            node = node.setdefault(key, _Branch(".".join(column.path[:depth]), {})).children
        node[column.path[-1]] = _Leaf(
            column.name,
            ".".join(column.path),
            converter_for(column.type),
            pa.types.is_string(column.type),
        )
    return root


_TREE = _compile()
_EMPTY_ROW: dict[str, Any] = dict.fromkeys(c.name for c in SOURCE_COLUMNS)


def flatten(
    operation_log: dict[str, Any],
    *,
    ingested_at: datetime,
    source_message_id: str | None,
    scrub: Scrub = no_scrub,
) -> tuple[dict[str, Any], FlattenReport]:
    """The lake row for one operation log, and what was noticed while building it.

    `scrub` removes known secrets from text: a log that echoes one back (in a message, in any
    field) is stored with every string scrubbed, in its columns and in raw_json alike."""
    text = raw_json(operation_log)
    if scrub(text) != text:
        operation_log = map_strings(operation_log, scrub)
        text = raw_json(operation_log)
    report = FlattenReport()
    row = _EMPTY_ROW.copy()
    _walk(operation_log, _TREE, "", row, report)
    row["raw_json"] = text
    row["ingested_at"] = ingested_at
    row["source_message_id"] = source_message_id
    return row, report


def _walk(
    obj: dict[str, Any],
    tree: dict[str, _Leaf | _Branch],
    prefix: str,
    row: dict[str, Any],
    report: FlattenReport,
) -> None:
    """Fill the row from one object; note unknown keys and objects of the wrong kind."""
    for key, value in obj.items():
        node = tree.get(key)
        if node is None:
            report.drift.append(prefix + key)
        elif value is None:
            continue
        elif isinstance(node, _Leaf):
            if node.plain_text and type(value) is str and value.isascii():
                row[node.name] = value  # the common case, without a call
            else:
                row[node.name] = node.convert(value, node.path, report)
        elif type(value) is dict:
            _walk(value, node.children, node.path + ".", row, report)
        else:
            report.nulled.append(node.path)
