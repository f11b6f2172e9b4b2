"""The answer -> outcome table, Retry-After parsing and the backoff policy (no network)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from lib.cbr.answers import Fetched, classify, log_page, parse_retry_after
from lib.cbr.client import RetryPolicy
from lib.core.errors import AccessError, PermanentError, RetriableError, TokenExpired


def body(code: str, msg: str = "msg") -> bytes:
    return json.dumps({"error_code": code, "error_msg": msg}).encode()


def test_a_good_answer_gives_the_operation_log_and_its_text_even_after_a_byte_order_mark() -> None:
    log = {"id": "a1", "status": "success"}
    text = b'{ "status": "success",\n  "id": "a1" }'  # as the API spelled it
    for prefix in (b"", b"\xef\xbb\xbf"):
        fetched = classify(200, prefix + b'{"operation_log": ' + text + b"}\n", {})
        assert fetched == Fetched(log, text)


def test_a_list_page_gives_each_log_with_its_text_or_none_when_it_cannot_be_cut() -> None:
    texts = [b'{"id": "a1", "x": "},{"}', b'{"id":"b2"}']
    page = log_page(b'{"operation_logs": [' + b", ".join(texts) + b'], "count": 2}')
    assert (page.logs, page.count, page.texts) == (
        [{"id": "a1", "x": "},{"}, {"id": "b2"}],
        2,
        texts,
    )
    full = log_page(b'{"count": 1, "limit": 5, "operation_logs": [{"id": "a1"}], "offset": 0}')
    assert full.texts == [b'{"id": "a1"}']  # the API's members around the list
    other = log_page(b'{"meta": {"n": 1}, "operation_logs": [{"id": "a1"}]}')
    assert other.logs == [{"id": "a1"}] and other.texts is None  # an unexpected framing


@pytest.mark.parametrize(
    "payload",
    [b"", b"<html>gateway</html>", b'{"operation_log": "x"}', b"[]", b'{"other": {}}', b"\xff\xfe"],
)
def test_a_200_without_an_operation_log_object_is_retriable(payload: bytes) -> None:
    with pytest.raises(RetriableError):
        classify(200, payload, {})


@pytest.mark.parametrize(
    ("status", "payload", "error", "reason"),
    [
        (404, body("BackupService.6500"), PermanentError, "not_found"),
        (404, body("BackupService.6501"), PermanentError, "not_found"),
        (400, body("BackupService.9900"), PermanentError, "rejected"),
        (404, body("APIGW.0101"), AccessError, None),
        (400, b"not json", AccessError, None),
        (401, body("APIGW.0301"), TokenExpired, None),
        (403, body("APIGW.0302"), AccessError, None),
        (403, body("BackupService.8600"), AccessError, None),
        (302, b"", AccessError, None),
        (429, body("APIGW.0308"), RetriableError, None),
        (408, b"", RetriableError, None),
        (500, body("BackupService.9910"), RetriableError, None),
        (502, b"<html>", RetriableError, None),
        (503, b"", RetriableError, None),
        (504, b"", RetriableError, None),
    ],
)
def test_status_table(status: int, payload: bytes, error: type, reason: str | None) -> None:
    with pytest.raises(error) as raised:
        classify(status, payload, {})
    assert type(raised.value) is error
    assert raised.value.http_status == status
    if reason:
        assert raised.value.reason == reason
        assert raised.value.answer.error_code.startswith("BackupService.")


def test_other_error_body_shapes_are_understood() -> None:
    nested = json.dumps({"error": {"code": "BackupService.9900", "message": "bad"}}).encode()
    with pytest.raises(PermanentError) as raised:
        classify(400, nested, {})
    assert (raised.value.answer.error_code, raised.value.answer.error_msg) == (
        "BackupService.9900",
        "bad",
    )


def test_retry_after_in_seconds_or_as_an_http_date() -> None:
    assert parse_retry_after("3") == 3.0
    at = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=30)
    before = datetime.now(UTC)
    waited = parse_retry_after(format_datetime(at, usegmt=True))
    after = datetime.now(UTC)
    assert waited is not None  # the seconds from the moment it was read to the date
    assert (at - after).total_seconds() - 1 <= waited <= (at - before).total_seconds() + 1
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0  # in the past
    assert parse_retry_after("soon") is None and parse_retry_after(None) is None
    with pytest.raises(RetriableError) as raised:
        classify(429, b"", {"Retry-After": "7"})
    assert raised.value.retry_after == 7.0


def test_backoff_doubles_is_capped_and_yields_to_a_longer_retry_after() -> None:
    policy = RetryPolicy(max_attempts=5, base_s=0.5, cap_s=4.0, rand=lambda: 1.0)
    assert [policy.wait_s(n, None) for n in (1, 2, 3, 4, 5)] == [0.5, 1.0, 2.0, 4.0, 4.0]
    assert policy.wait_s(1, 9.0) == 9.0
    jittered = RetryPolicy(base_s=0.5, rand=lambda: 0.25)
    assert jittered.wait_s(2, None) == 0.25


def test_the_pacer_spaces_requests_and_never_plans_past_the_deadline() -> None:
    from lib.cbr.client import RatePacer
    from lib.core.runtime import Deadline

    now = [100.0]
    clock = lambda: now[0]  # noqa: E731
    pacer = RatePacer(10, clock)
    deadline = Deadline(100.25, clock)
    assert [pacer.reserve(deadline) for _ in range(3)] == [
        0.0,
        pytest.approx(0.1),
        pytest.approx(0.2),
    ]
    assert pacer.reserve(deadline) is None  # the next slot (0.3 s away) is past the deadline
    now[0] = 101.0
    assert pacer.reserve(Deadline(200, clock)) == 0.0  # idle time is not saved up as a burst
    assert RatePacer(None).reserve(deadline) == 0.0
