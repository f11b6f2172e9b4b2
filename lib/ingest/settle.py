"""Pure: what each message comes to, given what the API answered for the IDs it names.

`plan` reads a message: the (ID, project) pairs to fetch and what its body already rejected.
`settle` turns the plans and the fetch outcomes into data rows (one Arrow table for the whole
batch, through the batch path), error rows and the messages that must be redelivered. No I/O and
no clock: the same inputs always settle the same way.

A message is settled (acknowledged once the rows are written) only when every ID it names ends as
a data row or an error row. An ID that failed retriably, or met a configuration problem, leaves its
message unsettled: nothing of that message is written in this attempt and the queue redelivers it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import pyarrow as pa

from lib.cbr.answers import Fetched
from lib.core.errors import AccessError, PermanentError, RetriableError
from lib.core.jsontext import utf8_safe
from lib.core.runtime import Scrub, no_scrub
from lib.core.schema import OPERATION_LOGS_SCHEMA
from lib.ingest.batch import Record
from lib.ingest.fetch import FetchKey, Outcome
from lib.ingest.messages import Message, Reject, clip_raw_message, parse_body
from lib.ingest.rows import data_table, record
from lib.lake.writer import Row

ID_MISMATCH = "id_mismatch"
NO_PROJECT = "no_project"
# What bodies may cost: each message's body is stored once (on its first error row), whole up to
# 64 KiB while the batch's bodies stay within RAW_MESSAGE_BATCH_BYTES, then only its start.
RAW_MESSAGE_BATCH_BYTES = 1024 * 1024
RAW_MESSAGE_OVER_BUDGET = 1024


@dataclass(frozen=True)
class Plan:
    """One message, parsed: what to fetch for it and what it already rejected."""

    message: Message
    keys: dict[FetchKey, int]  # -> the follow-up attempt the message carries
    rejects: tuple[Reject, ...] = ()
    missing_project: bool = False  # it names an ID without a project, and there is no default


def plan(message: Message, default_project: str | None) -> Plan:
    parsed = parse_body(message.body)
    keys: dict[FetchKey, int] = {}
    missing = False
    for ref in parsed.refs:
        project = ref.project_id or default_project
        if project is None:
            missing = True
            continue
        key = (ref.operation_log_id, project)
        keys[key] = max(ref.attempt, keys.get(key, 0))
    return Plan(message, keys, parsed.rejects, missing)


@dataclass
class Settlement:
    """The rows a batch of messages comes to, and the messages to redeliver (with why)."""

    data: pa.Table = field(default_factory=OPERATION_LOGS_SCHEMA.empty_table)
    error_rows: list[Row] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)  # message ID -> reason, in order
    drift: Counter[str] = field(default_factory=Counter)  # unknown fields, by path
    nulled: Counter[str] = field(default_factory=Counter)  # values that could not be kept

    def error_reasons(self) -> Counter[str]:
        return Counter(str(row["reason"]) for row in self.error_rows)


def settle(
    plans: Sequence[Plan],
    outcomes: dict[FetchKey, Outcome],
    now: datetime,
    scrub: Scrub = no_scrub,
) -> Settlement:
    """`scrub` takes known secrets out of every text stored (a value the API echoed back)."""
    settlement = Settlement()
    budget = _BodyBudget(RAW_MESSAGE_BATCH_BYTES)
    records: list[Record] = []
    for message_plan in plans:
        failure = _failure(message_plan, outcomes)
        if failure is not None:
            settlement.failed[message_plan.message.message_id] = failure
        else:
            errors = _ErrorRows(message_plan.message, now, scrub, budget, settlement.error_rows)
            records += _rows(message_plan, outcomes, errors)
    built = data_table(records, now)
    settlement.data = built.table
    settlement.drift, settlement.nulled = built.drift_paths, built.nulled_paths
    return settlement


def _failure(message_plan: Plan, outcomes: dict[FetchKey, Outcome]) -> str | None:
    """Why the message must be redelivered, or None when every ID it names is settled."""
    if message_plan.missing_project:
        return NO_PROJECT
    for key in message_plan.keys:
        outcome = outcomes[key]
        if isinstance(outcome, AccessError):
            return "access"
        if isinstance(outcome, RetriableError):
            return "retriable"
    return None


def _rows(
    message_plan: Plan, outcomes: dict[FetchKey, Outcome], errors: _ErrorRows
) -> list[Record]:
    """The message's error rows (added to `errors`), and the records of its data rows."""
    message, scrub = message_plan.message, errors.scrub
    records: list[Record] = []
    for reject in message_plan.rejects:
        errors.add(
            reject.reason, reject.operation_log_id, reject.project_id, error_msg=reject.detail
        )
    for (log_id, project), outcome in ((k, outcomes[k]) for k in message_plan.keys):
        if isinstance(outcome, PermanentError):
            answer = outcome.answer
            errors.add(
                outcome.reason,
                log_id,
                project,
                http_status=answer.http_status,
                error_code=answer.error_code,
                error_msg=answer.error_msg or str(outcome),
            )
            continue
        assert isinstance(outcome, Fetched)  # _failure let through only logs and permanent errors
        records.append(record(outcome.log, outcome.text, message.source_message_id, scrub))
        returned = outcome.log.get("id")
        if returned != log_id:
            errors.add(
                ID_MISMATCH,
                log_id,
                project,
                http_status=200,
                error_msg=f"asked for {log_id}, CBR returned id {returned!r}",
            )
    return records


@dataclass
class _BodyBudget:
    """The bytes of message bodies a batch may still store whole."""

    left: int

    def stored(self, body: str) -> str:
        raw = clip_raw_message(body)
        size = len(raw.encode("utf-8"))
        if size > self.left:
            return clip_raw_message(body, RAW_MESSAGE_OVER_BUDGET)
        self.left -= size
        return raw


@dataclass
class _ErrorRows:
    """Error rows of one message: its ID, its body as stored, the time they were observed.

    The body goes on the first row only: a message of 1,000 invalid IDs is 1,000 rows, not
    1,000 copies of a 64 KiB body (which once took a batch past the function's memory).
    Every text is stored as data rows' text is: scrubbed of known secrets and valid UTF-8 (an
    API error message may hold a lone surrogate from a JSON escape, which Parquet refuses)."""

    message: Message
    now: datetime
    scrub: Scrub
    budget: _BodyBudget
    rows: list[Row]
    _first: bool = True

    def add(self, reason: str, log_id: str | None, project: str | None, **extra: Any) -> None:
        raw = self.budget.stored(self.message.body) if self._first else None
        self._first = False
        row = {
            "operation_log_id": log_id,
            "project_id": project,
            "source_message_id": self.message.source_message_id,
            "reason": reason,
            "raw_message": raw,
            "observed_at": self.now,
            **extra,
        }
        self.rows.append({k: self._text(v) if isinstance(v, str) else v for k, v in row.items()})

    def _text(self, value: str) -> str:
        return utf8_safe(self.scrub(value))
