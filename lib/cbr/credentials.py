"""CBR credentials kept in Secrets Manager (CBR_CREDENTIALS_SECRET_ID).

The secret is a JSON object: `{"username", "password", "domain"}` for IAM password auth, or
`{"access_key", "secret_key"}` for AK/SK signing. It is read once per cold start, and read again
after an authentication failure (it may have been rotated), at most once per `RELOAD_AFTER_S`.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import requests
from requests.auth import AuthBase

from lib.cbr.auth import AuthProvider, provider_for
from lib.core.environ import is_exact
from lib.core.errors import AccessError, ConfigError
from lib.core.runtime import Remember, log_event
from lib.core.settings import CBR_CREDENTIALS_SECRET_ID, AccessKey, IamPassword

RELOAD_AFTER_S = 30.0
Credentials = IamPassword | AccessKey


def parse_secret(text: str, iam_endpoint: str) -> Credentials:
    """The credentials in a secret's JSON; the error never quotes the secret."""
    try:
        document = json.loads(text)
    except ValueError:
        document = None
    if isinstance(document, dict):
        if _has(document, "access_key", "secret_key"):
            return AccessKey(document["access_key"], document["secret_key"])
        if _has(document, "username", "password", "domain"):
            return IamPassword(
                endpoint=iam_endpoint,
                username=document["username"],
                domain=document["domain"],
                password=document["password"],
            )
    raise ConfigError(
        f"The secret named by {CBR_CREDENTIALS_SECRET_ID} must be a JSON object with "
        "username, password and domain, or with access_key and secret_key (non-empty, with no "
        "surrounding space or control character)."
    )


def _has(document: dict[str, Any], *keys: str) -> bool:
    """Every key holds text used exactly as given (a stray newline would end up in a header)."""
    return all(isinstance(document.get(k), str) and is_exact(document[k]) for k in keys)


def fetch_secret(client: Any, secret_id: str) -> str:
    """The secret's text, or a ConfigError that says what to check."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        return str(client.get_secret_value(SecretId=secret_id)["SecretString"])
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        raise ConfigError(
            f"{CBR_CREDENTIALS_SECRET_ID}={secret_id} could not be read ({code}): "
            "check that it exists and that the function may read it."
        ) from None
    except (BotoCoreError, KeyError) as exc:
        raise ConfigError(
            f"{CBR_CREDENTIALS_SECRET_ID}={secret_id} could not be read ({type(exc).__name__})."
        ) from None


class SecretAuth:
    """An AuthProvider whose credentials come from Secrets Manager and follow rotation."""

    can_refresh = True

    def __init__(
        self,
        load: Callable[[], Credentials],
        session: requests.Session,
        remember: Remember,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._remember = remember
        self._load = load
        self._session = session
        self._clock = clock
        self._lock = threading.Lock()
        self._credentials = self._keep(load())
        self._inner = provider_for(self._credentials, session, remember)
        self._loaded_at = clock()
        self.loads = 1

    def __repr__(self) -> str:
        return f"SecretAuth({type(self._credentials).__name__})"

    def for_project(self, project_id: str, timeout: float) -> AuthBase | None:
        inner = self._inner
        try:
            return inner.for_project(project_id, timeout)
        except AccessError:
            if not self._reload_if_changed(inner):
                raise
            return self._inner.for_project(project_id, timeout)

    def refresh(self, project_id: str, stale: AuthBase | None) -> None:
        inner = self._inner
        if not self._reload_if_changed(inner):
            inner.refresh(project_id, stale)

    def _reload_if_changed(self, seen: AuthProvider) -> bool:
        """Read the secret again; True when it now holds other credentials."""
        with self._lock:
            if self._inner is not seen:
                return True  # another request already reloaded
            if self._clock() - self._loaded_at < RELOAD_AFTER_S and self.loads > 1:
                return False
            try:
                credentials = self._keep(self._load())
            except ConfigError as exc:
                log_event(logging.ERROR, f"re-reading the credentials failed: {exc}")
                return False
            self._loaded_at = self._clock()
            self.loads += 1
            if credentials == self._credentials:
                return False
            log_event(logging.WARNING, "credentials changed in Secrets Manager; using the new ones")
            self._credentials = credentials
            self._inner = provider_for(credentials, self._session, self._remember)
            return True

    def _keep(self, credentials: Credentials) -> Credentials:
        """The credentials, after their secret was handed to the log redactor."""
        if isinstance(credentials, AccessKey):
            self._remember(credentials.secret_key)
        else:
            self._remember(credentials.password)
        return credentials
