"""Time as the product reads and writes it: one UTC parser, one formatter, nothing else.

The API writes timestamps as `...Z`, `...+00:00` or with no zone (which means UTC); operators give
dates or datetimes on the command line. Both are read here, and every time the product prints or
sends is written here, always in UTC.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

QUERY_FORMAT = "%Y-%m-%dT%H:%M:%SZ"  # what ListOpLogs accepts for start_time/end_time
CLOCK_ALLOWANCE = timedelta(minutes=5)  # how far another machine's clock may run ahead of ours
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def now_utc() -> datetime:
    return datetime.now(UTC)


def parse_utc(text: str) -> datetime:
    """ISO 8601 in UTC: a value with no zone is UTC, any offset is converted.

    Raises ValueError for anything else, including a moment that leaves the calendar (year 1 or
    9999) once converted to UTC."""
    parsed = datetime.fromisoformat(text)
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    try:
        return parsed.astimezone(UTC)
    except OverflowError:
        raise ValueError(f"{text!r} is outside the years 1-9999 in UTC") from None


def parse_day_or_moment(text: str, *, end_of_day: bool = False) -> datetime:
    """An operator's date (UTC midnight; with `end_of_day`, the next midnight, so the day is
    included) or datetime (UTC unless it carries an offset). ValueError names the text."""
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            moment = datetime(day.year, day.month, day.day, tzinfo=UTC)
            return moment + timedelta(days=1) if end_of_day else moment
        return parse_utc(text)
    except (ValueError, OverflowError):
        raise ValueError(
            f"not an ISO 8601 date or datetime between the years 1 and 9999: {text!r}"
        ) from None


def as_utc(moment: datetime) -> datetime:
    """A datetime in UTC; a naive one is taken as UTC (the lake stores UTC)."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def format_utc(moment: datetime) -> str:
    """ISO 8601 in UTC with a `Z`: seconds, or microseconds when there are any."""
    return as_utc(moment).replace(tzinfo=None).isoformat() + "Z"


def format_query(moment: datetime) -> str:
    """A moment as ListOpLogs takes it (whole seconds, `Z`), always with a four-digit year
    (`strftime("%Y")` writes the year 999 as `999` on some platforms)."""
    return format_second(moment)


def format_second(moment: datetime) -> str:
    """A moment for people to read: UTC to the second (cut, not rounded), with a `Z`. JSON
    output keeps `format_utc`'s full precision."""
    utc = as_utc(moment)
    return f"{utc.year:04d}-{utc:%m-%dT%H:%M:%S}Z"


def format_duration(seconds: float) -> str:
    """A span for people to read: `45 s`, `4 min 30 s`, `3 h 5 min`, `2 d 4 h`."""
    whole = max(0, int(seconds))
    days, rest = divmod(whole, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days} d {hours} h" if hours else f"{days} d"
    if hours:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    if minutes:
        return f"{minutes} min {secs} s" if secs else f"{minutes} min"
    return f"{secs} s"


def utc_day(moment: datetime) -> str:
    """The UTC date of a moment, `YYYY-MM-DD`: the lake's `dt` partition value."""
    return as_utc(moment).date().isoformat()
