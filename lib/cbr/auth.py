"""How CBR requests are authenticated: a ready token, or IAM project tokens fetched and cached.

Every provider answers `for_project(project_id, timeout)` with a requests auth object for one
request. Only IAM tokens can be refreshed: `refresh(project_id, stale)` drops the cached token if
it is still the stale one, so many requests that saw the same 401 cause a single new token.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

import requests
from requests.auth import AuthBase

from lib.cbr.signer import AkSkSigner
from lib.core.errors import AccessError, ApiAnswer, FetchError, RetriableError
from lib.core.runtime import Remember
from lib.core.settings import IAM_USERNAME, AccessKey, IamPassword
from lib.core.times import parse_utc

REFRESH_BEFORE_S = 5 * 60  # renew this long before IAM's expires_at
UNKNOWN_LIFETIME_S = 60 * 60  # a token without expires_at is kept this long
REFUSED_PAUSE_S = 60.0  # after IAM refuses the password, do not ask again for this long


class TokenHeader(AuthBase):
    """Sends an IAM token as X-Auth-Token; remembers it so a 401 can name the stale one."""

    def __init__(self, token: str) -> None:
        self.token = token

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["X-Auth-Token"] = self.token
        return request

    def __repr__(self) -> str:
        return "TokenHeader(***)"


class AuthProvider(Protocol):
    can_refresh: bool

    def for_project(self, project_id: str, timeout: float) -> AuthBase | None: ...

    def refresh(self, project_id: str, stale: AuthBase | None) -> None: ...


class NoAuth:
    """Offline replay and loopback fakes: nothing to send."""

    can_refresh = False

    def for_project(self, project_id: str, timeout: float) -> AuthBase | None:
        return None

    def refresh(self, project_id: str, stale: AuthBase | None) -> None:
        pass


@dataclass
class StaticToken:
    """CBR_AUTH_TOKEN: the same token for every project; a 401 cannot be mended."""

    token: str
    can_refresh = False

    def __repr__(self) -> str:
        return "StaticToken(***)"

    def for_project(self, project_id: str, timeout: float) -> AuthBase | None:
        return TokenHeader(self.token)

    def refresh(self, project_id: str, stale: AuthBase | None) -> None:
        pass


@dataclass(frozen=True)
class _CachedToken:
    token: str
    renew_at: float  # wall-clock seconds


class IamTokens:
    """One token per project from IAM, kept across warm invocations until shortly before expiry."""

    can_refresh = True

    def __init__(
        self,
        session: requests.Session,
        credentials: IamPassword,
        remember: Remember,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._session = session
        self._credentials = credentials
        self._clock = clock
        self._cache: dict[str, _CachedToken] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()
        self._failures: dict[str, tuple[FetchError, float]] = {}
        self._remember = remember

    def __repr__(self) -> str:
        return f"IamTokens(user={self._credentials.username!r}, projects={sorted(self._cache)})"

    def for_project(self, project_id: str, timeout: float) -> AuthBase | None:
        asked_at = time.monotonic()
        with self._lock(project_id):
            self._raise_recent_failure(project_id, asked_at)
            cached = self._cache.get(project_id)
            if cached is None or self._clock() >= cached.renew_at:
                remaining = timeout - (time.monotonic() - asked_at)  # waiting used some of it
                try:
                    cached = self._issue(project_id, max(remaining, 0.05))
                except FetchError as exc:
                    self._failures[project_id] = (exc, time.monotonic())
                    raise
                self._failures.pop(project_id, None)
                self._cache[project_id] = cached
            return TokenHeader(cached.token)

    def _raise_recent_failure(self, project_id: str, asked_at: float) -> None:
        """Requests that queued behind a failed token request share its failure instead of
        asking IAM again one after another; a refused password is not retried for a while
        (repeated failed logins can lock the IAM user)."""
        failure = self._failures.get(project_id)
        if failure is None:
            return
        error, failed_at = failure
        refused = isinstance(error, AccessError)
        if failed_at >= asked_at or (refused and time.monotonic() - failed_at < REFUSED_PAUSE_S):
            raise type(error)(str(error), error.answer)

    def refresh(self, project_id: str, stale: AuthBase | None) -> None:
        with self._lock(project_id):
            cached = self._cache.get(project_id)
            if (
                cached is not None
                and isinstance(stale, TokenHeader)
                and cached.token == stale.token
            ):
                del self._cache[project_id]

    def _lock(self, project_id: str) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(project_id, threading.Lock())

    def _issue(self, project_id: str, timeout: float) -> _CachedToken:
        response = self._post(project_id, timeout)
        token = response.headers.get("X-Subject-Token")
        if response.status_code != 201 or not token:
            raise _iam_failure(response)
        self._remember(token)
        return _CachedToken(token, self._renew_at(response))

    def _post(self, project_id: str, timeout: float) -> requests.Response:
        credentials = self._credentials
        body = {
            "auth": {
                "identity": {
                    "methods": ["password"],
                    "password": {
                        "user": {
                            "name": credentials.username,
                            "password": credentials.password,
                            "domain": {"name": credentials.domain},
                        }
                    },
                },
                "scope": {"project": {"id": project_id}},
            }
        }
        try:
            return self._session.post(
                f"{credentials.endpoint}/v3/auth/tokens",
                params={"nocatalog": "true"},
                json=body,
                timeout=timeout,
                allow_redirects=False,
            )
        except requests.RequestException as exc:
            raise RetriableError(f"IAM token endpoint unreachable ({type(exc).__name__})") from exc

    def _renew_at(self, response: requests.Response) -> float:
        now = self._clock()
        try:
            expires = parse_utc(str(response.json()["token"]["expires_at"]))
        except (ValueError, KeyError, TypeError):
            return now + UNKNOWN_LIFETIME_S
        return _timestamp(expires) - REFRESH_BEFORE_S


def _timestamp(moment: datetime) -> float:
    return moment.timestamp()


def _iam_failure(response: requests.Response) -> Exception:
    status = response.status_code
    if status == 429 or status >= 500:
        return RetriableError(f"IAM token endpoint answered {status}", ApiAnswer(status))
    return AccessError(
        f"IAM refused a token for {IAM_USERNAME} (HTTP {status}): check the IAM_* settings",
        ApiAnswer(status),
    )


@dataclass
class AccessKeyAuth:
    """CBR_ACCESS_KEY/CBR_SECRET_KEY: every request signed; nothing to refresh."""

    credentials: AccessKey
    can_refresh = False

    def for_project(self, project_id: str, timeout: float) -> AuthBase | None:
        return AkSkSigner(self.credentials.access_key, self.credentials.secret_key, project_id)

    def refresh(self, project_id: str, stale: AuthBase | None) -> None:
        pass


def provider_for(
    credentials: IamPassword | AccessKey, session: requests.Session, remember: Remember
) -> AuthProvider:
    """The auth provider for one set of credentials; `remember` learns every token issued."""
    if isinstance(credentials, AccessKey):
        return AccessKeyAuth(credentials)
    return IamTokens(session, credentials, remember)
