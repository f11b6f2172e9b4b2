"""Pure: each operation_log's original JSON text in an API body, proven to be the log.

A GET answers `{"operation_log": {...}}` and ListOpLogs `{"operation_logs": [{...}, ...],
"count": N}`. The framing (a literal head and tail, scalar members beside the list) is matched
and each log's bytes are cut out of it; a cut counts only once it is proven, and the proof is the
decoding itself: each cut text is decoded on its own, and the body is decoded as its framing with
the texts left out. When every text reads as one JSON object and the framing as the expected
document, the body is exactly that framing around those objects (JSON's grammar leaves one way
to read it), so what each text decodes to is what decoding the whole body gives for that log, and
nothing is decoded twice. Anything else (a second member beside the log, a cut misled by brackets
or escapes in strings, a key spelled with escapes) gives None: the caller decodes the whole body
and the log's `raw_json` is re-serialised from the decoded object.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

UTF8_BOM = b"\xef\xbb\xbf"
TAIL_WINDOW = 256  # the end of a page ("]", "count") is looked for in its last bytes only
_WS = rb"[ \t\r\n]*"
_GET_HEAD = re.compile(rb"\{" + _WS + rb'"operation_log"' + _WS + rb":" + _WS)
# Beside "operation_logs" a page holds scalar members only ("count", "limit", "offset"): a member
# of any other shape leaves the framing unrecognised, and the texts unknown.
_SCALAR = rb'(?:-?[0-9][0-9.eE+-]*|"(?:[^"\\]|\\.)*"|true|false|null)'
_MEMBER = _WS + rb'"(?:[^"\\]|\\.)*"' + _WS + rb":" + _WS + _SCALAR + _WS
_PAGE_HEAD = re.compile(
    rb"\{(?:" + _MEMBER + rb",)*" + _WS + rb'"operation_logs"' + _WS + rb":" + _WS + rb"\[" + _WS
)
_PAGE_TAIL = re.compile(_WS + rb"\]" + _WS + rb"(?:," + _MEMBER + rb")*\}" + _WS + rb"\Z")
_BETWEEN = re.compile(rb"\}" + _WS + rb"," + _WS + rb"\{")  # the seam of two objects in a list

Decode = Callable[[bytes], Any]  # bytes -> a JSON value; raises ValueError when not JSON


@dataclass(frozen=True)
class ProvenLog:
    """A GET body's operation_log: the object, and its exact text in the body."""

    log: dict[str, Any]
    text: bytes


@dataclass(frozen=True)
class ProvenPage:
    """A ListOpLogs page: the document without its logs, the logs, and each log's exact text."""

    framing: dict[str, Any]  # the body's members, "operation_logs" read as []
    logs: list[dict[str, Any]]
    texts: list[bytes]


def proven_log(body: bytes, decode: Decode) -> ProvenLog | None:
    """The operation_log of a GET body and its text, when the body is exactly
    `{"operation_log": <text>}` (any JSON whitespace) and the text reads as one object."""
    text = operation_log_text(body)
    log = None if text is None else _object(text, decode)
    return None if log is None or text is None else ProvenLog(log, text)


def operation_log_text(body: bytes) -> bytes | None:
    """The candidate bytes of `operation_log`'s object in a GET body (BOM and framing removed):
    not yet proven, as `, "links": {...}` after the object would be in it."""
    body = body.removeprefix(UTF8_BOM).strip(b" \t\r\n")
    head = _GET_HEAD.match(body)
    if head is None or body[-1:] != b"}":
        return None
    text = body[head.end() : -1].rstrip(b" \t\r\n")
    return text if text[:1] == b"{" and text[-1:] == b"}" else None


def proven_page(body: bytes, decode: Decode) -> ProvenPage | None:
    """A ListOpLogs page cut into its logs, when its framing reads as a document whose
    `operation_logs` is that list and every cut text reads as one object."""
    body = body.removeprefix(UTF8_BOM).strip(b" \t\r\n")
    head = _PAGE_HEAD.match(body)
    tail = _PAGE_TAIL.search(body, max(0, len(body) - TAIL_WINDOW))
    if head is None or tail is None or tail.start() < head.end():
        return None
    framing = _object(body[: head.end()] + body[tail.start() :], decode)
    if framing is None or framing.get("operation_logs") != []:
        return None  # another "operation_logs" member, later, is the one a decoder keeps
    items = body[head.end() : tail.start()]
    if not items:
        return ProvenPage(framing, [], [])
    if items[:1] != b"{" or items[-1:] != b"}":
        return None
    texts = split_items(items)
    logs = []
    for text in texts:
        log = _object(text, decode)
        if log is None:
            return None
        logs.append(log)
    return ProvenPage(framing, logs, texts)


def _object(text: bytes, decode: Decode) -> dict[str, Any] | None:
    try:
        value = decode(text)
    except (ValueError, RecursionError):
        return None
    return value if isinstance(value, dict) else None


def split_items(items: bytes) -> list[bytes]:
    """The items of a list of objects, cut where one object ends and the next begins: at a
    `}`, `{` seam outside every nested object, list and string, as counted with brackets and
    quotes (a quote after an odd run of backslashes is escaped). Brackets in strings can still
    mislead the count: a misled cut leaves a text that is not one object, which the proof
    refuses."""
    texts, start, depth, quotes, scanned = [], 0, 0, 0, 0
    for seam in _BETWEEN.finditer(items):
        end = seam.start() + 1
        piece = items[scanned:end]
        depth += piece.count(b"{") + piece.count(b"[") - piece.count(b"}") - piece.count(b"]")
        quotes += piece.count(b'"') - _escaped_quotes(piece)
        scanned = end
        if depth == 0 and quotes % 2 == 0:  # outside every bracket and string
            texts.append(items[start:end])
            start = seam.end() - 1
            depth, quotes, scanned = 0, 0, start
    texts.append(items[start:])
    return texts


def _escaped_quotes(piece: bytes) -> int:
    """Quotes that a backslash escapes. Pairs of backslashes are escaped backslashes, taken left
    to right as a decoder takes them; a backslash left before a quote escapes it. A piece ends
    at a `}`, so no run of backslashes spans two pieces."""
    if b'\\"' not in piece:
        return 0
    return piece.replace(b"\\\\", b"").count(b'\\"')
