"""Every failure oplog-lake tells apart, and what happens to the message that met it.

    OplogLakeError
    ├── ConfigError            a setting is missing or wrong: nothing is acknowledged
    ├── FetchError             one ID could not become a data row
    │   ├── RetriableError     may work later (timeout, 429, 5xx, bad 200 body): message redelivered
    │   ├── PermanentError     no retry can change it (404, rejected): error row, acknowledged
    │   └── AccessError        auth/permission/endpoint problem: logged loudly, message redelivered
    └── SinkError              the lake write failed: every message of the batch redelivered

Library errors are translated into these at the edge that meets them (`cbr`, `storage`).
"""

from __future__ import annotations

from dataclasses import dataclass


class OplogLakeError(Exception):
    """Base of every error raised on purpose by oplog-lake."""


class ConfigError(OplogLakeError):
    """A setting is missing or malformed; the message names the variable."""


class SinkError(OplogLakeError):
    """Writing to the lake failed; nothing in the batch may be acknowledged."""


class ObjectMissing(SinkError):
    """A lake file asked for is not there (any more)."""


@dataclass(frozen=True)
class ApiAnswer:
    """What the API said, kept for error rows and logs."""

    http_status: int | None = None
    error_code: str | None = None
    error_msg: str | None = None


class FetchError(OplogLakeError):
    """One operation log could not be fetched; carries what the API said."""

    def __init__(self, message: str, answer: ApiAnswer | None = None) -> None:
        super().__init__(message)
        self.answer = answer or ApiAnswer()

    @property
    def http_status(self) -> int | None:
        return self.answer.http_status


class RetriableError(FetchError):
    """A failure that may not happen again: retry, and redeliver when attempts run out."""

    def __init__(
        self, message: str, answer: ApiAnswer | None = None, *, retry_after: float | None = None
    ) -> None:
        super().__init__(message, answer)
        self.retry_after = retry_after


class PermanentError(FetchError):
    """An answer no retry can change; recorded as an error row with this reason."""

    def __init__(self, message: str, answer: ApiAnswer | None = None, *, reason: str) -> None:
        super().__init__(message, answer)
        self.reason = reason


class AccessError(FetchError):
    """Credentials, permissions or endpoint are wrong: an operator must act."""


class TokenExpired(AccessError):
    """A 401; `stale` is the auth that was refused, so a refresh can replace exactly it."""

    stale: object = None
