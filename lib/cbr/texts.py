"""Pure: where each operation_log's original JSON text sits in an API body, without decoding it.

A GET answers `{"operation_log": {...}}` and ListOpLogs `{"operation_logs": [{...}, ...],
"count": N}`. These helpers cut the objects' exact bytes out of such a body by its framing, and
give None when the framing is not the expected one. A cut text is a candidate: it is the object
exactly when it reads as one JSON object (any other framing around it, a second key, a split in
the wrong place, leaves a text that is not one JSON object). `lib.ingest.batch.to_table` makes a
row only from a text that reads as one object and reports the rest as undecodable, so a wrong
cut can cost speed, never a wrong row.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

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


def operation_log_text(body: bytes) -> bytes | None:
    """The bytes of `operation_log`'s object in a GET body (BOM and framing removed)."""
    body = body.removeprefix(UTF8_BOM).strip(b" \t\r\n")
    head = _GET_HEAD.match(body)
    if head is None or body[-1:] != b"}":
        return None
    text = body[head.end() : -1].rstrip(b" \t\r\n")
    return text if text[:1] == b"{" and text[-1:] == b"}" else None


@dataclass(frozen=True)
class PageTexts:
    """The texts of a ListOpLogs page's logs, in order, and the count the page states."""

    texts: list[bytes]
    count: int | None


def page_texts(body: bytes) -> PageTexts | None:
    """Each log's bytes in a ListOpLogs page, cut where one object of the list ends and the
    next begins: at a `}`, `{` seam outside every nested object, list and string, as counted
    with brackets and quotes. Brackets and escapes in strings can mislead the count; a misled
    cut leaves texts that are not one object each."""
    body = body.removeprefix(UTF8_BOM).strip(b" \t\r\n")
    head = _PAGE_HEAD.match(body)
    tail = _PAGE_TAIL.search(body, max(0, len(body) - TAIL_WINDOW))
    if head is None or tail is None or tail.start() < head.end():
        return None
    framing = body[: head.end()] + body[tail.start() :]
    if len(re.findall(rb'"count"' + _WS + rb":", framing)) > 1:
        return None  # "count" twice: which one a decoder keeps is its choice
    count = _count(framing)
    items = body[head.end() : tail.start()]
    if not items:
        return PageTexts([], count)
    if items[:1] != b"{" or items[-1:] != b"}":
        return None
    return PageTexts(_split(items), count)


def _count(framing: bytes) -> int | None:
    found = re.findall(rb'"count"' + _WS + rb":" + _WS + rb"(-?[0-9]+)", framing)
    return int(found[0]) if len(found) == 1 else None


def _split(items: bytes) -> list[bytes]:
    texts, start, depth, quotes, scanned = [], 0, 0, 0, 0
    for seam in _BETWEEN.finditer(items):
        end = seam.start() + 1
        piece = items[scanned:end]
        depth += piece.count(b"{") + piece.count(b"[") - piece.count(b"}") - piece.count(b"]")
        quotes += piece.count(b'"') - piece.count(b'\\"') + piece.count(b'\\\\"')
        scanned = end
        if depth == 0 and quotes % 2 == 0:  # outside every bracket and string
            texts.append(items[start:end])
            start = seam.end() - 1
            depth, quotes, scanned = 0, 0, start
    texts.append(items[start:])
    return texts
