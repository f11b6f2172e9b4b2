"""What a lake row should hold for a source operation_log, worked out independently of lib/."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa
from dateutil.parser import isoparse

from lib.core.schema import SOURCE_COLUMNS


def at_path(record: dict[str, Any], path: tuple[str, ...]) -> Any:
    value: Any = record
    for key in path:
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return value


def utc(text: str) -> datetime | None:
    if not text:
        return None
    moment = isoparse(text)
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def expected_columns(log: dict[str, Any]) -> dict[str, Any]:
    """Column -> value for a well-typed source log (fixtures are well typed)."""
    expected = {}
    for column in SOURCE_COLUMNS:
        value = at_path(log, column.path)
        if value is not None and pa.types.is_timestamp(column.type):
            value = utc(value)
        if value is not None and pa.types.is_list(column.type):
            value = _fill_struct_fields(value, column.type.value_type)
        expected[column.name] = value
    return expected


def _fill_struct_fields(items: list[Any], item_type: pa.DataType) -> list[Any]:
    """Arrow gives every struct all its fields; absent ones read back as None."""
    if not pa.types.is_struct(item_type):
        return items
    filled = []
    for item in items:
        row = {}
        for field in item_type:
            value = item.get(field.name)
            if value is not None and pa.types.is_struct(field.type):
                value = {f.name: _fill_list(value.get(f.name), f.type) for f in field.type}
            row[field.name] = value
        filled.append(row)
    return filled


def _fill_list(value: Any, type_: pa.DataType) -> Any:
    if value is None or not pa.types.is_list(type_):
        return value
    return _fill_struct_fields(value, type_.value_type)


def json_equal(text: str, original: dict[str, Any]) -> bool:
    return json.loads(text) == original
