"""The CBR client: fetch one operation log, retrying what may succeed later, within a deadline.

`classify` is the one table that maps an API answer to an outcome; `CbrClient.fetch` applies the
retry policy (at most `max_attempts` requests per ID, exponential backoff with jitter, `Retry-After`
honoured, nothing waited or requested past the deadline).
"""

from __future__ import annotations

import functools
import json
import math
import random
import re
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import orjson
import requests
import urllib3
from urllib3.exceptions import InvalidHeader
from urllib3.response import BaseHTTPResponse
from urllib3.util.retry import Retry

from lib.cbr.auth import AuthProvider
from lib.core.errors import (
    AccessError,
    ApiAnswer,
    FetchError,
    PermanentError,
    RetriableError,
    TokenExpired,
)
from lib.core.runtime import Deadline
from lib.ingest.messages import ID_PATTERN, TaskRef

NOT_FOUND_CODES = frozenset({"BackupService.6500", "BackupService.6501"})
MAX_BODY_BYTES = 16 * 1024 * 1024
READ_CHUNK = 64 * 1024
MIN_REQUEST_S = 0.05  # below this there is no point starting a request
UTF8_BOM = b"\xef\xbb\xbf"
_LONG_DIGITS = re.compile(rb"[0-9]{19}")  # orjson reads integers this long as floats


@dataclass
class FetchStats:
    """Counters shared by the worker threads of one invocation."""

    requests: int = 0
    retries: int = 0
    throttled: int = 0
    token_refreshes: int = 0
    latency_s: float = 0.0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, **deltas: float) -> None:
        with self._lock:
            for name, delta in deltas.items():
                setattr(self, name, getattr(self, name) + delta)


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with full jitter; a server's Retry-After wins when it is longer."""

    max_attempts: int = 5
    base_s: float = 0.5
    cap_s: float = 20.0
    rand: Callable[[], float] = random.random

    def wait_s(self, failures: int, retry_after: float | None) -> float:
        backoff = min(self.cap_s, self.base_s * 2 ** (failures - 1)) * self.rand()
        return max(backoff, retry_after or 0.0)


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
        return (parse or _operation_log)(body)
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


def decode_json(body: bytes) -> Any:
    """Strict JSON, BOM tolerated: orjson first (several times faster), the standard library
    for what orjson refuses or would round (lone surrogate escapes, integers beyond 64 bits).
    Numbers no float can hold (NaN, Infinity, 1e400) are refused: they could not be kept."""
    body = body.removeprefix(UTF8_BOM)
    if not _LONG_DIGITS.search(body):
        try:
            return orjson.loads(body)
        except orjson.JSONDecodeError:
            pass
    return json.loads(body.decode("utf-8"), parse_constant=_no_constant, parse_float=_finite)


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{text} does not fit a float")
    return value


def _operation_log(body: bytes) -> dict[str, Any]:
    log = _json_document(body).get("operation_log")
    if not isinstance(log, dict):
        raise RetriableError("CBR answered 200 without an operation_log object", ApiAnswer(200))
    return log


@dataclass(frozen=True)
class LogPage:
    """One page of ListOpLogs: the logs on it and the total the API counts for the query."""

    logs: list[dict[str, Any]]
    count: int | None


def _log_page(body: bytes) -> LogPage:
    document = _json_document(body)
    logs = document.get("operation_logs")
    if not isinstance(logs, list) or not all(isinstance(log, dict) for log in logs):
        raise RetriableError("CBR answered 200 without an operation_logs list", ApiAnswer(200))
    count = document.get("count")
    return LogPage(logs, count if isinstance(count, int) and not isinstance(count, bool) else None)


def _json_document(body: bytes) -> dict[str, Any]:
    try:
        document = decode_json(body)
    except (ValueError, RecursionError):
        raise RetriableError(
            "CBR answered 200 with a body that is not JSON", ApiAnswer(200)
        ) from None
    return document if isinstance(document, dict) else {}


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


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


class RatePacer:
    """Spaces requests at most `rate` per second across all threads of the process.

    The API gateway counts requests per second for every caller of an API together, so each
    invocation keeps to its share (CBR_MAX_RPS) instead of discovering the limit through 429s.
    """

    def __init__(self, rate: float | None, clock: Callable[[], float] = time.monotonic) -> None:
        self.interval = 1.0 / rate if rate else 0.0
        self._clock = clock
        self._next = 0.0
        self._lock = threading.Lock()

    def reserve(self, deadline: Deadline) -> float | None:
        """Seconds to wait before the next request, or None if that would pass the deadline."""
        if not self.interval:
            return 0.0
        with self._lock:
            now = self._clock()
            slot = max(now, self._next)
            if slot - now >= deadline.remaining():
                return None
            self._next = slot + self.interval
            return slot - now


class CbrClient:
    """GET /v3/{project_id}/operation-logs/{id} with auth, retries and a deadline."""

    def __init__(
        self,
        session: requests.Session,
        endpoint: str,
        auth: AuthProvider,
        *,
        timeout_s: float,
        policy: RetryPolicy,
        pacer: RatePacer | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._pacer = pacer or RatePacer(None)
        self._session = session
        self._endpoint = endpoint.rstrip("/")
        self._auth = auth
        self._timeout_s = timeout_s
        self._policy = policy
        self._sleep = sleep

    def url(self, ref: TaskRef, project_id: str) -> str:
        return f"{self.list_url(project_id)}/{_url_id(ref.operation_log_id)}"

    def list_url(self, project_id: str) -> str:
        return f"{self._endpoint}/v3/{_url_id(project_id)}/operation-logs"

    def fetch(
        self, ref: TaskRef, project_id: str, deadline: Deadline, stats: FetchStats
    ) -> dict[str, Any]:
        """The operation_log object, or the FetchError that ended the attempts."""
        log: dict[str, Any] = self._call(
            self.url(ref, project_id), None, project_id, deadline, stats, _operation_log
        )
        return log

    def list_page(
        self,
        project_id: str,
        query: Mapping[str, str | int],
        deadline: Deadline,
        stats: FetchStats,
    ) -> LogPage:
        """One page of `GET /v3/{project_id}/operation-logs?...` (ListOpLogs), same retries."""
        page: LogPage = self._call(
            self.list_url(project_id), dict(query), project_id, deadline, stats, _log_page
        )
        return page

    def _call(
        self,
        url: str,
        params: dict[str, str | int] | None,
        project_id: str,
        deadline: Deadline,
        stats: FetchStats,
        parse: Callable[[bytes], Any],
    ) -> Any:
        refreshed = False
        failures = 0
        last: FetchError | None = None
        for attempt in range(1, self._policy.max_attempts + 1):
            wait = self._pacer.reserve(deadline)
            if wait is None:
                break
            if wait:
                self._sleep(wait)
            timeout = min(self._timeout_s, deadline.remaining())
            if timeout < MIN_REQUEST_S:
                break
            if attempt > 1:
                stats.add(retries=1)
            try:
                return self._attempt(url, params, project_id, timeout, deadline, stats, parse)
            except TokenExpired as exc:
                if refreshed or not self._auth.can_refresh:
                    after = " even after a token refresh" if refreshed else ""
                    raise AccessError(
                        f"CBR rejected the credentials (401){after}", exc.answer
                    ) from None
                self._auth.refresh(project_id, exc.stale)
                stats.add(token_refreshes=1)
                refreshed = True
                last = exc
            except RetriableError as exc:
                last = exc
                failures += 1
                if exc.http_status == 429:
                    stats.add(throttled=1)
                wait = self._policy.wait_s(failures, exc.retry_after)
                if attempt == self._policy.max_attempts or wait >= deadline.remaining():
                    break
                self._sleep(wait)
        if isinstance(last, RetriableError):
            raise last
        raise RetriableError("the time budget ran out before an answer arrived")

    def _attempt(
        self,
        url: str,
        params: dict[str, str | int] | None,
        project_id: str,
        timeout: float,
        deadline: Deadline,
        stats: FetchStats,
        parse: Callable[[bytes], Any],
    ) -> Any:
        auth = self._auth.for_project(project_id, timeout)
        started = time.monotonic()
        try:
            with self._session.get(
                url, params=params, auth=auth, timeout=timeout, stream=True, allow_redirects=False
            ) as response:
                body = _read_body(response, deadline)
                status, headers = response.status_code, response.headers
        except requests.exceptions.SSLError as exc:
            raise AccessError("TLS verification of CBR_ENDPOINT failed") from exc
        except (requests.exceptions.InvalidURL, requests.exceptions.InvalidSchema) as exc:
            raise AccessError(f"CBR_ENDPOINT is not a usable URL ({type(exc).__name__})") from exc
        except requests.RequestException as exc:
            raise RetriableError(f"request to CBR failed ({type(exc).__name__})") from exc
        finally:
            stats.add(requests=1, latency_s=time.monotonic() - started)
        try:
            return classify(status, body, headers, parse)
        except TokenExpired as exc:
            exc.stale = auth
            raise


def _url_id(value: str) -> str:
    """An ID as a path segment. Every ID was validated against ID_PATTERN already; check and
    quote again so a URL can never be bent."""
    if not ID_PATTERN.fullmatch(value):
        raise ValueError(f"refusing to put {value!r} in a URL")
    return quote(value, safe="")


def _read_body(response: requests.Response, deadline: Deadline) -> bytes:
    """The whole body, unless it grows past MAX_BODY_BYTES or drips past the deadline.

    `read1` returns whatever has arrived, so the deadline is checked between any two packets,
    however slowly they come (each wait is bounded by the socket timeout).
    """
    raw = response.raw
    if isinstance(raw, BaseHTTPResponse):
        read = functools.partial(raw.read1, READ_CHUNK, decode_content=True)
    else:
        read = functools.partial(raw.read, READ_CHUNK)  # the replay adapter's in-memory body
    chunks: list[bytes] = []
    size = 0
    try:
        while chunk := read():
            size += len(chunk)
            if size > MAX_BODY_BYTES:
                raise RetriableError(f"CBR answered with a body over {MAX_BODY_BYTES} bytes")
            if deadline.expired():
                raise RetriableError("CBR response still arriving when the time budget ran out")
            chunks.append(chunk)
    except (urllib3.exceptions.HTTPError, OSError) as exc:
        raise RetriableError(f"reading CBR's answer failed ({type(exc).__name__})") from exc
    return b"".join(chunks)
