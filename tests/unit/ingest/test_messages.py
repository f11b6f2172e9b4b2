"""Message bodies -> task references, and what is rejected (no network)."""

from __future__ import annotations

import json

import pytest

from lib.ingest.messages import (
    INVALID_ID,
    INVALID_MESSAGE,
    MAX_IDS_PER_MESSAGE,
    RAW_MESSAGE_LIMIT,
    TaskRef,
    clip_raw_message,
    parse_body,
)

LOG_ID = "4827f2da-b008-4507-ab7d-42d0df5ed912"
PROJECT = "04f1829c788037ac2fb8c01eb2b04b95"


@pytest.mark.parametrize(
    ("body", "refs"),
    [
        (LOG_ID, [TaskRef(LOG_ID)]),
        (json.dumps({"operation_log_id": LOG_ID}), [TaskRef(LOG_ID)]),
        (
            json.dumps({"operation_log_id": LOG_ID, "project_id": PROJECT}),
            [TaskRef(LOG_ID, PROJECT)],
        ),
        (json.dumps({"operation_log_id": LOG_ID, "project_id": None}), [TaskRef(LOG_ID)]),
        (json.dumps(["a1", "b2"]), [TaskRef("a1"), TaskRef("b2")]),
        (
            json.dumps([{"operation_log_id": "a1", "project_id": PROJECT}, "b2"]),
            [TaskRef("a1", PROJECT), TaskRef("b2")],
        ),
        (json.dumps(["a1", "a1", "b2"]), [TaskRef("a1"), TaskRef("b2")]),  # deduplicated, in order
        (" " + json.dumps(["a1"]) + "\n", [TaskRef("a1")]),  # JSON may be padded
        ("x" * 64, [TaskRef("x" * 64)]),
    ],
)
def test_accepted_bodies(body: str, refs: list[TaskRef]) -> None:
    parsed = parse_body(body)
    assert list(parsed.refs) == refs
    assert parsed.rejects == ()


@pytest.mark.parametrize(
    "body",
    [
        "",
        "   ",
        "[]",
        "{}",
        '{"task": 17}',
        '{"operation_log_id": 17}',
        '{"operation_log_id": "a1", "project_id": 5}',
        "[1, 2]",
        '[["a1"]]',
        '"a1"',
        "{not json",
        '{"operation_log_id": NaN}',
        "[" * 100_000 + "]" * 100_000,
        json.dumps(["a1"] * (MAX_IDS_PER_MESSAGE + 1)),
    ],
)
def test_bodies_of_no_accepted_shape_are_invalid_messages(body: str) -> None:
    parsed = parse_body(body)
    assert parsed.refs == ()
    assert [r.reason for r in parsed.rejects] == [INVALID_MESSAGE]
    assert parsed.rejects[0].operation_log_id is None


@pytest.mark.parametrize(
    ("body", "bad_id"),
    [
        (LOG_ID + "\n", LOG_ID + "\n"),  # no trailing newline slips through
        (" " + LOG_ID, " " + LOG_ID),  # nothing is trimmed
        ("../../etc/passwd", "../../etc/passwd"),
        ("a" * 65, "a" * 65),
        ("-leading-dash", "-leading-dash"),
        ("a%2Fb", "a%2Fb"),
        ("a?b", "a?b"),
        (json.dumps({"operation_log_id": "a/b"}), "a/b"),
        (json.dumps(["ok1", "bad id"]), "bad id"),
    ],
)
def test_ids_failing_the_pattern_are_invalid_ids(body: str, bad_id: str) -> None:
    parsed = parse_body(body)
    assert [(r.reason, r.operation_log_id) for r in parsed.rejects] == [(INVALID_ID, bad_id)]


def test_a_bad_project_id_rejects_its_item_only() -> None:
    body = json.dumps([{"operation_log_id": "a1", "project_id": "p/../x"}, "b2"])
    parsed = parse_body(body)
    assert parsed.refs == (TaskRef("b2"),)
    (reject,) = parsed.rejects
    assert (reject.reason, reject.operation_log_id, reject.project_id) == (
        INVALID_ID,
        "a1",
        "p/../x",
    )
    assert "project_id" in reject.detail


def test_raw_message_is_cut_at_64_kib_on_a_character_boundary() -> None:
    body = "é" * RAW_MESSAGE_LIMIT  # two bytes each
    clipped = clip_raw_message(body)
    assert len(clipped.encode()) <= RAW_MESSAGE_LIMIT
    assert clipped == "é" * (RAW_MESSAGE_LIMIT // 2)
    assert clip_raw_message("short") == "short"


def test_a_follow_up_carries_its_attempt_counter() -> None:
    body = json.dumps({"operation_log_id": "t1", "project_id": "p1", "attempt": 3})
    assert parse_body(body).refs == (TaskRef("t1", "p1", 3),)
    assert parse_body("t1").refs == (TaskRef("t1", None, 0),)
    for attempt in (-1, 1001, "2", True, 1.5, None):
        body = json.dumps({"operation_log_id": "t1", "attempt": attempt})
        [reject] = parse_body(body).rejects
        assert reject.reason == "invalid_message" and "attempt" in reject.detail
