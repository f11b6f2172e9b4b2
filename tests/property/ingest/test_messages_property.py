"""Properties of `parse_body` and `clip_raw_message` over arbitrary and hostile message bodies.

Whatever arrives on the queue, parsing never raises, only IDs that match `ID_PATTERN` in full come
out as task references, and everything else is an `invalid_message` or `invalid_id` reject whose
stored values are valid UTF-8. Bodies of an accepted shape are parsed exactly (deduplicated, in
order), with near-miss IDs (one forbidden character or one character too long) always rejected.
"""

from __future__ import annotations

import json
import string
from dataclasses import dataclass
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lib.ingest.messages import (
    ID_PATTERN,
    INVALID_ID,
    INVALID_MESSAGE,
    MAX_IDS_PER_MESSAGE,
    ParsedBody,
    TaskRef,
    clip_raw_message,
    parse_body,
)

PROPERTY_SETTINGS = settings(
    max_examples=300,
    deadline=None,
    database=None,  # nothing written under the project: failures are reproduced by seed
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
STORED_VALUE_CHARS = 256  # rejected IDs are stored cut to this many characters
RAW_MESSAGE_LIMIT = 64 * 1024  # the README: raw_message is the body, cut at 64 KiB

# Strategies --------------------------------------------------------------------------------------

# Every code point, lone surrogates included (a JSON escape such as "\ud800" produces one), and
# some of them often.
LONE_SURROGATES = ("\ud800", "\udbff", "\udc00", "\udfff")
any_char = st.characters(exclude_categories=()) | st.sampled_from(LONE_SURROGATES)
utf8_char = st.characters(codec="utf-8")
any_text = st.text(any_char)

ALPHANUMERIC = string.ascii_letters + string.digits
# [A-Za-z0-9][A-Za-z0-9_-]{0,63}, built directly (much faster than st.from_regex).
valid_ids = st.builds(
    str.__add__, st.sampled_from(ALPHANUMERIC), st.text(ALPHANUMERIC + "_-", max_size=63)
)

# One change that makes a valid ID invalid: a forbidden character somewhere, or one too many.
NEAR_MISS_INSERTS = ("\n", " ", "\t", "/", "%2F", "?", "#", "@", "..", "\x00", "\r\n", ".", "é")


def _insert(valid: str, text: str, where: float) -> str:
    at = round(where * len(valid))
    return valid[:at] + text + valid[at:]


def _too_long(valid: str) -> str:
    return (valid * 65)[:65]


near_miss_ids = st.one_of(
    st.builds(_insert, valid_ids, st.sampled_from(NEAR_MISS_INSERTS), st.floats(0, 1)),
    st.builds(_too_long, valid_ids),
    st.builds(lambda valid: "-" + valid[:63], valid_ids),  # first character must be alphanumeric
)


def json_values(text: st.SearchStrategy[str]) -> st.SearchStrategy[Any]:
    """Any value `json.loads` can return (finite floats only: NaN and Infinity are not JSON)."""
    finite_floats = st.floats(allow_nan=False, allow_infinity=False)
    scalars = st.none() | st.booleans() | st.integers() | finite_floats | text
    return st.recursive(
        scalars,
        lambda children: (
            st.lists(children, max_size=6) | st.dictionaries(text, children, max_size=6)
        ),
        max_leaves=20,
    )


def is_documented_id(value: str) -> bool:
    """The README's rule, spelled without ID_PATTERN: 1-64 of [A-Za-z0-9_-], alphanumeric first."""
    return (
        1 <= len(value) <= 64
        and value[0] in ALPHANUMERIC
        and all(c in ALPHANUMERIC + "_-" for c in value)
    )


@dataclass(frozen=True)
class Item:
    """One task reference as written in a body: a bare ID or an object with optional extras."""

    operation_log_id: str
    project_id: str | None = None
    as_object: bool = False
    extra: tuple[tuple[str, Any], ...] = ()

    @property
    def valid(self) -> bool:
        return all(
            value is None or is_documented_id(value)
            for value in (self.operation_log_id, self.project_id)
        )

    def to_json(self) -> str | dict[str, Any]:
        if not self.as_object:
            return self.operation_log_id
        document: dict[str, Any] = {**dict(self.extra), "operation_log_id": self.operation_log_id}
        if self.project_id is not None:
            document["project_id"] = self.project_id
        return document


some_ids = valid_ids | near_miss_ids
extra_fields = st.dictionaries(
    # "project_id": null is the same as no project_id; the others are ignored.
    st.sampled_from(["note", "operation_log", "project_id"]),
    st.none() | st.integers() | any_text,
    max_size=2,
).map(lambda extra: tuple((k, v) for k, v in extra.items() if k != "project_id" or v is None))

bare_items = st.builds(Item, some_ids)
object_items = st.builds(
    Item, some_ids, st.none() | some_ids, as_object=st.just(True), extra=extra_fields
)


@dataclass(frozen=True)
class ShapedBody:
    """A body of an accepted shape and the items it names, in order."""

    body: str
    items: tuple[Item, ...]


def _dump(document: Any, compact: bool, ascii_only: bool, padding: str) -> str:
    separators = (",", ":") if compact else (", ", ": ")
    text = json.dumps(document, separators=separators, ensure_ascii=ascii_only)
    return padding + text + padding


@st.composite
def shaped_bodies(draw: st.DrawFn) -> ShapedBody:
    """A bare ID, one object, or an array of IDs and objects, as a producer might send them."""
    shape = draw(st.sampled_from(["bare", "object", "array"]))
    if shape == "bare":
        log_id = draw(some_ids)
        return ShapedBody(log_id, (Item(log_id),))
    spelling = (draw(st.booleans()), draw(st.booleans()), draw(st.sampled_from(["", " ", "\n"])))
    if shape == "object":
        item = draw(object_items)
        return ShapedBody(_dump(item.to_json(), *spelling), (item,))
    named = draw(st.lists(bare_items | object_items, min_size=1, max_size=12))
    # Repeat some items so deduplication is exercised.
    named += draw(st.lists(st.sampled_from(named), max_size=5))
    return ShapedBody(_dump([i.to_json() for i in named], *spelling), tuple(named))


def repeated_chunks(chars: st.SearchStrategy[str] = any_char) -> st.SearchStrategy[str]:
    """Bodies up to ~1.3 MB of UTF-8, built cheaply, so the 64 KiB cut lands on every width."""
    return st.builds(
        lambda chunk, times: chunk * times,
        st.text(chars, min_size=1, max_size=8),
        st.integers(min_value=1, max_value=40_000),
    )


arbitrary_json_bodies = st.builds(
    lambda value, ascii_only: json.dumps(value, ensure_ascii=ascii_only),
    json_values(any_text),
    st.booleans(),
)

# Oracles and checks ------------------------------------------------------------------------------


def expected_refs(named: tuple[Item, ...]) -> list[TaskRef]:
    """The valid items as task references, first occurrence kept, in order."""
    refs: dict[TaskRef, None] = {}
    for item in named:
        if item.valid:
            refs.setdefault(TaskRef(item.operation_log_id, item.project_id))
    return list(refs)


def expected_rejects(named: tuple[Item, ...]) -> list[tuple[str, str, str | None]]:
    """One invalid_id per distinct invalid item, in order (an ID named twice is one row)."""
    rejects = (
        (INVALID_ID, item.operation_log_id, item.project_id) for item in named if not item.valid
    )
    return list(dict.fromkeys(rejects))


def utf8_size(text: str) -> int:
    return len(text.encode("utf-8"))


def is_storable(value: str | None) -> bool:
    """What an error row may hold: None, or valid UTF-8 no longer than the stored cut."""
    if value is None:
        return True
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return len(value) <= STORED_VALUE_CHARS


def assert_parsed_safely(parsed: ParsedBody) -> None:
    """The invariants every body, however hostile, must satisfy."""
    assert parsed.refs or parsed.rejects, "a body must name something or be rejected"
    for ref in parsed.refs:
        assert ID_PATTERN.fullmatch(ref.operation_log_id), ref
        assert ref.project_id is None or ID_PATTERN.fullmatch(ref.project_id), ref
    assert len(set(parsed.refs)) == len(parsed.refs), "references are deduplicated"
    assert len(parsed.refs) <= MAX_IDS_PER_MESSAGE
    for reject in parsed.rejects:
        assert reject.reason in (INVALID_MESSAGE, INVALID_ID), reject
        if reject.reason == INVALID_MESSAGE:
            assert reject.operation_log_id is None and reject.project_id is None, reject
            assert parsed.refs == () and len(parsed.rejects) == 1, "a malformed body names nothing"
        assert is_storable(reject.operation_log_id) and is_storable(reject.project_id), reject


def parse_and_check(body: str) -> ParsedBody:
    parsed = parse_body(body)  # GIVEN any body, WHEN parsed: it must not raise
    assert_parsed_safely(parsed)
    return parsed


def assert_parsed_exactly(shaped: ShapedBody) -> None:
    """The body's valid items come out deduplicated in order, each invalid one as an invalid_id."""
    parsed = parse_and_check(shaped.body)
    assert list(parsed.refs) == expected_refs(shaped.items)
    rejects = [(r.reason, r.operation_log_id, r.project_id) for r in parsed.rejects]
    assert rejects == expected_rejects(shaped.items)


def assert_clipped_safely(body: str) -> None:
    assert utf8_size(clip_raw_message(body)) <= RAW_MESSAGE_LIMIT  # also: it encodes at all


# Properties --------------------------------------------------------------------------------------


@PROPERTY_SETTINGS
@given(body=any_text)
def test_arbitrary_text_is_parsed_safely(body: str) -> None:
    parse_and_check(body)


@PROPERTY_SETTINGS
@given(body=arbitrary_json_bodies)
def test_arbitrary_json_is_parsed_safely(body: str) -> None:
    parse_and_check(body)


@PROPERTY_SETTINGS
@given(shaped=shaped_bodies())
def test_a_body_of_an_accepted_shape_yields_exactly_its_valid_ids(shaped: ShapedBody) -> None:
    # GIVEN a bare ID, an object or an array mixing valid and near-miss IDs
    assert_parsed_exactly(shaped)


def body_naming(log_id: str, wrap: str) -> str:
    """A body that names log_id: bare, in an object, in an array, or as an object's project_id."""
    if wrap == "bare":
        return log_id
    if wrap == "object":
        return json.dumps({"operation_log_id": log_id})
    if wrap == "array":
        return json.dumps(["a1", log_id])
    return json.dumps({"operation_log_id": "a1", "project_id": log_id})


@PROPERTY_SETTINGS
@given(log_id=near_miss_ids, wrap=st.sampled_from(["bare", "object", "array", "project"]))
def test_a_near_miss_id_never_becomes_a_reference(log_id: str, wrap: str) -> None:
    parsed = parse_and_check(body_naming(log_id, wrap))
    assert all(log_id not in (ref.operation_log_id, ref.project_id) for ref in parsed.refs)
    assert [(r.reason, log_id in (r.operation_log_id, r.project_id)) for r in parsed.rejects] == [
        (INVALID_ID, True)
    ]


@PROPERTY_SETTINGS
@given(count=st.integers(1, 2 * MAX_IDS_PER_MESSAGE) | st.integers(995, 1005))
def test_an_array_of_more_than_1000_ids_is_an_invalid_message(count: int) -> None:
    distinct_ids = [f"task-{n}" for n in range(count)]
    parsed = parse_and_check(json.dumps(distinct_ids))
    if count <= MAX_IDS_PER_MESSAGE:
        assert [ref.operation_log_id for ref in parsed.refs] == distinct_ids
    else:
        assert [r.reason for r in parsed.rejects] == [INVALID_MESSAGE]


@PROPERTY_SETTINGS
@given(body=any_text | repeated_chunks() | arbitrary_json_bodies)
def test_the_stored_raw_message_is_at_most_64_kib_of_utf8(body: str) -> None:
    assert_clipped_safely(body)


@PROPERTY_SETTINGS
@given(body=st.text(utf8_char) | repeated_chunks(utf8_char))  # a lone surrogate would be replaced
def test_the_stored_raw_message_is_the_longest_whole_character_prefix(body: str) -> None:
    clipped = clip_raw_message(body)
    assert body.startswith(clipped)
    if utf8_size(body) <= RAW_MESSAGE_LIMIT:
        assert clipped == body
    else:  # only a character cut in half (at most 3 of its bytes) is dropped
        assert utf8_size(clipped) > RAW_MESSAGE_LIMIT - 4
