"""Pure: a backup policy's trigger patterns -> the longest gap between two of its scheduled runs.

CBR writes a policy's schedule as iCalendar RRULE strings, in UTC, from a small subset: `FREQ`
(`DAILY` or `WEEKLY`), `INTERVAL`, `BYDAY` (MO..SU), `BYHOUR`, `BYMINUTE`, e.g.
`FREQ=WEEKLY;BYDAY=MO,TU;BYHOUR=14;BYMINUTE=00`. The runs of all a policy's patterns together
repeat every L days, L the least common multiple of 7 and each pattern's cycle (INTERVAL days, or
INTERVAL weeks counted from the week of the trigger's start, weeks beginning on Monday). Every run
of one such period is enumerated, so the longest gap (including the one from the period's last run
to the next period's first) is exact, for INTERVAL > 1 too.

Nothing is guessed: a pattern outside the subset, or an answer that would depend on a start the
trigger does not give, leaves the policy without a max interval and names the unread patterns.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

DAY_NAMES = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
MINUTES_A_DAY = 24 * 60
MAX_INTERVAL = 366
MAX_PERIOD_DAYS = 3660  # ten years of runs: beyond, the patterns are too irregular to enumerate
KEYS = ("FREQ", "INTERVAL", "BYDAY", "BYHOUR", "BYMINUTE")


class Unreadable(ValueError):
    """A pattern (or a set of them) this module does not read; the message says why."""


@dataclass(frozen=True)
class Rule:
    """One pattern, read: the days it runs on and the minutes of those days."""

    daily: bool
    interval: int
    weekdays: frozenset[int] | None  # 0 = Monday; None: every day of a daily rule
    minutes: tuple[int, ...]

    @property
    def cycle_days(self) -> int:
        return self.interval if self.daily else 7 * self.interval

    def runs_on(self, day: int, first_weekday: int) -> bool:
        """Whether the rule runs on the `day`-th day after the start (a `first_weekday`)."""
        weekday = (first_weekday + day) % 7
        if self.weekdays is not None and weekday not in self.weekdays:
            return False
        if self.daily:
            return day % self.interval == 0
        return ((first_weekday + day) // 7) % self.interval == 0


@dataclass(frozen=True)
class Schedule:
    """What the patterns give: the longest gap in hours (None when not known), and the patterns
    that could not be read, with why."""

    max_interval_hours: float | None
    unreadable: tuple[str, ...] = ()
    reason: str | None = None


def read_schedule(patterns: Sequence[str], start: date | None) -> Schedule:
    """The longest gap between two runs of all the patterns together; `start` is the trigger's
    start date (it sets the phase of INTERVAL > 1 and a weekly rule's day when BYDAY is absent)."""
    rules, unread, reasons = [], [], []
    for pattern in patterns:
        try:
            rules.append(parse_rule(pattern, start))
        except Unreadable as exc:
            unread.append(pattern)
            reasons.append(f"{pattern!r}: {exc}")
    if unread:
        return Schedule(None, tuple(unread), "; ".join(reasons))
    if not rules:
        return Schedule(None, (), "no pattern")
    try:
        return Schedule(longest_gap_minutes(rules, start) / 60)
    except Unreadable as exc:
        return Schedule(None, tuple(patterns), str(exc))


def parse_rule(pattern: str, start: date | None = None) -> Rule:
    """One RRULE string of the subset, or Unreadable saying what is outside it."""
    parts = _parts(pattern)
    freq = parts.get("FREQ")
    if freq not in ("DAILY", "WEEKLY"):
        raise Unreadable("FREQ must be DAILY or WEEKLY")
    if "BYHOUR" not in parts or "BYMINUTE" not in parts:
        raise Unreadable("BYHOUR and BYMINUTE are required")
    interval = _numbers(parts.get("INTERVAL", "1"), "INTERVAL", 1, MAX_INTERVAL)
    if len(interval) != 1:
        raise Unreadable("INTERVAL must be one number")
    weekdays = _weekdays(parts["BYDAY"]) if "BYDAY" in parts else None
    if freq == "WEEKLY" and weekdays is None:
        if start is None:
            raise Unreadable("a weekly rule without BYDAY runs on its start's weekday: none given")
        weekdays = frozenset({start.weekday()})
    hours = _numbers(parts["BYHOUR"], "BYHOUR", 0, 23)
    minutes = _numbers(parts["BYMINUTE"], "BYMINUTE", 0, 59)
    times = sorted({hour * 60 + minute for hour in hours for minute in minutes})
    return Rule(freq == "DAILY", interval[0], weekdays, tuple(times))


def longest_gap_minutes(rules: Sequence[Rule], start: date | None) -> int:
    """The longest gap between consecutive runs of the rules, over one whole period."""
    period = math.lcm(7, *(rule.cycle_days for rule in rules))
    if period > MAX_PERIOD_DAYS:
        raise Unreadable(f"the patterns repeat only every {period} days")
    phased = len(rules) > 1 and any(rule.interval > 1 for rule in rules)
    if start is None and phased:
        raise Unreadable("patterns with INTERVAL > 1 need the trigger's start_time to align")
    first_weekday = start.weekday() if start is not None else 0
    runs = sorted(
        {
            day * MINUTES_A_DAY + minute
            for day in range(period)
            for rule in rules
            if rule.runs_on(day, first_weekday)
            for minute in rule.minutes
        }
    )
    if not runs:
        raise Unreadable("the patterns schedule no run")
    gaps = [later - earlier for earlier, later in itertools.pairwise(runs)]
    gaps.append(runs[0] + period * MINUTES_A_DAY - runs[-1])
    return max(gaps)


def start_date(value: object) -> date | None:
    """The UTC date of a trigger's `start_time` ("2019-05-08 06:57:05"), None if unreadable."""
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        return datetime.fromisoformat(value.strip()).date()
    except ValueError:
        return None


def _parts(pattern: str) -> dict[str, str]:
    text = pattern.removeprefix("RRULE:")
    parts: dict[str, str] = {}
    for part in text.split(";"):
        if not part:
            continue
        key, equals, value = part.partition("=")
        key = key.upper()
        if not equals or not value:
            raise Unreadable(f"{part!r} is not KEY=VALUE")
        if key not in KEYS:
            raise Unreadable(f"{key} is outside the subset read ({', '.join(KEYS)})")
        if key in parts:
            raise Unreadable(f"{key} is given twice")
        parts[key] = value.upper()
    return parts


def _numbers(text: str, key: str, low: int, high: int) -> list[int]:
    values = text.split(",")
    if not all(v.isascii() and v.isdigit() and len(v) <= 3 for v in values):
        raise Unreadable(f"{key} must be numbers separated by commas")
    numbers = [int(v) for v in values]
    if not all(low <= n <= high for n in numbers):
        raise Unreadable(f"{key} must be from {low} to {high}")
    return numbers


def _weekdays(text: str) -> frozenset[int]:
    names = text.split(",")
    if not all(name in DAY_NAMES for name in names):
        raise Unreadable("BYDAY must be days MO, TU, WE, TH, FR, SA, SU separated by commas")
    return frozenset(DAY_NAMES.index(name) for name in names)
