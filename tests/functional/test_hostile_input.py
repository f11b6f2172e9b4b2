"""Hostile SQS message bodies through the real handler, against the fake CBR server.

One batch carries every body of the corpus twice: alone, and inside a JSON array next to one valid
ID. Whatever a producer (or an attacker) puts on the queue, the handler answers, nothing but a
well-formed `/v3/{project}/operation-logs/{id}` path reaches the API, and every message ends as
exactly one of: rows in the lake (data or error rows), or a reported failure.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from lib.core.settings import Settings

from conftest import (
    PROJECT,
    Context,
    failed_ids,
    fixture_logs,
    make_app,
    read_errors,
    read_rows,
    sqs_event,
)
from fakecbr import FakeCBR
from hostile import HOSTILE_ANSWERS, HOSTILE_LOG_ID, spliced_answer

VALID_ID = "4827f2da-b008-4507-ab7d-42d0df5ed912"  # served by the fake
ID = r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}"
API_PATH = re.compile(rf"/v3/{ID}/operation-logs/{ID}")
RAW_MESSAGE_LIMIT = 64 * 1024  # the README: raw_message is the body, cut at 64 KiB

DATA = "data"  # an outcome: a data row for the ID
INVALID_ID = "invalid_id"
INVALID_MESSAGE = "invalid_message"
NOT_FOUND = "not_found"

# The corpus --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Hostile:
    """A body, the same thing nested in an array next to VALID_ID, and the outcomes expected."""

    name: str
    body: str
    nested: str
    alone: frozenset[str]  # outcomes (DATA or error reasons) of the body on its own
    beside_valid: frozenset[str]  # outcomes of the nested body


def outcomes(*names: str) -> frozenset[str]:
    return frozenset(names)


def bad_id(name: str, text: str) -> Hostile:
    """A string that must never reach a URL: alone or in an array, an invalid_id error row."""
    return Hostile(
        name,
        text,
        json.dumps([VALID_ID, text]),
        outcomes(INVALID_ID),
        outcomes(DATA, INVALID_ID),
    )


INVALID_MESSAGE_ONLY = outcomes(INVALID_MESSAGE)


def bad_document(name: str, document: Any, alone: frozenset[str] = INVALID_MESSAGE_ONLY) -> Hostile:
    """A JSON value of no accepted shape; in an array it spoils the whole message."""
    return Hostile(
        name,
        json.dumps(document),
        json.dumps([VALID_ID, document]),
        alone,
        INVALID_MESSAGE_ONLY,
    )


def bad_text(name: str, text: str) -> Hostile:
    """A body that is not JSON (nor an ID), spliced raw into the array text as well."""
    return Hostile(
        name,
        text,
        f'["{VALID_ID}", {text}]',
        INVALID_MESSAGE_ONLY,
        INVALID_MESSAGE_ONLY,
    )


def deep_array(levels: int) -> str:
    return "[" * levels + "]" * levels


def deep_object(levels: int) -> str:
    return '{"a":' * levels + "1" + "}" * levels


HOSTILE: tuple[Hostile, ...] = (
    # path traversal
    bad_id("traversal", "../../etc/passwd"),
    bad_id("traversal-encoded", "..%2F..%2Fetc%2Fpasswd"),
    bad_id("traversal-dots-encoded", "%2e%2e"),
    bad_id("dot-dot", ".."),
    bad_id("traversal-after-id", VALID_ID + "/../../x"),
    # URL tricks
    bad_id("encoded-slash", "a%2Fb"),
    bad_id("query", "a?b=c"),
    bad_id("fragment", "a#frag"),
    bad_id("userinfo", "user@host"),
    bad_id("slash", "a/b"),
    bad_id("newline", "a\nb"),
    bad_id("trailing-newline", VALID_ID + "\n"),
    bad_id("nul", "a\x00b"),
    bad_id("space", "a b"),
    bad_id("leading-space", " " + VALID_ID),
    bad_id("tab", "a\tb"),
    bad_id("crlf-injection", "a\r\nX-Injected: 1"),
    bad_id("absolute-url", "http://169.254.169.254/latest"),
    bad_id("leading-dash", "-" + VALID_ID[:20]),
    bad_id("65-chars", "a" * 65),
    # unicode lookalikes
    bad_id("full-width", "４８２７ｆ２ｄａ"),
    bad_id("rtl-override", "\u202e" + VALID_ID),
    bad_id("rtl-mark", VALID_ID + "\u200f"),
    bad_id("zero-width-space", "4827f2da\u200b-b008"),
    bad_id("cyrillic-a", VALID_ID.replace("a", "\u0430")),
    bad_id("kelvin-sign", "\u212a" + VALID_ID[1:]),
    bad_id("bom", "\ufeff" + VALID_ID),
    bad_id("lone-surrogate", "\ud800" + VALID_ID[1:]),
    # invalid UTF-8, as Lambda might hand it over once decoded as Latin-1
    bad_id("latin-1-ff-fe", b"\xff\xfe".decode("latin-1")),
    bad_id("latin-1-prefixed-id", (b"\xff\xfe" + VALID_ID.encode()).decode("latin-1")),
    # sizes
    bad_id("300-kb-ascii", "a" * 300_000),
    bad_id("300-kb-two-byte", "é" * 150_000),
    bad_id("300-kb-four-byte", "😀" * 75_000),
    bad_document("10000-valid-ids", [VALID_ID] * 10_000),
    bad_document("10000-nulls", [None] * 10_000),
    bad_text("deep-array", deep_array(50_000)),
    bad_text("deep-object", deep_object(50_000)),
    bad_text("not-json", "{not json"),
    bad_text("nan", '{"operation_log_id": NaN}'),
    # numbers, nulls and other values where strings belong
    bad_document("numeric-id", {"operation_log_id": 123}),
    bad_document("null-id", {"operation_log_id": None}),
    bad_document("list-id", {"operation_log_id": [VALID_ID]}),
    bad_document("numeric-project", {"operation_log_id": VALID_ID, "project_id": 7}),
    bad_document("wrong-key", {"task": VALID_ID}),
    Hostile(
        "json-string",  # a JSON string is not a bare ID
        json.dumps(VALID_ID),
        json.dumps([VALID_ID, json.dumps(VALID_ID)]),
        outcomes(INVALID_MESSAGE),
        outcomes(DATA, INVALID_ID),
    ),
    bad_document("empty-array", []),
    bad_document("empty-object", {}),
    bad_document("nested-array", [[VALID_ID]]),
    # JSON literals: alone, null / true / 123 are bare IDs that match the pattern
    bad_document("null", None, alone=outcomes(NOT_FOUND)),
    bad_document("true", True, alone=outcomes(NOT_FOUND)),
    bad_document("number", 123, alone=outcomes(NOT_FOUND)),
    # a hostile project ID
    Hostile(
        "traversal-project",
        json.dumps({"operation_log_id": VALID_ID, "project_id": "../../v3/x"}),
        json.dumps([VALID_ID, {"operation_log_id": VALID_ID, "project_id": "../../v3/x"}]),
        outcomes(INVALID_ID),
        outcomes(DATA, INVALID_ID),
    ),
    # objects with extra keys are accepted for the ID they name
    Hostile(
        "extra-keys",
        json.dumps({"operation_log_id": VALID_ID, "project_id": PROJECT, "url": "../../x"}),
        json.dumps([VALID_ID, {"operation_log_id": VALID_ID, "__proto__": {}, "x": [1]}]),
        outcomes(DATA),
        outcomes(DATA),
    ),
    Hostile(
        "300-kb-padding",
        json.dumps({"operation_log_id": VALID_ID, "padding": "x" * 300_000}),
        json.dumps([VALID_ID, {"operation_log_id": VALID_ID, "padding": "😀" * 75_000}]),
        outcomes(DATA),
        outcomes(DATA),
    ),
    Hostile(
        "1000-copies",  # the most a message may name, deduplicated to one request
        json.dumps([VALID_ID] * 1000),
        json.dumps([VALID_ID] * 999 + ["a/b"]),
        outcomes(DATA),
        outcomes(DATA, INVALID_ID),
    ),
    Hostile(
        "empty",
        "",
        json.dumps([VALID_ID, ""]),
        outcomes(INVALID_MESSAGE),
        outcomes(DATA, INVALID_ID),
    ),
    Hostile(
        "whitespace",
        " \t\r\n",
        json.dumps([VALID_ID, " \t\r\n"]),
        outcomes(INVALID_MESSAGE),
        outcomes(DATA, INVALID_ID),
    ),
)


@dataclass(frozen=True)
class Sent:
    message_id: str
    body: str
    expected: frozenset[str]


def hostile_messages() -> list[Sent]:
    """Each corpus entry alone and beside a valid ID, plus one plain valid message."""
    sent = [Sent("plain-valid", VALID_ID, outcomes(DATA))]
    for entry in HOSTILE:
        sent.append(Sent(f"{entry.name}/alone", entry.body, entry.alone))
        sent.append(Sent(f"{entry.name}/beside-valid", entry.nested, entry.beside_valid))
    return sent


Handled = tuple[dict[str, Any], dict[str, Any]]  # (SQS event, handler response)

# The invariant -----------------------------------------------------------------------------------


def source_messages(rows: list[dict[str, Any]]) -> set[str]:
    return {row["source_message_id"] for row in rows}


def assert_every_message_accounted_for(
    event: dict[str, Any], response: dict[str, Any], lake: Path
) -> None:
    """Each message is either reported failed or has rows in the lake; never both, never neither."""
    message_ids = [record["messageId"] for record in event["Records"]]
    failed = failed_ids(response)
    assert len(failed) == len(set(failed)), "a message is reported failed twice"
    written = source_messages(read_rows(lake)) | source_messages(read_errors(lake))
    assert set(failed) <= set(message_ids), "a failure names no message of the batch"
    assert written <= set(message_ids), "a row names no message of the batch"
    both = set(failed) & written
    assert not both, f"reported failed and written: {sorted(both)}"
    neither = set(message_ids) - set(failed) - written
    assert not neither, f"neither failed nor written: {sorted(neither)}"


def outcomes_by_message(lake: Path) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for row in read_rows(lake):
        found.setdefault(row["source_message_id"], set()).add(DATA)
    for error in read_errors(lake):
        found.setdefault(error["source_message_id"], set()).add(error["reason"])
    return found


def utf8_size(text: str) -> int:
    return len(text.encode("utf-8"))


# Tests -------------------------------------------------------------------------------------------


@pytest.fixture
def served(fake: FakeCBR) -> FakeCBR:
    fake.add_log(fixture_logs()[VALID_ID])
    return fake


@pytest.fixture
def hostile_batch(served: FakeCBR, settings: Settings, lake: Path) -> Handled:
    """The whole corpus as one SQS batch, handled once: (event, response)."""
    sent = hostile_messages()
    event = sqs_event(*(s.body for s in sent), ids=[s.message_id for s in sent])
    response = make_app(settings).handle(event, Context())  # returns normally
    return event, response


def test_every_hostile_message_is_accounted_for(hostile_batch: Handled, lake: Path) -> None:
    event, response = hostile_batch
    assert_every_message_accounted_for(event, response, lake)
    assert failed_ids(response) == []  # nothing here is worth a redelivery


def test_only_well_formed_api_paths_are_requested(hostile_batch: Handled, served: FakeCBR) -> None:
    paths = [request.path for request in served.requests]
    assert paths, "the valid ID must have been fetched"
    malformed = [path for path in paths if not API_PATH.fullmatch(path)]
    assert malformed == []
    requested_ids = {path.rsplit("/", 1)[1] for path in paths}
    assert requested_ids == {VALID_ID, "null", "true", "123"}  # only IDs matching the pattern
    assert {path.split("/")[2] for path in paths} == {PROJECT}


def test_each_hostile_message_ends_as_the_rows_it_should(
    hostile_batch: Handled, lake: Path
) -> None:
    found = outcomes_by_message(lake)
    wrong = {
        s.message_id: (sorted(found.get(s.message_id, ())), "expected", sorted(s.expected))
        for s in hostile_messages()
        if found.get(s.message_id, set()) != s.expected
    }
    assert wrong == {}


def test_error_rows_for_invalid_input_are_storable(hostile_batch: Handled, lake: Path) -> None:
    errors = read_errors(lake)
    invalid = [e for e in errors if e["reason"] in (INVALID_ID, INVALID_MESSAGE)]
    assert invalid, "the corpus must produce invalid-input error rows"
    assert {e["reason"] for e in errors} <= {INVALID_ID, INVALID_MESSAGE, NOT_FOUND}
    for error in invalid:
        assert utf8_size(error["raw_message"]) <= RAW_MESSAGE_LIMIT, error["source_message_id"]
        if error["reason"] == INVALID_MESSAGE:
            assert error["operation_log_id"] is None
        assert error["error_msg"], "an error row says what was wrong"


def test_a_huge_body_is_stored_as_its_first_64_kib(hostile_batch: Handled, lake: Path) -> None:
    by_message = {e["source_message_id"]: e for e in read_errors(lake)}
    huge_bad_ids = [h for h in HOSTILE if h.name.startswith("300-kb-") and INVALID_ID in h.alone]
    assert len(huge_bad_ids) == 3  # one-, two- and four-byte characters
    for entry in huge_bad_ids:
        raw = by_message[f"{entry.name}/alone"]["raw_message"]
        assert entry.body.startswith(raw)  # cut on a character boundary, nothing replaced
        assert RAW_MESSAGE_LIMIT - 4 < utf8_size(raw) <= RAW_MESSAGE_LIMIT


# Hostile answers from CBR ------------------------------------------------------------------------
# The queue is not the only input: a 200 answer is JSON someone else wrote. The README promises that
# a value of the wrong type is converted or nulled and "the row is always written", so one odd
# operation log must cost at most its own row's values, never its message or the batch.


@pytest.mark.parametrize("body", list(HOSTILE_ANSWERS.values()), ids=list(HOSTILE_ANSWERS))
def test_an_odd_operation_log_costs_no_message(
    served: FakeCBR, settings: Settings, lake: Path, body: str
) -> None:
    # GIVEN CBR answers 200 with a strange but valid JSON operation log for one ID
    served.add_body(HOSTILE_LOG_ID, body)
    event = sqs_event(HOSTILE_LOG_ID, VALID_ID, ids=["odd", "innocent"])
    # WHEN a batch names it next to an ordinary ID
    response = make_app(settings).handle(event, Context())
    # THEN both messages are acknowledged, each with its data row
    assert_every_message_accounted_for(event, response, lake)
    assert failed_ids(response) == []
    assert {(r["id"], r["source_message_id"]) for r in read_rows(lake)} == {
        (HOSTILE_LOG_ID, "odd"),
        (VALID_ID, "innocent"),
    }


@pytest.mark.parametrize(
    ("where", "text", "column", "stored"),
    [
        ("unknown", "1e-400", None, None),
        ("unknown", "-1E+400", None, None),
        ("unknown", "12" * 2500, None, None),
        ("unknown", "0.0000000000000000000000000000000000000001e-300", None, None),
        ("status", "1e400", "status", "1e400"),
        ("progress", "1e400", "extra_info__common__progress", None),
        ("progress", "5e-400", "extra_info__common__progress", None),
    ],
)
def test_numbers_no_float_can_hold_keep_their_text(
    served: FakeCBR, settings: Settings, lake: Path, where: str, text: str, column, stored
) -> None:
    """Neither 0.0 for 1e-400, nor a refusal for 1e400: raw_json keeps the number as written, a
    string column its text, and a numeric column that cannot hold it is null (and counted)."""
    served.add_body(HOSTILE_LOG_ID, spliced_answer(where, text))
    response = make_app(settings).handle(sqs_event(HOSTILE_LOG_ID), Context())
    assert failed_ids(response) == []
    (row,) = read_rows(lake)
    raw = row["raw_json"]
    kept = raw[raw.index(":", raw.index(f'"{where}"')) + 1 :]
    assert kept.lstrip().startswith(text), raw[:200]  # as the API wrote it
    if column is not None:
        assert row[column] == stored


def test_a_message_of_many_invalid_ids_stores_its_body_once(
    served: FakeCBR, settings: Settings, lake: Path
) -> None:
    """1,000 IDs that each fail the pattern make 1,000 error rows, but the body (up to 64 KiB)
    is stored once per message, and a batch stores at most RAW_MESSAGE_BATCH_BYTES of bodies:
    what one message can cost is bounded, whatever it holds."""
    from lib.ingest.settle import RAW_MESSAGE_BATCH_BYTES, RAW_MESSAGE_OVER_BUDGET

    bodies = [json.dumps([f"{n:03d}/" + "x" * 56 for _ in range(1000)]) for n in range(30)]
    assert all(60_000 < utf8_size(body) < RAW_MESSAGE_LIMIT for body in bodies)
    event = sqs_event(*bodies, VALID_ID)
    response = make_app(settings).handle(event, Context())
    assert_every_message_accounted_for(event, response, lake)
    errors = read_errors(lake)
    assert len(errors) == 30 and {e["reason"] for e in errors} == {INVALID_ID}  # deduplicated IDs
    by_message: dict[str, list[dict[str, Any]]] = {}
    for error in errors:
        by_message.setdefault(error["source_message_id"], []).append(error)
    assert len(by_message) == 30
    stored = [e["raw_message"] for e in errors if e["raw_message"] is not None]
    assert len(stored) == 30  # one per message
    assert sum(map(utf8_size, stored)) <= RAW_MESSAGE_BATCH_BYTES + 30 * RAW_MESSAGE_OVER_BUDGET
    whole = [raw for raw in stored if raw in bodies]
    assert whole and len(whole) < 30  # the first bodies whole, the rest cut short
    cut = [utf8_size(raw) for raw in stored if raw not in bodies]
    assert cut and max(cut) <= RAW_MESSAGE_OVER_BUDGET, cut


def test_each_invalid_id_of_a_message_is_an_error_row_with_the_body_on_the_first(
    served: FakeCBR, settings: Settings, lake: Path
) -> None:
    body = json.dumps([f"bad/{n}" for n in range(1000)])
    make_app(settings).handle(sqs_event(body), Context())
    errors = read_errors(lake)
    assert sorted(e["operation_log_id"] for e in errors) == sorted(f"bad/{n}" for n in range(1000))
    assert [e["raw_message"] for e in errors if e["raw_message"] is not None] == [body]
