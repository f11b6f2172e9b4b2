"""Settings: one frozen object built from the environment, the only code that reads it.

A missing or malformed variable raises `ConfigError` with one sentence naming it, before any
request or write is made.
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TypedDict, TypeVar
from urllib.parse import urlsplit

from lib.core.errors import ConfigError
from lib.core.ids import ID_PATTERN, ID_RULE

# Variable names, declared once.
CBR_ENDPOINT = "CBR_ENDPOINT"
CBR_PROJECT_ID = "CBR_PROJECT_ID"
CBR_AUTH_TOKEN = "CBR_AUTH_TOKEN"
IAM_ENDPOINT = "IAM_ENDPOINT"
IAM_USERNAME = "IAM_USERNAME"
IAM_PASSWORD = "IAM_PASSWORD"
IAM_DOMAIN = "IAM_DOMAIN"
CBR_ACCESS_KEY = "CBR_ACCESS_KEY"
CBR_SECRET_KEY = "CBR_SECRET_KEY"
CBR_CREDENTIALS_SECRET_ID = "CBR_CREDENTIALS_SECRET_ID"
LAKE_URI = "LAKE_URI"
LAKE_SSE = "LAKE_SSE"
SSE_KMS_KEY_ID = "SSE_KMS_KEY_ID"
DRAIN_MAX_MESSAGES = "DRAIN_MAX_MESSAGES"
DRAIN_BATCH_IDS = "DRAIN_BATCH_IDS"
QUEUE_URL = "QUEUE_URL"
FETCH_CONCURRENCY = "FETCH_CONCURRENCY"
HTTP_TIMEOUT_S = "HTTP_TIMEOUT_S"
MAX_ATTEMPTS = "MAX_ATTEMPTS"
CBR_MAX_RPS = "CBR_MAX_RPS"
CBR_API_RPS = "CBR_API_RPS"
CBR_CALLERS = "CBR_CALLERS"
LOG_LEVEL = "LOG_LEVEL"
FOLLOW_UNFINISHED = "FOLLOW_UNFINISHED"
FOLLOW_MAX_ATTEMPTS = "FOLLOW_MAX_ATTEMPTS"
FOLLOW_DELAY_S = "FOLLOW_DELAY_S"
LAMBDA_MARKER = "AWS_LAMBDA_FUNCTION_NAME"

Num = TypeVar("Num", int, float)

LOCAL_ENDPOINT = "file://events/operation-logs"
GLOBAL_IAM_ENDPOINT = "https://iam.myhuaweicloud.com"
IAM_GROUP = (IAM_USERNAME, IAM_PASSWORD, IAM_DOMAIN)
SSE_CHOICES = ("AES256", "aws:kms", "none")
AKSK_GROUP = (CBR_ACCESS_KEY, CBR_SECRET_KEY)


@dataclass(frozen=True)
class IamPassword:
    """Password auth: a project-scoped token from IAM's `POST /v3/auth/tokens`."""

    endpoint: str
    username: str
    domain: str
    password: str = field(repr=False)


@dataclass(frozen=True)
class AccessKey:
    """AK/SK auth: every request signed with SDK-HMAC-SHA256."""

    access_key: str
    secret_key: str = field(repr=False)


@dataclass(frozen=True)
class Settings:
    """Everything configurable, validated. Build with `from_env` or directly in tests."""

    cbr_endpoint: str = LOCAL_ENDPOINT
    """Base URL of the CBR API, or `file://DIR` to replay `DIR/{id}.json` offline."""
    project_id: str | None = None
    """Project used when a message names none."""
    auth_token: str | None = field(default=None, repr=False)
    """A ready IAM token, sent as X-Auth-Token."""
    iam: IamPassword | None = None
    access_key: AccessKey | None = None
    credentials_secret_id: str | None = None
    """Secrets Manager secret holding password or AK/SK credentials."""
    iam_endpoint: str = GLOBAL_IAM_ENDPOINT
    """IAM used for password auth (also with credentials from Secrets Manager)."""
    lake_uri: str = "./lake"
    lake_sse: str = "AES256"
    """Server-side encryption requested for S3 objects: AES256, aws:kms or none."""
    sse_kms_key_id: str | None = None
    queue_url: str | None = None
    drain_max_messages: int = 100_000
    """A scheduled drain stops after receiving this many messages."""
    drain_batch_ids: int = 1000
    """A scheduled drain writes after collecting about this many IDs."""
    drain_wait_s: int = 20
    """Long-polling wait of a drain's first receive (SQS allows up to 20 s)."""
    fetch_concurrency: int = 16
    http_timeout_s: float = 10.0
    max_attempts: int = 5
    max_rps: float | None = None
    """Requests per second this process may send to CBR (None: no cap)."""
    follow_unfinished: bool = False
    """Send tasks still running or waiting back to QUEUE_URL, delayed, to record their end."""
    follow_max_attempts: int = 20
    follow_delay_s: int = 60
    """Delay of the first follow-up; it doubles per attempt, up to 15 minutes."""
    log_level: str = "INFO"
    in_lambda: bool = False
    backoff_base_s: float = 0.5
    """First retry waits up to this long, doubling per failure (not an environment setting)."""

    @property
    def replay_dir(self) -> str | None:
        """The folder replayed offline, when the endpoint is `file://DIR`."""
        if self.cbr_endpoint.startswith("file://"):
            return self.cbr_endpoint.removeprefix("file://")
        return None

    @classmethod
    def for_lake(cls, env: Mapping[str, str]) -> Settings:
        """Only what lake maintenance needs (where the lake is, how to encrypt): no CBR."""
        return cls(**_lake(env), log_level=_log_level(env), in_lambda=bool(env.get(LAMBDA_MARKER)))

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Settings:
        in_lambda = bool(env.get(LAMBDA_MARKER))
        endpoint = _endpoint(env, in_lambda)
        iam_endpoint = _iam_endpoint(env)
        settings = cls(
            cbr_endpoint=endpoint,
            project_id=_optional_id(env, CBR_PROJECT_ID),
            auth_token=_optional(env, CBR_AUTH_TOKEN),
            iam=_iam(env, iam_endpoint),
            access_key=_access_key(env),
            credentials_secret_id=_optional(env, CBR_CREDENTIALS_SECRET_ID),
            iam_endpoint=iam_endpoint,
            **_lake(env),
            queue_url=_optional(env, QUEUE_URL),
            drain_max_messages=_number(env, DRAIN_MAX_MESSAGES, 100_000, int, 1, 10_000_000),
            drain_batch_ids=_number(env, DRAIN_BATCH_IDS, 1000, int, 10, 10_000),
            fetch_concurrency=_number(env, FETCH_CONCURRENCY, 16, int, 1, 256),
            http_timeout_s=_number(env, HTTP_TIMEOUT_S, 10.0, float, 0.1, 900.0),
            max_attempts=_number(env, MAX_ATTEMPTS, 5, int, 1, 20),
            max_rps=_rate(env),
            follow_unfinished=_flag(env, FOLLOW_UNFINISHED),
            follow_max_attempts=_number(env, FOLLOW_MAX_ATTEMPTS, 20, int, 1, 1000),
            follow_delay_s=_number(env, FOLLOW_DELAY_S, 60, int, 0, 900),
            log_level=_log_level(env),
            in_lambda=in_lambda,
        )
        _check_auth(settings)
        if settings.follow_unfinished and settings.queue_url is None:
            raise ConfigError(f"{FOLLOW_UNFINISHED}=true needs {QUEUE_URL}: the queue to send to.")
        return settings


def _optional(env: Mapping[str, str], name: str) -> str | None:
    value = env.get(name, "")
    return value if value.strip() else None


def _optional_id(env: Mapping[str, str], name: str) -> str | None:
    value = _optional(env, name)
    if value is not None and not ID_PATTERN.fullmatch(value):
        raise ConfigError(f"{name} must be {ID_RULE}, got {value!r}.")
    return value


def _endpoint(env: Mapping[str, str], in_lambda: bool) -> str:
    value = _optional(env, CBR_ENDPOINT)
    if value is None:
        if in_lambda:
            raise ConfigError(
                f"{CBR_ENDPOINT} must be set inside Lambda (e.g. https://cbr.REGION.myhuaweicloud.com)."
            )
        return LOCAL_ENDPOINT
    value = value.rstrip("/")
    if value.startswith("file://"):
        if not value.removeprefix("file://"):
            raise ConfigError(f"{CBR_ENDPOINT}=file://DIR needs a folder, got {value!r}.")
        return value
    parts = urlsplit(value)
    if parts.scheme == "https" and parts.hostname:
        return value
    if parts.scheme == "http" and parts.hostname and _is_loopback(parts.hostname):
        return value  # a local fake or proxy; plain HTTP anywhere else would expose credentials
    raise ConfigError(f"{CBR_ENDPOINT} must be an https:// URL or file://DIR, got {value!r}.")


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _iam_endpoint(env: Mapping[str, str]) -> str:
    endpoint = (_optional(env, IAM_ENDPOINT) or GLOBAL_IAM_ENDPOINT).rstrip("/")
    parts = urlsplit(endpoint)
    if not parts.hostname or not (
        parts.scheme == "https" or (parts.scheme == "http" and _is_loopback(parts.hostname))
    ):
        raise ConfigError(f"{IAM_ENDPOINT} must be an https:// URL, got {endpoint!r}.")
    return endpoint


def _iam(env: Mapping[str, str], endpoint: str) -> IamPassword | None:
    values = {name: _optional(env, name) for name in IAM_GROUP}
    if not any(values.values()):
        return None
    missing = [name for name, value in values.items() if value is None]
    if missing:
        raise ConfigError(f"{missing[0]} must be set with the other IAM_* password-auth variables.")
    return IamPassword(
        endpoint=endpoint,
        username=str(values[IAM_USERNAME]),
        domain=str(values[IAM_DOMAIN]),
        password=str(values[IAM_PASSWORD]),
    )


def _access_key(env: Mapping[str, str]) -> AccessKey | None:
    ak, sk = _optional(env, CBR_ACCESS_KEY), _optional(env, CBR_SECRET_KEY)
    if ak is None and sk is None:
        return None
    if ak is None or sk is None:
        missing = CBR_ACCESS_KEY if ak is None else CBR_SECRET_KEY
        raise ConfigError(
            f"{missing} must be set together with the other of {' and '.join(AKSK_GROUP)}."
        )
    return AccessKey(access_key=ak, secret_key=sk)


def _check_auth(settings: Settings) -> None:
    modes = [
        name
        for name, present in (
            (CBR_AUTH_TOKEN, settings.auth_token),
            ("IAM_*", settings.iam),
            (f"{CBR_ACCESS_KEY}/{CBR_SECRET_KEY}", settings.access_key),
            (CBR_CREDENTIALS_SECRET_ID, settings.credentials_secret_id),
        )
        if present
    ]
    if len(modes) > 1:
        raise ConfigError(f"Set only one way to authenticate, found {', '.join(modes)}.")
    if not modes and settings.cbr_endpoint.startswith("https://"):
        raise ConfigError(
            f"{CBR_ENDPOINT} is an https:// API but no credentials are set: set "
            f"{CBR_AUTH_TOKEN}, the IAM_* variables, {CBR_ACCESS_KEY}/{CBR_SECRET_KEY} "
            f"or {CBR_CREDENTIALS_SECRET_ID}."
        )


def _number(
    env: Mapping[str, str], name: str, default: Num, kind: Callable[[str], Num], low: Num, high: Num
) -> Num:
    raw = _optional(env, name)
    if raw is None:
        return default
    try:
        value = kind(raw)
    except ValueError:
        value = None
    if value is None or not low <= value <= high:
        raise ConfigError(f"{name} must be a number from {low} to {high}, got {raw!r}.")
    return value


def _rate(env: Mapping[str, str]) -> float | None:
    """CBR_MAX_RPS, checked against the API's cap shared by CBR_CALLERS concurrent invocations."""
    if _optional(env, CBR_MAX_RPS) is None:
        return None
    rate = _number(env, CBR_MAX_RPS, 0.0, float, 0.1, 10_000.0)
    api_cap = _number(env, CBR_API_RPS, 200.0, float, 1.0, 100_000.0)
    callers = _number(env, CBR_CALLERS, 1, int, 1, 10_000)
    if rate * callers > api_cap:
        raise ConfigError(
            f"{CBR_MAX_RPS}={rate:g} times {CBR_CALLERS}={callers} concurrent invocations exceeds "
            f"the API's {CBR_API_RPS}={api_cap:g} requests per second."
        )
    return rate


class _LakeFields(TypedDict):
    lake_uri: str
    lake_sse: str
    sse_kms_key_id: str | None


def _lake(env: Mapping[str, str]) -> _LakeFields:
    """Where the lake is and how its objects are encrypted."""
    kms_key = _optional(env, SSE_KMS_KEY_ID)
    return {
        "lake_uri": _lake_uri(env),
        "lake_sse": _choice(env, LAKE_SSE, "aws:kms" if kms_key else "AES256", SSE_CHOICES),
        "sse_kms_key_id": kms_key,
    }


def _lake_uri(env: Mapping[str, str]) -> str:
    uri = _optional(env, LAKE_URI) or "./lake"
    if "://" in uri and not (uri.startswith("s3://") and urlsplit(uri).netloc):
        raise ConfigError(f"{LAKE_URI} must be s3://bucket/prefix or a folder, got {uri!r}.")
    return uri


TRUE_WORDS = ("true", "1", "yes", "on")
FALSE_WORDS = ("false", "0", "no", "off")


def _flag(env: Mapping[str, str], name: str) -> bool:
    value = (_optional(env, name) or "false").lower()
    if value not in TRUE_WORDS + FALSE_WORDS:
        raise ConfigError(f"{name} must be true or false, got {value!r}.")
    return value in TRUE_WORDS


def _choice(env: Mapping[str, str], name: str, default: str, choices: tuple[str, ...]) -> str:
    value = _optional(env, name) or default
    if value not in choices:
        raise ConfigError(f"{name} must be one of {', '.join(choices)}, got {value!r}.")
    return value


def _log_level(env: Mapping[str, str]) -> str:
    level = (_optional(env, LOG_LEVEL) or "INFO").upper()
    if level not in logging.getLevelNamesMapping():
        raise ConfigError(f"{LOG_LEVEL} must be DEBUG, INFO, WARNING or ERROR, got {level!r}.")
    return level
