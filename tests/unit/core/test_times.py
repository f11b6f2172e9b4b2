"""Times as the product writes them: four-digit years for the API, seconds for people."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from lib.core.times import format_duration, format_query, format_second, format_utc


@pytest.mark.parametrize(
    ("moment", "query"),
    [
        (datetime(999, 12, 31, 23, 59, 59, tzinfo=UTC), "0999-12-31T23:59:59Z"),
        (datetime(42, 1, 2, 3, 4, 5, 678, tzinfo=UTC), "0042-01-02T03:04:05Z"),
        (datetime(2026, 11, 20, 8, 0, 0, 999_999, tzinfo=UTC), "2026-11-20T08:00:00Z"),
        (
            datetime(2026, 11, 20, 10, 0, tzinfo=timezone(timedelta(hours=2))),
            "2026-11-20T08:00:00Z",
        ),
    ],
)
def test_a_query_time_has_a_four_digit_year_and_whole_seconds(moment: datetime, query: str) -> None:
    assert format_query(moment) == query


def test_people_read_seconds_while_json_keeps_every_digit() -> None:
    moment = datetime(2026, 11, 20, 8, 0, 59, 999_999, tzinfo=UTC)
    assert format_second(moment) == "2026-11-20T08:00:59Z"  # cut, never rounded up
    assert format_utc(moment) == "2026-11-20T08:00:59.999999Z"


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0, "0 s"), (59.9, "59 s"), (270, "4 min 30 s"), (3600, "1 h"), (3 * 3600 + 300, "3 h 5 min"),
     (2 * 86400 + 4 * 3600, "2 d 4 h"), (-5, "0 s")],
)  # fmt: skip
def test_durations_read_in_the_largest_units(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text
