"""Pure: a queue message body -> the task references it names, or why it names none.

Accepted bodies (see the README): a bare ID; `{"operation_log_id": ..., "project_id": ...,
"attempt": ...}` with `project_id` and `attempt` optional; or a JSON array of either. `attempt`
counts the times an unfinished task was sent back to the queue to be looked at again. Nothing is
trimmed: an ID either matches `ID_PATTERN` in full or is rejected.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from lib.core.ids import ID_PATTERN, ID_RULE
from lib.core.jsontext import loads_text, utf8_safe

MAX_IDS_PER_MESSAGE = 1000
MAX_ATTEMPT = 1000
RAW_MESSAGE_LIMIT = 64 * 1024  # bytes of the body kept in an error row

INVALID_MESSAGE = "invalid_message"
INVALID_ID = "invalid_id"


@dataclass(frozen=True)
class Message:
    """One input to settle: a queue message (its SQS messageId and body), or a line of a file.

    Inputs that did not come from the queue (a backfill's file of IDs) still need an ID to report
    failures by, but their rows carry no `source_message_id`.
    """

    message_id: str
    body: str
    from_queue: bool = True

    @property
    def source_message_id(self) -> str | None:
        return self.message_id if self.from_queue else None


@dataclass(frozen=True)
class TaskRef:
    """One operation log to fetch; `project_id` None means the configured default."""

    operation_log_id: str
    project_id: str | None = None
    attempt: int = 0  # follow-ups of an unfinished task already made


@dataclass(frozen=True)
class Reject:
    """Something in a body that can never be fetched; becomes an error row."""

    reason: str  # INVALID_MESSAGE or INVALID_ID
    detail: str
    operation_log_id: str | None = None
    project_id: str | None = None


@dataclass(frozen=True)
class ParsedBody:
    refs: tuple[TaskRef, ...] = ()
    rejects: tuple[Reject, ...] = ()


class _Malformed(ValueError):
    """The body is not of any accepted shape."""


def parse_body(body: str) -> ParsedBody:
    """Every task the body names, deduplicated in order, and every ID that fails the pattern."""
    try:
        items = _items(body)
    except _Malformed as exc:
        return ParsedBody(rejects=(Reject(INVALID_MESSAGE, str(exc)),))
    refs: dict[TaskRef, None] = {}
    rejects: dict[Reject, None] = {}  # one error row for an ID named twice, like one request
    for operation_log_id, project_id, attempt in items:
        bad = [
            label
            for label, value in (("operation_log_id", operation_log_id), ("project_id", project_id))
            if value is not None and not ID_PATTERN.fullmatch(value)
        ]
        if bad:
            detail = f"{' and '.join(bad)} must be {ID_RULE}"
            rejects.setdefault(
                Reject(INVALID_ID, detail, _clip(operation_log_id), _clip(project_id))
            )
        else:
            refs.setdefault(TaskRef(operation_log_id, project_id, attempt))
    return ParsedBody(tuple(refs), tuple(rejects))


Item = tuple[str, str | None, int]  # operation_log_id, project_id, attempt


def _items(body: str) -> list[Item]:
    if ID_PATTERN.fullmatch(body):
        return [(body, None, 0)]
    if not body.strip():
        raise _Malformed("the message body is empty")
    if body.lstrip()[:1] not in ("{", "[", '"'):
        return [(body, None, 0)]  # a bare ID that fails the pattern
    try:
        document = loads_text(body)
    except (ValueError, RecursionError) as exc:
        raise _Malformed(f"the message body is not valid JSON ({type(exc).__name__})") from None
    if isinstance(document, list):
        if not document:
            raise _Malformed("the message body is an empty list")
        if len(document) > MAX_IDS_PER_MESSAGE:
            raise _Malformed(f"the message names more than {MAX_IDS_PER_MESSAGE} IDs")
        return [_item(element) for element in document]
    if isinstance(document, dict):
        return [_item(document)]
    raise _Malformed("the message body must be an ID, an object or a list")


def _item(element: Any) -> Item:
    if isinstance(element, str):
        return element, None, 0
    if not isinstance(element, dict):
        raise _Malformed("a list element must be an ID or an object")
    operation_log_id = element.get("operation_log_id")
    project_id = element.get("project_id")
    if not isinstance(operation_log_id, str):
        raise _Malformed("an object must have a string operation_log_id")
    if project_id is not None and not isinstance(project_id, str):
        raise _Malformed("project_id must be a string when given")
    attempt = element.get("attempt", 0)
    if type(attempt) is not int or not 0 <= attempt <= MAX_ATTEMPT:
        raise _Malformed(f"attempt must be an integer from 0 to {MAX_ATTEMPT} when given")
    return operation_log_id, project_id, attempt


def _clip(value: str | None, limit: int = 256) -> str | None:
    """A rejected value as stored: short, and encodable even if it held a lone surrogate."""
    if value is None:
        return None
    return utf8_safe(value[:limit])


def clip_raw_message(body: str, limit: int = RAW_MESSAGE_LIMIT) -> str:
    """The body as stored in an error row: at most `limit` bytes of UTF-8."""
    encoded = body.encode("utf-8", "replace")[:limit]
    return encoded.decode("utf-8", "ignore")  # drops a character cut in half at the limit
