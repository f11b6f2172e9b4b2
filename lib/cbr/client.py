"""The CBR client: fetch one operation log or read one answer of a list API, retrying what may
work later.

`lib.cbr.answers.classify` says what an answer means; `CbrClient` applies the retry policy (at
most `max_attempts` requests per call, exponential backoff with jitter, `Retry-After` honoured,
nothing waited or requested past the deadline).
"""

from __future__ import annotations

import functools
import random
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlencode

import requests
import urllib3
from requests.auth import AuthBase
from urllib3.response import BaseHTTPResponse

from lib.cbr.answers import (
    Fetched,
    ListAnswer,
    LogPage,
    classify,
    list_answer,
    log_page,
    operation_log,
)
from lib.cbr.auth import AuthProvider
from lib.core.errors import (
    AccessError,
    FetchError,
    RetriableError,
    TokenExpired,
)
from lib.core.ids import ID_PATTERN
from lib.core.runtime import Deadline

MAX_BODY_BYTES = 16 * 1024 * 1024
READ_CHUNK = 64 * 1024
MIN_REQUEST_S = 0.05  # below this there is no point starting a request


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
        backoff = min(self.cap_s, self.base_s * 2.0 ** (failures - 1)) * self.rand()
        return max(backoff, retry_after or 0.0)


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

    def url(self, operation_log_id: str, project_id: str) -> str:
        return f"{self.list_url(project_id)}/{_url_id(operation_log_id)}"

    def list_url(self, project_id: str) -> str:
        return f"{self._endpoint}/v3/{_url_id(project_id)}/operation-logs"

    def api_url(self, project_id: str, *segments: str) -> str:
        """`{endpoint}/v3/{project_id}/{segments...}`, every segment checked like an ID."""
        return "/".join([self._endpoint, "v3", *map(_url_id, (project_id, *segments))])

    def fetch(
        self, operation_log_id: str, project_id: str, deadline: Deadline, stats: FetchStats
    ) -> Fetched:
        """The operation_log (decoded, and its text), or the FetchError that ended the attempts."""
        fetched: Fetched = self._call(
            self.url(operation_log_id, project_id), None, project_id, deadline, stats, operation_log
        )
        return fetched

    def list_page(
        self,
        project_id: str,
        query: Mapping[str, str | int],
        deadline: Deadline,
        stats: FetchStats,
    ) -> LogPage:
        """One page of `GET /v3/{project_id}/operation-logs?...` (ListOpLogs), same retries."""
        page: LogPage = self._call(
            self.list_url(project_id), dict(query), project_id, deadline, stats, log_page
        )
        return page

    def list_items(
        self,
        project_id: str,
        path: tuple[str, ...],
        key: str,
        query: Mapping[str, str | int],
        deadline: Deadline,
        stats: FetchStats,
    ) -> ListAnswer:
        """One answer of any CBR list API, `GET /v3/{project_id}/{path}?{query}`: the objects of
        its `key` list and its `count`. Same auth, pacing, retries and errors as `fetch`."""
        # The query is written into the URL here, not left to `requests`, which adds `params`
        # only to http(s) URLs: the offline replay (file://) must see offset, limit and marker.
        url = self.api_url(project_id, *path) + (f"?{urlencode(query)}" if query else "")
        answer: ListAnswer = self._call(
            url,
            None,
            project_id,
            deadline,
            stats,
            functools.partial(list_answer, key),
        )
        return answer

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
                self._auth.refresh(
                    project_id, exc.stale if isinstance(exc.stale, AuthBase) else None
                )
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
