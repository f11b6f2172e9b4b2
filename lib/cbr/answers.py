"""What a CBR answer means: one table from status and body to a parsed log or a FetchError.

`classify` is the only place that decides which answers are retried (timeouts, 429, 5xx, a 200
whose body is not what was asked for), which become error rows (404 not found, 4xx with a
`BackupService.*` code) and which are configuration problems (401 after a refresh, 403, another
4xx). Decoding is strict JSON with a UTF-8 byte-order mark tolerated.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from urllib3.exceptions import InvalidHeader
from urllib3.util.retry import Retry

from lib.cbr.texts import proven_log, proven_page
from lib.core.errors import (
    AccessError,
    ApiAnswer,
    PermanentError,
    RetriableError,
    TokenExpired,
)
from lib.core.jsontext import UTF8_BOM, decode_json

NOT_FOUND_CODES = frozenset({"BackupService.6500", "BackupService.6501"})


def parse_retry_after(value: str | None) -> float | None:
    """Seconds or an HTTP date (urllib3 parses both); None when absent or unreadable."""
    if not value:
        return None
    try:
        return float(Retry().parse_retry_after(value))
    except InvalidHeader:
        return None


def classify(
    status: int,
    body: bytes,
    headers: Mapping[str, str],
    parse: Callable[[bytes], Any] | None = None,
) -> Any:
    """A good answer parsed (by default: its operation_log); anything else raised as the
    FetchError it means."""
    if status == 200:
        return (parse or operation_log)(body)
    code, message = _api_error(body)
    answer = ApiAnswer(status, code, message)
    if status == 401:
        raise TokenExpired(f"CBR answered 401 {code or ''}".rstrip(), answer)
    if status == 403:
        raise AccessError(f"CBR refused access (403 {code or 'no code'})", answer)
    if status in (408, 429) or status >= 500:
        retry_after = parse_retry_after(headers.get("Retry-After"))
        raise RetriableError(f"CBR answered {status}", answer, retry_after=retry_after)
    if code and 400 <= status < 500:
        if status == 404 and code in NOT_FOUND_CODES:
            raise PermanentError("operation log not found", answer, reason="not_found")
        if code.startswith("BackupService."):
            raise PermanentError(f"CBR rejected the request ({code})", answer, reason="rejected")
    raise AccessError(
        f"CBR answered {status} {code or 'without a BackupService code'}: check CBR_ENDPOINT",
        answer,
    )


@dataclass(frozen=True)
class Fetched:
    """An operation_log as the API answered it: decoded (to check it, and to know its id and
    status), and its original JSON text when it could be cut out of the body (the batch path
    reads that text in C++ and keeps it as `raw_json`)."""

    log: dict[str, Any]
    text: bytes | None = None


def operation_log(body: bytes) -> Fetched:
    """The log and, when it is proven to be the log's own text, its text (else None: the row's
    `raw_json` is then the log re-serialised)."""
    proven = proven_log(body, decode_json)
    if proven is not None:
        return Fetched(proven.log, proven.text)
    log = _json_document(body).get("operation_log")
    if not isinstance(log, dict):
        raise RetriableError("CBR answered 200 without an operation_log object", ApiAnswer(200))
    return Fetched(log)


@dataclass(frozen=True)
class LogPage:
    """One page of ListOpLogs: the logs on it, the total the API counts for the query, and each
    log's original text when the page could be cut into them provably (else None)."""

    logs: list[dict[str, Any]]
    count: int | None
    texts: list[bytes] | None = None


def log_page(body: bytes) -> LogPage:
    proven = proven_page(body, decode_json)
    document = proven.framing if proven is not None else _json_document(body)
    logs: Any = proven.logs if proven is not None else document.get("operation_logs")
    texts = proven.texts if proven is not None else None
    if not isinstance(logs, list) or not all(isinstance(log, dict) for log in logs):
        raise RetriableError("CBR answered 200 without an operation_logs list", ApiAnswer(200))
    count = document.get("count")
    return LogPage(
        logs, count if isinstance(count, int) and not isinstance(count, bool) else None, texts
    )


@dataclass(frozen=True)
class ListAnswer:
    """One answer of a CBR list API (ListVault, ListPolicies, ListProtectable, ListBackups): the
    objects of its list, and the `count` it gives (None when absent or not a whole number)."""

    items: list[dict[str, Any]]
    count: int | None


def list_answer(key: str, body: bytes) -> ListAnswer:
    """The `key` list of a 200 body; a body without that list is retried, like a bad 200."""
    document = _json_document(body)
    items = document.get(key)
    if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
        raise RetriableError(f"CBR answered 200 without a {key} list", ApiAnswer(200))
    count = document.get("count")
    return ListAnswer(
        items, count if isinstance(count, int) and not isinstance(count, bool) else None
    )


def _json_document(body: bytes) -> dict[str, Any]:
    try:
        document = decode_json(body)
    except (ValueError, RecursionError):
        raise RetriableError(
            "CBR answered 200 with a body that is not JSON", ApiAnswer(200)
        ) from None
    return document if isinstance(document, dict) else {}


def _api_error(body: bytes) -> tuple[str | None, str | None]:
    """error_code/error_msg in any of the shapes Huawei gateways use."""
    try:
        document = json.loads(body.removeprefix(UTF8_BOM).decode("utf-8"))
    except (ValueError, RecursionError):
        return None, None
    if not isinstance(document, dict):
        return None, None
    if isinstance(document.get("error"), dict):
        document = document["error"]
    for code_key, msg_key in (
        ("error_code", "error_msg"),
        ("errorCode", "errorMsg"),
        ("code", "message"),
    ):
        if code_key in document:
            code, message = document.get(code_key), document.get(msg_key)
            return _text(code), _text(message)
    return None, None


def _text(value: Any) -> str | None:
    return None if value is None else str(value)[:1024]
