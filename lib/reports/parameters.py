"""Report parameters, declared once: the SQL tokens, their defaults, and how each is filled in.

Report SQL names its parameters as tokens (`{since}`, `{until}`, `{at}`, `{rpo_hours}`, ...). The
CLI replaces them with literals (`Scope.literals`); the Athena generator with the defaults, as
expressions relative to the time a saved query runs (`athena_literals`). Moments are UTC; `at`
is the evaluation time: the end of the period, or now when that is earlier.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from lib.core.times import format_utc

MOMENTS = ("since", "until", "at")
TOKEN = re.compile(r"\{([a-z_]+)\}")
LARGEST = 1_000_000.0  # no threshold needs more; keeps every literal inside SQL's numeric range


class ParameterError(ValueError):
    """A parameter value that no report can run with; names the parameter, not a CLI flag."""

    def __init__(self, name: str, message: str) -> None:
        super().__init__(f"{name}: {message}")
        self.name = name


class PeriodError(ValueError):
    """The period's start is not before its end."""

    def __init__(self, since: datetime, until: datetime) -> None:
        super().__init__(
            f"the period must start before it ends: {format_utc(since)} is not before "
            f"{format_utc(until)}"
        )
        self.since, self.until = since, until


@dataclass(frozen=True)
class Parameter:
    """A number a report or control is run with."""

    name: str  # the SQL token, e.g. rpo_hours -> {rpo_hours}
    default: float | None  # None: the report declares it (`-- hours: 24`)
    unit: str  # shown after the value: "h", "d", "min", "%"
    description: str
    maximum: float = LARGEST


PARAMETERS: dict[str, Parameter] = {
    p.name: p
    for p in (
        Parameter("hours", None, "h", "threshold of stale-resources and stuck"),
        Parameter("rpo_hours", 24, "h", "backup-within-rpo: latest successful backup age"),
        Parameter("adherence_pct", 100, "%", "daily-adherence: share of days", maximum=100),
        Parameter("copy_within_hours", 24, "h", "cross-region-copy: backups older than this"),
        Parameter("restore_test_days", 90, "d", "restore-tested: a successful restore within"),
        Parameter("max_restore_minutes", 720, "min", "restore-time: longest restore allowed"),
        Parameter("min_retention_days", 7, "d", "min-retention: youngest backup deletable"),
        Parameter("stuck_hours", 6, "h", "no-stuck-tasks: longest running/waiting time"),
        Parameter("max_backup_interval_hours", 24, "h", "policy-frequency: longest scheduled gap"),
        Parameter("policy_retention_days", 7, "d", "policy-retention: shortest retention"),
        Parameter("vault_usage_pct", 90, "%", "vault-capacity: fullest vault", maximum=100),
    )
}


def check_number(name: str, value: float) -> float:
    """A parameter value: finite, not negative, at most the parameter's maximum."""
    parameter = PARAMETERS[name]
    if not math.isfinite(value) or value < 0:
        raise ParameterError(name, f"must be a number of at least 0, got {value!r}")
    if value > parameter.maximum:
        raise ParameterError(name, f"must be at most {format_number(parameter.maximum)}")
    return float(value)


def format_number(value: float) -> str:
    """A parameter as SQL and people read it: 24, 0.5, 12.25 (no exponent, no trailing zeros)."""
    text = f"{value:.6f}".rstrip("0").rstrip(".")
    return text or "0"


def tokens_in(sql: str) -> list[str]:
    """The numeric parameters a SQL text uses, in declaration order."""
    found = set(TOKEN.findall(sql))
    unknown = found - set(PARAMETERS) - set(MOMENTS)
    if unknown:
        raise RuntimeError(f"undeclared SQL parameters: {sorted(unknown)}")
    return [name for name in PARAMETERS if name in found]


@dataclass(frozen=True)
class Request:
    """What the user asked for; anything left out takes the report's defaults."""

    now: datetime
    since: datetime | None = None
    until: datetime | None = None
    values: Mapping[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name, value in self.values.items():
            check_number(name, value)
        if self.since is not None and self.until is not None and self.since >= self.until:
            raise PeriodError(self.since, self.until)


@dataclass(frozen=True)
class Scope:
    """The period and parameters one report ran with, stated at the top of its output."""

    since: datetime | None  # None: from the beginning of the lake
    until: datetime | None  # None: up to now
    at: datetime  # evaluation time
    values: Mapping[str, float]  # the numeric parameters the report uses

    def literals(self) -> dict[str, str]:
        """Token -> SQL literal; timestamps naive UTC (DuckDB runs with TimeZone=UTC)."""
        moments = {
            "since": _stamp(self.since) if self.since else "TIMESTAMP '-infinity'",
            "until": _stamp(self.until) if self.until else "TIMESTAMP 'infinity'",
            "at": _stamp(self.at),
        }
        return moments | {name: format_number(v) for name, v in self.values.items()}


def scope_for(
    request: Request,
    window_days: int | None,
    used: list[str],
    report_defaults: Mapping[str, float] | None = None,
) -> Scope:
    """The scope of one report: its default window and parameter defaults filled in."""
    since = request.since
    if since is None and window_days:  # whole UTC days: today so far and the N days before
        midnight = request.now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        since = midnight - timedelta(days=window_days)
    if since is not None and request.until is not None and since >= request.until:
        raise PeriodError(since, request.until)
    at = min(request.until, request.now) if request.until else request.now
    values = {}
    for name in used:
        value = request.values.get(name)
        if value is None:
            value = (report_defaults or {}).get(name, PARAMETERS[name].default)
        if value is None:
            raise RuntimeError(f"no default for {name}")
        values[name] = float(value)
    return Scope(since, request.until, at, values)


# Now, as a plain UTC timestamp: Athena's current_timestamp carries a time zone, and Trino has
# no sequence() over those, nor compares them with the lake's timestamps without a conversion.
ATHENA_NOW = "CAST(current_timestamp AT TIME ZONE 'UTC' AS TIMESTAMP)"


def athena_literals(
    window_days: int | None, used: list[str], defaults: Mapping[str, float]
) -> dict[str, str]:
    """Token -> Athena expression: the default window relative to the query's run time."""
    since = (
        f"date_trunc('day', {ATHENA_NOW}) - INTERVAL '{window_days}' DAY"
        if window_days
        else "TIMESTAMP '1970-01-01 00:00:00'"
    )
    moments = {
        "since": since,
        "until": f"{ATHENA_NOW} + INTERVAL '1' DAY",
        "at": ATHENA_NOW,
    }
    numbers = {}
    for name in used:
        value = defaults.get(name, PARAMETERS[name].default)
        numbers[name] = format_number(float(value or 0))
    return moments | numbers


def render(sql: str, literals: Mapping[str, str]) -> str:
    return TOKEN.sub(lambda m: literals[m[1]], sql)


def _stamp(moment: datetime) -> str:
    return f"TIMESTAMP '{moment.astimezone(UTC).strftime('%Y-%m-%d %H:%M:%S.%f')}'"
