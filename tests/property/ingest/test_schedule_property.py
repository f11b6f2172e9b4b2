"""Property: max_interval_hours is the longest gap an RRULE engine finds, for any readable set of
patterns and any start (dateutil.rrule, a separate implementation of RFC 5545, is the oracle)."""

from __future__ import annotations

import itertools
import math
from datetime import date, datetime, timedelta

from dateutil import rrule
from hypothesis import given, settings
from hypothesis import strategies as st

from lib.ingest.inventory.schedule import DAY_NAMES, read_schedule

WEEKDAYS = (rrule.MO, rrule.TU, rrule.WE, rrule.TH, rrule.FR, rrule.SA, rrule.SU)


@st.composite
def rules(draw: st.DrawFn) -> dict:
    daily = draw(st.booleans())
    days = draw(st.none() | st.sets(st.integers(0, 6), min_size=1, max_size=4))
    return {
        "daily": daily,
        "interval": draw(st.integers(1, 4)),
        "days": days,
        "hours": draw(st.sets(st.integers(0, 23), min_size=1, max_size=3)),
        "minutes": draw(st.sets(st.integers(0, 59), min_size=1, max_size=2)),
    }


def pattern(rule: dict) -> str:
    parts = [f"FREQ={'DAILY' if rule['daily'] else 'WEEKLY'}", f"INTERVAL={rule['interval']}"]
    if rule["days"] is not None:
        parts.append("BYDAY=" + ",".join(DAY_NAMES[d] for d in sorted(rule["days"])))
    parts.append("BYHOUR=" + ",".join(str(h) for h in sorted(rule["hours"])))
    parts.append("BYMINUTE=" + ",".join(f"{m:02d}" for m in sorted(rule["minutes"])))
    return ";".join(parts)


def oracle_hours(chosen: list[dict], start: date) -> float | None:
    """Every occurrence dateutil gives over three periods; the longest gap once past the first."""
    period = math.lcm(7, *(r["interval"] * (1 if r["daily"] else 7) for r in chosen))
    dtstart = datetime(start.year, start.month, start.day)
    until = dtstart + timedelta(days=3 * period)
    moments: set[datetime] = set()
    for rule in chosen:
        weekdays = None if rule["days"] is None else [WEEKDAYS[d] for d in rule["days"]]
        moments.update(
            rrule.rrule(
                rrule.DAILY if rule["daily"] else rrule.WEEKLY,
                interval=rule["interval"],
                byweekday=weekdays,
                byhour=sorted(rule["hours"]),
                byminute=sorted(rule["minutes"]),
                bysecond=0,
                wkst=rrule.MO,
                dtstart=dtstart,
                until=until,
            )
        )
    steady = sorted(m for m in moments if m >= dtstart + timedelta(days=period))
    if len(steady) < 2:
        return None
    return max((b - a).total_seconds() for a, b in itertools.pairwise(steady)) / 3600


@settings(max_examples=300, deadline=None)
@given(st.lists(rules(), min_size=1, max_size=3), st.dates(date(2020, 1, 1), date(2030, 12, 31)))
def test_the_longest_gap_is_what_an_rrule_engine_finds(chosen: list[dict], start: date) -> None:
    expected = oracle_hours(chosen, start)
    found = read_schedule([pattern(r) for r in chosen], start)
    assert found.max_interval_hours == expected, found.reason


@settings(max_examples=200, deadline=None)
@given(rules(), rules(), st.dates(date(2020, 1, 1), date(2030, 12, 31)))
def test_another_pattern_never_lengthens_the_longest_gap(a: dict, b: dict, start: date) -> None:
    alone = read_schedule([pattern(a)], start).max_interval_hours
    together = read_schedule([pattern(a), pattern(b)], start).max_interval_hours
    if alone is not None:
        assert together is not None and together <= alone
