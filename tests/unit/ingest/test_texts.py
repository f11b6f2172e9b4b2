"""Cutting each operation_log's original text out of GET bodies and ListOpLogs pages."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lib.cbr.texts import ProvenPage, operation_log_text, proven_page
from lib.core.jsontext import decode_json
from lib.ingest.batch import Record, to_table

from conftest import FIXTURE_LOGS

LOG = {"id": "a1", "status": "success", "extra_info": {"resources": [{"id": "r"}, {"id": "s"}]}}


def page_texts(body: bytes) -> ProvenPage | None:
    return proven_page(body, decode_json)


def fixture_logs() -> list[dict[str, Any]]:
    return [json.loads(p.read_bytes())["operation_log"] for p in sorted(FIXTURE_LOGS.glob("*"))]


@pytest.mark.parametrize(
    "body",
    [
        json.dumps({"operation_log": LOG}).encode(),
        json.dumps({"operation_log": LOG}, indent=4).encode(),
        b"\xef\xbb\xbf" + json.dumps({"operation_log": LOG}, separators=(",", ":")).encode(),
        b' \r\n{ "operation_log" :\n' + json.dumps(LOG).encode() + b"\n}\n",
    ],
    ids=["spaced", "indented", "bom-compact", "odd-whitespace"],
)
def test_a_get_body_gives_the_exact_bytes_of_its_operation_log(body: bytes) -> None:
    text = operation_log_text(body)
    assert text is not None and text in body
    assert text.startswith(b"{") and text.endswith(b"}")
    assert json.loads(text) == LOG


@pytest.mark.parametrize(
    "body",
    [
        b'{"operation_log": null}',
        b'{"operation_log": []}',
        b'{"error_code": "BackupService.6500", "error_msg": "not found"}',
        b"<html>gateway</html>",
        b"",
        b'{"operation_log": {"id": "a"}',  # cut short
    ],
)
def test_a_body_of_another_shape_gives_none(body: bytes) -> None:
    assert operation_log_text(body) is None


def test_a_second_key_leaves_a_text_the_batch_calls_undecodable() -> None:
    body = b'{"operation_log": {"id": "a"}, "extra": {"id": "b"}}'
    text = operation_log_text(body)
    assert text is not None
    batch = to_table([Record(None, text, "m")], ingested_at=datetime.now(UTC), decode=decode_json)
    assert batch.undecodable == (0,) and batch.table.num_rows == 0


@pytest.mark.parametrize("indent", [None, 2])
@pytest.mark.parametrize("count_first", [False, True])
def test_a_page_gives_each_log_exactly(indent: int | None, count_first: bool) -> None:
    logs = fixture_logs()  # lists of objects inside logs: seams that are not between logs
    page = {"operation_logs": logs, "count": 240}
    if count_first:
        page = {"count": 240, "operation_logs": logs}
    body = json.dumps(page, indent=indent, ensure_ascii=False).encode()
    found = page_texts(body)
    assert found is not None and found.framing["count"] == 240 and found.logs == logs
    assert [json.loads(text) for text in found.texts] == logs
    assert all(text in body for text in found.texts)


@pytest.mark.parametrize(
    ("body", "texts", "count"),
    [
        (b'{"operation_logs": [], "count": 0}', [], 0),
        (b'{"operation_logs": [{"id": "a"}]}', [b'{"id": "a"}'], None),
        (b'{"operation_logs":[{"a":[{}]},{"b":"}, {"}]}', [b'{"a":[{}]}', b'{"b":"}, {"}'], None),
    ],
)
def test_small_pages(body: bytes, texts: list[bytes], count: int | None) -> None:
    found = page_texts(body)
    assert found is not None and (found.texts, found.framing.get("count")) == (texts, count)


@pytest.mark.parametrize(
    "body",
    [
        b'{"operation_logs": null}',
        b'{"logs": []}',
        b'{"operation_logs": [1, 2]}',
        b'{"operation_logs": [], "operation_logs": 2}',  # a decoder keeps the later one
        b'{"count": 1e+-, "operation_logs": []}',  # framing that is not JSON
        b'{"operation_logs": [{"id": "a"}',
    ],
)
def test_a_page_of_another_shape_gives_none(body: bytes) -> None:
    assert page_texts(body) is None


messages = st.text(st.sampled_from('{}[]", :ab\\'), max_size=12)


@settings(max_examples=200, deadline=None)
@given(texts=st.lists(messages, min_size=1, max_size=6), indent=st.sampled_from([None, 1]))
def test_brackets_in_strings_never_make_a_wrong_cut(texts: list[str], indent: int | None) -> None:
    # GIVEN a page whose logs carry brackets, quotes and backslashes in their strings
    logs = [{"id": f"t{n}", "error_info": {"message": t}} for n, t in enumerate(texts)]
    body = json.dumps({"operation_logs": logs, "count": len(logs)}, indent=indent).encode()
    # WHEN it is cut into its logs
    found = page_texts(body)
    # THEN the cut is refused, or each text is exactly one log's, in order
    if found is not None:
        assert found.logs == logs
        assert [json.loads(text) for text in found.texts] == logs
        assert all(text in body for text in found.texts)
