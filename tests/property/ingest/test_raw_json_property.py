"""Every row's raw_json is the log the API answered, whatever its strings and framing hold.

The batch path keeps each log's original text, cut out of the body without decoding it. Names
full of backslashes, quotes, braces and unicode escapes (`C:\\Backup\\"`, `"}, {"`, `\\u0022`)
and members the framing does not expect (`"links": {...}` after the log, members before and
after the list, the same key twice) must never make a row whose raw_json is another text than
the log's: a GET body through the handler, a ListOpLogs page through a discovery pass, both
against the fake API over HTTP; raw_json is compared with what the standard library decodes.
"""

from __future__ import annotations

import itertools
import json
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lib.core.settings import Settings

from conftest import PROJECT, Context, failed_ids, make_app, read_errors, read_rows, sqs_event
from fakecbr import LIST_SCRIPT, FakeCBR, Reply

SETTINGS = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
FRAGMENTS = [
    "\\",
    '"',
    "{",
    "}",
    "[",
    "]",
    ",",
    ":",
    " ",
    "a",
    "é",
    "😀",
    "\u2028",
    '\\"',
    'C:\\Backup\\"',
    '"}, {"',
    "}, {",
    "\\u0022",
    "\\\\",
    '\\\\"',
]
names = st.lists(st.sampled_from(FRAGMENTS), max_size=8).map("".join)
values: st.SearchStrategy[Any] = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**40), 2**40) | names,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(names, inner, max_size=3),
    max_leaves=6,
)
FRAMING_KEYS = ["links", "count", "limit", "offset", "request_id"]
members = st.lists(
    st.tuples(st.sampled_from(FRAMING_KEYS) | names, values).filter(
        lambda member: member[0] not in ("operation_log", "operation_logs")
    ),
    max_size=3,
)
_ids = itertools.count()


@dataclass(frozen=True)
class Spelling:
    """How a body is written: escapes for non-ASCII or not, compact, spaced or indented."""

    ascii_only: bool
    indent: int | None
    separators: tuple[str, str]

    def dumps(self, value: Any) -> str:
        return json.dumps(
            value, ensure_ascii=self.ascii_only, indent=self.indent, separators=self.separators
        )

    def document(self, pairs: list[tuple[str, Any]]) -> str:
        """An object of these members in order, a key twice if given twice."""
        item, key = self.separators
        return "{" + item.join(f"{self.dumps(k)}{key}{self.dumps(v)}" for k, v in pairs) + "}"


spellings = st.builds(
    Spelling,
    st.booleans(),
    st.sampled_from([None, 0, 2]),
    st.sampled_from([(",", ":"), (", ", ": "), (" ,\n", " :\t")]),
)


@st.composite
def logs(draw: st.DrawFn) -> dict[str, Any]:
    """An operation_log of hostile names, in known columns and unknown fields."""
    created = datetime.now(UTC) - timedelta(minutes=30 + draw(st.integers(0, 20)))
    log: dict[str, Any] = {
        "id": f"log-{next(_ids)}",
        "project_id": PROJECT,
        "status": "success",
        "created_at": created.strftime("%Y-%m-%dT%H:%M:%S.%f+00:00"),
        "vault_name": draw(names),
        "error_info": {"code": draw(names), "message": draw(names)},
        "extra_info": {"resource": {"name": draw(names), "id": draw(names)}},
    }
    log.update(draw(st.dictionaries(names, values, max_size=2)).items())
    return log


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeCBR]:
    """The API serving the GET bodies of the first test's examples."""
    with FakeCBR() as server:
        yield server


@pytest.fixture(scope="module")
def lister() -> Iterator[FakeCBR]:
    """The API of the second test: it lists only the page scripted for each example."""
    with FakeCBR() as server:
        yield server


def settings_for(fake: FakeCBR, lake: Path) -> Settings:
    return Settings(
        cbr_endpoint=fake.base_url,
        project_id=PROJECT,
        lake_uri=str(lake),
        max_attempts=2,
        backoff_base_s=0.01,
        discover_start=datetime.now(UTC) - timedelta(hours=2),
    )


def assert_raw_json_is_each_log(lake: Path, expected: list[dict[str, Any]]) -> None:
    rows = read_rows(lake)
    assert sorted(row["id"] for row in rows) == sorted(log["id"] for log in expected)
    by_id = {log["id"]: log for log in expected}
    for row in rows:
        assert json.loads(row["raw_json"]) == by_id[row["id"]], row["raw_json"]
        assert row["vault_name"] == by_id[row["id"]]["vault_name"]


@SETTINGS
@given(
    log=logs(),
    before=members,
    after=members,
    duplicate=st.booleans(),
    spelling=spellings,
)
def test_a_get_body_gives_the_log_as_raw_json(
    fake: FakeCBR,
    log: dict[str, Any],
    before: list[tuple[str, Any]],
    after: list[tuple[str, Any]],
    duplicate: bool,
    spelling: Spelling,
) -> None:
    # GIVEN a 200 whose log sits among other members, perhaps after an earlier "operation_log"
    earlier = [("operation_log", {**log, "status": "running"})] if duplicate else []
    body = spelling.document([*before, *earlier, ("operation_log", log), *after])
    fake.add_body(log["id"], body)
    with tempfile.TemporaryDirectory() as folder:
        lake = Path(folder) / "lake"
        # WHEN the handler fetches it
        response = make_app(settings_for(fake, lake)).handle(sqs_event(log["id"]), Context())
        # THEN its row's raw_json is the log a JSON decoder reads in the body
        assert failed_ids(response) == [] and read_errors(lake) == []
        assert_raw_json_is_each_log(lake, [json.loads(body)["operation_log"]])


@SETTINGS
@given(
    page=st.lists(logs(), min_size=1, max_size=4),
    before=members,
    after=members,
    spelling=spellings,
)
def test_a_list_page_gives_each_log_as_raw_json(
    lister: FakeCBR,
    page: list[dict[str, Any]],
    before: list[tuple[str, Any]],
    after: list[tuple[str, Any]],
    spelling: Spelling,
) -> None:
    # GIVEN a ListOpLogs page of such logs, with members before and after the list
    body = spelling.document([*before, ("operation_logs", page), *after])
    lister.script(LIST_SCRIPT, Reply(200, body))
    try:
        with tempfile.TemporaryDirectory() as folder:
            lake = Path(folder) / "lake"
            # WHEN a discovery pass lists it
            app = make_app(settings_for(lister, lake))
            result = app.handle({"action": "discover"}, Context())
            # THEN every log is a row whose raw_json is that log
            assert result["discovery_failures"] == 0, result
            assert_raw_json_is_each_log(lake, json.loads(body)["operation_logs"])
    finally:
        lister._scripts.pop(LIST_SCRIPT, None)  # a reply a failed pass left unread
