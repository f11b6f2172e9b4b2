"""Time budgets, the local stand-in for the Lambda context, and JSON logging without secrets."""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol
from urllib.parse import quote, quote_plus

SAFETY_FRACTION = 0.10  # of the invocation's budget, kept for the write and the response
SAFETY_MIN_S = 5.0
LOCAL_BUDGET_S = 15 * 60

logger = logging.getLogger("oplog_lake")


class LambdaContextLike(Protocol):
    aws_request_id: str

    def get_remaining_time_in_millis(self) -> int: ...


@dataclass(frozen=True)
class Deadline:
    """A point in monotonic time after which no new work may start."""

    at: float
    clock: Callable[[], float] = time.monotonic

    def remaining(self) -> float:
        return max(0.0, self.at - self.clock())

    def expired(self) -> bool:
        return self.clock() >= self.at

    def within(self, seconds: float | None) -> Deadline:
        """This deadline, or `seconds` from now if that comes first (None: this one)."""
        if seconds is None:
            return self
        return Deadline(min(self.at, self.clock() + seconds), self.clock)

    @classmethod
    def after(cls, seconds: float, clock: Callable[[], float] = time.monotonic) -> Deadline:
        return cls(clock() + seconds, clock)

    @classmethod
    def for_budget(cls, budget_s: float, clock: Callable[[], float] = time.monotonic) -> Deadline:
        """Work must stop this early in an invocation that has `budget_s` seconds left."""
        margin = max(budget_s * SAFETY_FRACTION, SAFETY_MIN_S)
        return cls.after(budget_s - margin, clock)


@dataclass
class LocalContext:
    """What `python handler.py EVENT.json` passes for the Lambda context: a 15-minute budget."""

    budget_s: float = LOCAL_BUDGET_S
    function_name: str = "oplog-lake-local"
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    _started: float = field(default_factory=time.monotonic)

    def get_remaining_time_in_millis(self) -> int:
        return int(max(0.0, self.budget_s - (time.monotonic() - self._started)) * 1000)


class JsonFormatter(logging.Formatter):
    """One JSON object per line, with any `fields` passed through `extra`."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "message": record.getMessage(),
        }
        entry.update(getattr(record, "fields", {}))
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            entry["exception"] = record.exc_text
        return json.dumps(entry, ensure_ascii=False, default=str)


Remember = Callable[[str], None]  # hand a secret to the log redactor as soon as it is known
Scrub = Callable[[str], str]  # text without the secrets known so far (RedactingFilter.redact)


def no_scrub(text: str) -> str:
    return text


class RedactingFilter(logging.Filter):
    """Replaces known secret values in every formatted line's message, fields and traceback.

    A secret can reach a log line spelled otherwise than it was given: escaped by `repr` (a
    newline as `\\n`, or as bytes in an http.client error), by JSON, or percent-encoded in a URL.
    Every spelling is replaced. `redact` is also the scrub applied to rows before they are written
    (a value the API echoes back), so it must keep working on any text."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self.secrets: set[str] = set()
        self._longest_first: list[str] = []
        for secret in secrets:
            self.add(secret)

    def add(self, secret: str | None) -> None:
        if not secret or len(secret) < 4:
            return
        self.secrets.update(
            spelling
            for spelling in (
                secret,
                repr(secret)[1:-1],
                repr(secret.encode("utf-8", "surrogatepass"))[2:-1],  # a header value: b'...'
                json.dumps(secret)[1:-1],
                json.dumps(secret, ensure_ascii=False)[1:-1],
                quote(secret, safe=""),
                quote_plus(secret, safe=""),
            )
            if len(spelling) >= 4
        )
        self._longest_first = sorted(self.secrets, key=len, reverse=True)

    def filter(self, record: logging.LogRecord) -> bool:
        if self.secrets:
            record.msg = self.redact(record.getMessage())
            record.args = None
            fields = getattr(record, "fields", None)
            if fields:
                record.fields = json.loads(self.redact(json.dumps(fields, default=str)))
            if record.exc_info and record.exc_info[1] is not None:
                record.exc_text = self.redact(logging.Formatter().formatException(record.exc_info))
                record.exc_info = None
        return True

    def redact(self, text: str) -> str:
        for secret in self._longest_first:  # a longer spelling may contain a shorter one
            if secret in text:
                text = text.replace(secret, "***")
        return text


def configure_logging(level: str, redactor: RedactingFilter | None = None) -> None:
    """JSON lines on a stream handler; idempotent across warm invocations. A redactor is put on
    the logger itself, so every handler sees redacted records."""
    logger.setLevel(level)
    logger.propagate = False
    if redactor is not None and redactor not in logger.filters:
        logger.addFilter(redactor)
    if not logger.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(JsonFormatter())
        logger.addHandler(handler)


def log_event(level: int, message: str, **fields: Any) -> None:
    logger.log(level, message, extra={"fields": fields})
