"""JSON in and out, the one way the product does it.

In: strict JSON (no NaN/Infinity, no number a float cannot hold), a UTF-8 byte-order mark
tolerated, orjson first for speed and the standard library for what orjson refuses or would round.
Out: the lake's compact spelling, and text that Parquet can store (valid UTF-8).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from typing import Any

import orjson

UTF8_BOM = b"\xef\xbb\xbf"
_LONG_DIGITS = re.compile(rb"[0-9]{19}")  # orjson reads integers this long as floats


def decode_json(body: bytes) -> Any:
    """Strict JSON, BOM tolerated: orjson first (several times faster), the standard library
    for what orjson refuses or would round (lone surrogate escapes, integers beyond 64 bits).
    Numbers no float can hold (NaN, Infinity, 1e400) are refused: they could not be kept.
    Raises ValueError (or RecursionError for absurd nesting)."""
    body = body.removeprefix(UTF8_BOM)
    if not _LONG_DIGITS.search(body):
        try:
            return orjson.loads(body)
        except orjson.JSONDecodeError:
            pass
    return loads_text(body.decode("utf-8"))


def loads_text(text: str) -> Any:
    """Strict JSON from text (the standard library, with the same refusals as decode_json)."""
    return json.loads(text, parse_constant=_reject_constant, parse_float=_finite)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{text} does not fit a float")
    return value


def map_strings(value: Any, change: Callable[[str], str]) -> Any:
    """A copy of a decoded JSON value with `change` applied to every string, keys included.
    Iterative, so a value nested as deep as the decoder allows never meets the recursion limit."""
    if isinstance(value, str):
        return change(value)
    if not isinstance(value, dict | list):
        return value
    root: Any = {} if isinstance(value, dict) else []
    pending = [(value, root)]
    while pending:
        source, target = pending.pop()
        pairs: Any = source.items() if isinstance(source, dict) else enumerate(source)
        for key, item in pairs:
            copy: Any = item
            if isinstance(item, dict | list):
                copy = {} if isinstance(item, dict) else []
                pending.append((item, copy))
            elif isinstance(item, str):
                copy = change(item)
            if isinstance(target, dict):
                target[change(key)] = copy
            else:
                target.append(copy)
    return root


def compact_json(value: Any) -> str:
    """The one JSON spelling the lake uses: compact, non-ASCII kept."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def is_utf8(text: str) -> bool:
    """False when the text holds a lone surrogate (a JSON escape), which UTF-8 cannot encode."""
    if text.isascii():
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def utf8_safe(text: str) -> str:
    """The text as Parquet can store it: lone surrogates replaced, everything else unchanged."""
    return text if is_utf8(text) else text.encode("utf-8", "replace").decode("utf-8")
