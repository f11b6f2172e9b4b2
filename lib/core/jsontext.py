"""JSON in and out, the one way the product does it.

In: strict JSON (no NaN/Infinity), a UTF-8 byte-order mark tolerated, orjson first for speed and
the standard library for what orjson refuses or would round. A number no float or int can hold
(1e400, 1e-400, 5,000 digits) is kept as its text (`RawNumber`), never refused or rounded to 0.0,
and JSON nested deeper than `MAX_DEPTH` keeps its deep parts as text: whatever the API answers
can be read, stored and written again without meeting a library's recursion limit.
Out: the lake's compact spelling, and text that Parquet can store (valid UTF-8).
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import re
from collections.abc import Callable
from typing import Any

import orjson

from lib.core.runtime import log_event

UTF8_BOM = b"\xef\xbb\xbf"
MAX_DEPTH = 200  # below orjson's 254 levels out and the interpreter's recursion limit
# orjson reads integers of 19 digits or more as floats, and a tiny number (1e-400) as 0.0:
# such bodies take the standard library, which keeps them exact. The exponent must end the
# number, so an ID like "...5e-1234-..." does not send every log the slow way.
_NEEDS_EXACT = re.compile(rb"[0-9]{19}|[eE]-[0-9]{3,}(?![0-9A-Za-z-])")
_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"')
_STRING_OR_BRACKET = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{}]')
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")


class RawNumber:
    """A JSON number kept as written, because no float or int holds it (1e400, 1e-400).
    Not a dataclass: orjson would write one as an object instead of asking `orjson_default`."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text

    def __eq__(self, other: object) -> bool:
        return isinstance(other, RawNumber) and other.text == self.text

    def __hash__(self) -> int:
        return hash(self.text)

    def __repr__(self) -> str:
        return f"RawNumber({self.text!r})"


_DIGITS_AS_ZERO = bytes.maketrans(b"123456789", b"000000000")


def _needs_exact(body: bytes) -> bool:
    """`_NEEDS_EXACT.search(body)`, answered by plain substring searches over the body with its
    digits folded to 0 (a regular expression tried at every digit costs several times the
    decoding it protects). An exponent counts only where a number can stand: after a JSON
    delimiter, never inside an ID such as `...-3e-1234-...`."""
    folded = body.translate(_DIGITS_AS_ZERO)
    if b"0" * 19 in folded:
        return _NEEDS_EXACT.search(body) is not None
    for marker in (b"e-000", b"E-000"):
        at = folded.find(marker)
        while at >= 0:
            if _number_at(folded, at):
                return _NEEDS_EXACT.search(body) is not None
            at = folded.find(marker, at + 1)
    return False


_MANTISSA = frozenset(b"0.-")
_BEFORE_NUMBER = frozenset(b" \t\r\n:[,")


def _number_at(folded: bytes, exponent: int) -> bool:
    """Whether the `e` at `exponent` ends the mantissa of a JSON number (digits folded to 0)."""
    start = exponent
    while start > 0 and folded[start - 1] in _MANTISSA:
        start -= 1
    return start < exponent and (start == 0 or folded[start - 1] in _BEFORE_NUMBER)


def decode_json(body: bytes) -> Any:
    """Strict JSON, BOM tolerated: orjson first (several times faster), the standard library
    for what orjson refuses or would round (lone surrogate escapes, long integers, tiny
    numbers). Raises ValueError for what is not JSON."""
    body = body.removeprefix(UTF8_BOM)
    if deeper_than(body, MAX_DEPTH):
        body = _deep_parts_as_text(body, MAX_DEPTH)
    if not _needs_exact(body):
        try:
            return orjson.loads(body)
        except orjson.JSONDecodeError:
            pass
    try:
        return loads_text(body.decode("utf-8"))
    except RecursionError:  # only for text that is not JSON: valid JSON is no deeper than this
        raise ValueError("unbalanced brackets") from None


def loads_text(text: str) -> Any:
    """Strict JSON from text (the standard library, with the same numbers as decode_json).
    Raises ValueError, or RecursionError for absurd nesting."""
    return json.loads(text, parse_constant=_reject_constant, parse_float=_float, parse_int=_integer)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _float(text: str) -> float | RawNumber:
    value = float(text)
    underflow = value == 0.0 and text.lower().partition("e")[0].strip("-0.") != ""
    if math.isinf(value) or underflow:
        return RawNumber(text)
    return value


def _integer(text: str) -> int | RawNumber:
    try:
        return int(text)
    except ValueError:  # more digits than int() converts (sys.get_int_max_str_digits)
        return RawNumber(text)


def deeper_than(body: bytes, limit: int) -> bool:
    """Whether brackets nest deeper than `limit`: strings blanked, then the innermost pairs
    removed once per level, at C speed. A body with fewer brackets than that is not looked at."""
    if body.count(b"[") + body.count(b"{") <= limit:
        return False
    brackets = _STRING.sub(b"", body).translate(None, _NOT_BRACKETS)
    for _ in range(limit):
        if not brackets:
            return False
        brackets = brackets.replace(b"[]", b"").replace(b"{}", b"")
    return bool(brackets)


def _deep_parts_as_text(body: bytes, limit: int) -> bytes:
    """Each array or object opened deeper than `limit` replaced by a JSON string holding its
    text: the rest reads as usual and nothing is lost. Rare, so a plain loop over brackets."""
    pieces, depth, done, cut_at = [], 0, 0, -1
    for match in _STRING_OR_BRACKET.finditer(body):
        token = match.group()
        if token in (b"[", b"{"):
            depth += 1
            if depth == limit + 1:
                cut_at = match.start()
        elif token in (b"]", b"}"):
            if depth == limit + 1 and cut_at >= 0:
                deep = body[cut_at : match.end()].decode("utf-8", "replace")
                pieces += [body[done:cut_at], json.dumps(deep).encode()]
                done, cut_at = match.end(), -1
            depth -= 1
    log_event(logging.WARNING, f"JSON nested deeper than {limit} levels: deeper parts kept as text")
    return b"".join([*pieces, body[done:]])


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


def compact_json(value: Any, *, ascii_only: bool = False) -> str:
    """The one JSON spelling the lake uses: compact, non-ASCII kept (unless `ascii_only`)."""
    try:
        return json.dumps(value, ensure_ascii=ascii_only, separators=(",", ":"), allow_nan=False)
    except TypeError:  # a RawNumber, which only its own text spells
        return "".join(_spell(value, ascii_only))


def _spell(value: Any, ascii_only: bool) -> list[str]:
    if isinstance(value, RawNumber):
        return [value.text]
    if isinstance(value, dict):
        parts = ["{"]
        for key, item in value.items():
            parts += [*([","] if len(parts) > 1 else []), json.dumps(key, ensure_ascii=ascii_only)]
            parts += [":", *_spell(item, ascii_only)]
        return [*parts, "}"]
    if isinstance(value, list):
        parts = ["["]
        for item in value:
            parts += [*([","] if len(parts) > 1 else []), *_spell(item, ascii_only)]
        return [*parts, "]"]
    return [json.dumps(value, ensure_ascii=ascii_only, allow_nan=False)]


def content_key(value: Any) -> bytes:
    """A digest of a decoded JSON value that ignores how it was spelled (spacing, escapes, key
    order, 1e+300 or 1e300): SHA-256 of its canonical form (sorted keys, compact). Which encoder
    serves depends on the content only (orjson refuses integers beyond 64 bits and lone
    surrogates)."""
    try:
        canonical = orjson.dumps(value, default=orjson_default, option=orjson.OPT_SORT_KEYS)
    except TypeError:
        try:
            canonical = json.dumps(value, sort_keys=True, separators=(",", ":")).encode()
        except TypeError:  # a RawNumber beside what orjson refuses: its own spelling, in order
            canonical = compact_json(value, ascii_only=True).encode()
    return hashlib.sha256(canonical).digest()


def orjson_default(value: Any) -> Any:
    """orjson's hook for what it does not know: a RawNumber is written as its text."""
    if isinstance(value, RawNumber):
        return orjson.Fragment(value.text)
    raise TypeError(f"{type(value).__name__} is not JSON")


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
