"""Settings: one frozen object built from the environment, the only code that reads it.

Every variable is declared once here, with its default and its limits. A missing or malformed
variable raises `ConfigError` with one sentence naming it, before any request or write is made.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from lib.core.environ import Environ
from lib.core.errors import ConfigError

# Variable names, declared once.
CBR_ENDPOINT = "CBR_ENDPOINT"
CBR_PROJECT_ID = "CBR_PROJECT_ID"
CBR_PROJECT_IDS = "CBR_PROJECT_IDS"
DISCOVER_START = "DISCOVER_START"
DISCOVER_MODE = "DISCOVER_MODE"
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
QUEUE_URL = "QUEUE_URL"
CBR_MAX_RPS = "CBR_MAX_RPS"
CBR_API_RPS = "CBR_API_RPS"
CBR_CALLERS = "CBR_CALLERS"
LOG_LEVEL = "LOG_LEVEL"
FOLLOW_UNFINISHED = "FOLLOW_UNFINISHED"
INVENTORY_TYPES = "INVENTORY_TYPES"
LAMBDA_MARKER = "AWS_LAMBDA_FUNCTION_NAME"

LOCAL_ENDPOINT = "file://events/operation-logs"
DEFAULT_LAKE = "./lake"
GLOBAL_IAM_ENDPOINT = "https://iam.myhuaweicloud.com"
IAM_GROUP = (IAM_USERNAME, IAM_PASSWORD, IAM_DOMAIN)
AKSK_GROUP = (CBR_ACCESS_KEY, CBR_SECRET_KEY)
SSE_CHOICES = ("AES256", "aws:kms", "none")
# The shapes of free-text values, so a typo fails the cold start instead of the first call.
QUEUE_URL_SHAPE = re.compile(r"https?://[A-Za-z0-9.:\[\]-]+(?:/\S*)?")
SECRET_ID = re.compile(r"[A-Za-z0-9/_+=.@:-]{1,2048}")
KMS_KEY = re.compile(r"[A-Za-z0-9/_:.-]{1,2048}")
DISCOVER_MODES = ("lake", "queue")
# ListProtectable's path types (the API documents these five; the default is the first three).
# Here, not beside the inventory's tables: reading the settings must not import pyarrow.
PROTECTABLE_TYPES = ("server", "disk", "turbo", "workspace", "workspace_v2")
DEFAULT_PROTECTABLE_TYPES = ("server", "disk", "turbo")


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
class LakeLocation:
    """Where the lake is and how to reach it: all the lake layer needs to open a store."""

    uri: str = DEFAULT_LAKE
    sse: str = "AES256"
    """Server-side encryption requested for S3 objects: AES256, aws:kms or none."""
    kms_key_id: str | None = None

    @property
    def is_s3(self) -> bool:
        return self.uri.startswith("s3://")


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
    lake_uri: str = DEFAULT_LAKE
    lake_sse: str = "AES256"
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
    project_ids: tuple[str, ...] = ()
    """Projects discovery lists (CBR_PROJECT_IDS); empty: CBR_PROJECT_ID alone."""
    discover_lookback_h: float = 24.0
    """Each discovery pass lists again this many hours before the watermark."""
    discover_start: datetime | None = None
    """Where discovery of a project with no watermark begins; None: 30 days ago."""
    discover_mode: str = "lake"
    """`lake`: write listed logs straight into the lake; `queue`: send their IDs to QUEUE_URL."""
    inventory_types: tuple[str, ...] = DEFAULT_PROTECTABLE_TYPES
    """The ListProtectable types an inventory snapshot lists (INVENTORY_TYPES)."""
    inventory_keep_days: int = 400
    """Compaction may remove inventory snapshots older than this (never a project's latest)."""
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

    @property
    def lake(self) -> LakeLocation:
        return LakeLocation(self.lake_uri, self.lake_sse, self.sse_kms_key_id)

    @property
    def discover_projects(self) -> tuple[str, ...]:
        if self.project_ids:
            return self.project_ids
        return (self.project_id,) if self.project_id else ()

    def secrets(self) -> list[str]:
        """Every secret value these settings hold, for the log redactor."""
        values = [self.auth_token]
        if self.iam is not None:
            values.append(self.iam.password)
        if self.access_key is not None:
            values.append(self.access_key.secret_key)
        return [value for value in values if value]

    @classmethod
    def for_lake(cls, environ: Mapping[str, str], lake_uri: str | None = None) -> Settings:
        """Only what lake maintenance and reading need (where the lake is, how to reach and
        encrypt it): no CBR settings are read. `lake_uri` (a --lake option) wins over LAKE_URI."""
        env = Environ(environ)
        keep = _NUMBERS_BY_FIELD["inventory_keep_days"].read(env)
        return cls(**_lake(env, lake_uri), **_logging(env), inventory_keep_days=keep)

    @classmethod
    def for_discovery_state(
        cls, environ: Mapping[str, str], lake_uri: str | None = None
    ) -> Settings:
        """The lake's settings and the projects discovery works on, with DISCOVER_START: what
        reading discovery's state needs (no CBR endpoint or credentials)."""
        env = Environ(environ)
        return cls(
            project_id=env.optional_id(CBR_PROJECT_ID),
            project_ids=env.id_list(CBR_PROJECT_IDS),
            discover_start=_discover_start(env),
            **_lake(env, lake_uri),
            **_logging(env),
        )

    @classmethod
    def from_env(cls, environ: Mapping[str, str], lake_uri: str | None = None) -> Settings:
        env = Environ(environ)
        iam_endpoint = env.secure_url(IAM_ENDPOINT, GLOBAL_IAM_ENDPOINT)
        settings = cls(
            cbr_endpoint=_endpoint(env),
            project_id=env.optional_id(CBR_PROJECT_ID),
            auth_token=env.get(CBR_AUTH_TOKEN),
            iam=_iam(env, iam_endpoint),
            access_key=_access_key(env),
            credentials_secret_id=env.matching(
                CBR_CREDENTIALS_SECRET_ID, SECRET_ID, "a name or ARN"
            ),
            iam_endpoint=iam_endpoint,
            queue_url=env.matching(QUEUE_URL, QUEUE_URL_SHAPE, "an http(s):// queue URL"),
            max_rps=_rate(env),
            follow_unfinished=env.flag(FOLLOW_UNFINISHED),
            project_ids=env.id_list(CBR_PROJECT_IDS),
            discover_start=_discover_start(env),
            discover_mode=env.choice(DISCOVER_MODE, "lake", DISCOVER_MODES),
            inventory_types=env.choices(
                INVENTORY_TYPES, DEFAULT_PROTECTABLE_TYPES, PROTECTABLE_TYPES
            ),
            **_lake(env, lake_uri),
            **_logging(env),
            **{spec.field: spec.read(env) for spec in NUMBERS},
        )
        _check_auth(settings)
        for needs_queue, what in (
            (settings.follow_unfinished, f"{FOLLOW_UNFINISHED}=true"),
            (settings.discover_mode == "queue", f"{DISCOVER_MODE}=queue"),
        ):
            if needs_queue and settings.queue_url is None:
                raise ConfigError(f"{what} needs {QUEUE_URL}: the queue to send to.")
        return settings


_DEFAULTS = {f.name: f.default for f in fields(Settings)}


@dataclass(frozen=True)
class _Number:
    """A numeric variable: the Settings field it fills (and whose default it keeps), its limits."""

    field: str
    kind: Callable[[str], int | float]
    low: float
    high: float

    @property
    def variable(self) -> str:
        return self.field.upper()

    def read(self, env: Environ) -> Any:
        return env.number(self.variable, _DEFAULTS[self.field], self.kind, self.low, self.high)


NUMBERS = (
    _Number("drain_max_messages", int, 1, 10_000_000),
    _Number("drain_batch_ids", int, 10, 10_000),
    _Number("fetch_concurrency", int, 1, 256),
    _Number("http_timeout_s", float, 0.1, 900.0),
    _Number("max_attempts", int, 1, 20),
    _Number("follow_max_attempts", int, 1, 1000),
    _Number("follow_delay_s", int, 0, 900),
    _Number("discover_lookback_h", float, 0, 720),
    _Number("inventory_keep_days", int, 1, 36_500),
)
_NUMBERS_BY_FIELD = {spec.field: spec for spec in NUMBERS}


def _discover_start(env: Environ) -> datetime | None:
    """DISCOVER_START: a past moment from the year 1000 on (the API takes four-digit years, and
    a start still to come would list nothing and read as complete)."""
    start = env.moment(DISCOVER_START)
    if start is not None and (start.year < 1000 or start > datetime.now(UTC)):
        raise ConfigError(
            f"{DISCOVER_START} must be a date or UTC datetime from the year 1000 up to now, "
            f"got {env.get(DISCOVER_START)!r}."
        )
    return start


def _endpoint(env: Environ) -> str:
    value = env.get(CBR_ENDPOINT)
    if value is None:
        if env.get(LAMBDA_MARKER):
            raise ConfigError(
                f"{CBR_ENDPOINT} must be set inside Lambda (e.g. https://cbr.REGION.myhuaweicloud.com)."
            )
        return LOCAL_ENDPOINT
    if value.startswith("file://"):
        if not value.removeprefix("file://").rstrip("/"):
            raise ConfigError(f"{CBR_ENDPOINT}=file://DIR needs a folder, got {value!r}.")
        return value.rstrip("/")
    return env.secure_url(CBR_ENDPOINT, None, also="or file://DIR")


def _iam(env: Environ, endpoint: str) -> IamPassword | None:
    values = {name: env.get(name) for name in IAM_GROUP}
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


def _access_key(env: Environ) -> AccessKey | None:
    ak, sk = env.get(CBR_ACCESS_KEY), env.get(CBR_SECRET_KEY)
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


def _rate(env: Environ) -> float | None:
    """CBR_MAX_RPS, checked against the API's cap shared by CBR_CALLERS concurrent invocations.
    All three are read (and checked) even when no cap is set."""
    api_cap = float(env.number(CBR_API_RPS, 200.0, float, 1.0, 100_000.0))
    callers = int(env.number(CBR_CALLERS, 1, int, 1, 10_000))
    if env.get(CBR_MAX_RPS) is None:
        return None
    rate = float(env.number(CBR_MAX_RPS, 0.0, float, 0.1, 10_000.0))
    if rate * callers > api_cap:
        raise ConfigError(
            f"{CBR_MAX_RPS}={rate:g} times {CBR_CALLERS}={callers} concurrent invocations exceeds "
            f"the API's {CBR_API_RPS}={api_cap:g} requests per second."
        )
    return rate


def _lake(env: Environ, lake_uri: str | None) -> dict[str, Any]:
    """Where the lake is and how its objects are encrypted. Its endpoint and credentials are
    boto3's own (AWS_ENDPOINT_URL_S3 and the standard AWS variables)."""
    kms_key = env.matching(SSE_KMS_KEY_ID, KMS_KEY, "a key ID, alias or ARN")
    return {
        "lake_uri": check_lake_uri(lake_uri if lake_uri is not None else env.get(LAKE_URI)),
        "lake_sse": env.choice(LAKE_SSE, "aws:kms" if kms_key else "AES256", SSE_CHOICES),
        "sse_kms_key_id": kms_key,
    }


def check_lake_uri(uri: str | None) -> str:
    """`s3://bucket[/prefix]` or a local folder; anything that looks like another URI (or a
    mistyped `s3:/...`) is refused rather than taken for a folder name."""
    uri = uri or DEFAULT_LAKE
    parts = urlsplit(uri)
    looks_like_uri = "://" in uri or (len(parts.scheme) > 1 and uri[len(parts.scheme)] == ":")
    if looks_like_uri and not (parts.scheme == "s3" and uri.startswith("s3://") and parts.netloc):
        raise ConfigError(f"{LAKE_URI} must be s3://bucket/prefix or a folder, got {uri!r}.")
    return uri


def _logging(env: Environ) -> dict[str, Any]:
    level = (env.get(LOG_LEVEL) or str(_DEFAULTS["log_level"])).upper()
    if level not in logging.getLevelNamesMapping():
        raise ConfigError(f"{LOG_LEVEL} must be DEBUG, INFO, WARNING or ERROR, got {level!r}.")
    return {"log_level": level, "in_lambda": bool(env.get(LAMBDA_MARKER))}


def variable_names() -> frozenset[str]:
    """Every environment variable the settings read (for the template and README checks)."""
    named = {
        value
        for name, value in globals().items()
        if name.isupper() and isinstance(value, str) and value.isupper() and value.isidentifier()
    }
    return frozenset(named | {spec.variable for spec in NUMBERS})
