"""Sending to the task queue: SendMessageBatch in groups of ten, every refused entry reported.

Used by the follow-ups of unfinished tasks (`QueueFollower`) and by listing into the queue
(`QueueLogSink`: `backfill --enqueue`, `DISCOVER_MODE=queue`).
botocore is imported when something is sent, not when the function starts.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from lib.core.errors import SinkError
from lib.core.ids import is_valid_id
from lib.core.runtime import log_event
from lib.ingest.flatten import flatten
from lib.ingest.follow import FollowReport, FollowUp, delay_s
from lib.ingest.known import KnownRows, SinkTotals

SQS_BATCH = 10  # SendMessageBatch's limit
SEND_ATTEMPTS = 3  # sends of the entries the queue turned away for a while


@dataclass(frozen=True)
class NotSent:
    """One entry the queue did not take: its position in the list given, and why."""

    index: int
    code: str | None
    detail: str | None
    sender_fault: bool  # the message itself was refused: sending it again cannot help


def send_batches(sqs: Any, queue_url: str, entries: Sequence[Mapping[str, Any]]) -> list[NotSent]:
    """Send every entry (`MessageBody`, optional `DelaySeconds`); the ones not sent.

    A call that fails as a whole (network, a queue that does not exist) counts for its group."""
    from botocore.exceptions import BotoCoreError, ClientError

    not_sent: list[NotSent] = []
    for start in range(0, len(entries), SQS_BATCH):
        group = entries[start : start + SQS_BATCH]
        batch = [{"Id": str(i), **entry} for i, entry in enumerate(group)]
        try:
            answer = sqs.send_message_batch(QueueUrl=queue_url, Entries=batch)
        except (ClientError, BotoCoreError) as exc:
            code = (
                exc.response.get("Error", {}).get("Code") if isinstance(exc, ClientError) else None
            )
            not_sent += [NotSent(start + i, code, str(exc), False) for i in range(len(group))]
            continue
        not_sent += [
            NotSent(
                start + int(failure["Id"]),
                failure.get("Code"),
                failure.get("Message"),
                bool(failure.get("SenderFault")),
            )
            for failure in answer.get("Failed", [])
        ]
    return not_sent


class QueueFollower:
    """The Follower that sends follow-ups to the task queue, delayed per attempt."""

    def __init__(self, sqs: Any, queue_url: str, *, max_attempts: int, base_delay_s: int) -> None:
        self.sqs = sqs
        self.queue_url = queue_url
        self.max_attempts = max_attempts
        self.base_delay_s = base_delay_s

    def send(self, follow_ups: Sequence[FollowUp], exhausted: Sequence[FollowUp]) -> FollowReport:
        for item in exhausted:
            log_event(
                logging.WARNING,
                f"task still unfinished after {self.max_attempts} follow-ups; "
                "its last snapshot stays its latest row",
                operation_log_id=item.operation_log_id,
                project_id=item.project_id,
            )
        entries = [
            {"MessageBody": item.body(), "DelaySeconds": delay_s(item.attempt, self.base_delay_s)}
            for item in follow_ups
        ]
        not_sent = send_batches(self.sqs, self.queue_url, entries)
        for problem in not_sent[:10]:  # a queue that is gone would otherwise log every one
            log_event(
                logging.ERROR,
                "a follow-up could not be sent; its message is redelivered",
                operation_log_id=follow_ups[problem.index].operation_log_id,
                code=problem.code,
                detail=problem.detail,
            )
        return FollowReport(
            sent=len(follow_ups) - len(not_sent),
            exhausted=len(exhausted),
            failed_messages=frozenset(follow_ups[n.index].message_id for n in not_sent),
        )


class QueueLogSink:
    """A LogSink that sends `{"operation_log_id", "project_id"}` messages to the task queue, ten
    per SendMessageBatch, for the function to fetch; tasks the lake already holds in the listed
    state are not sent."""

    def __init__(self, sqs: Any, queue_url: str, known: KnownRows | None = None) -> None:
        self.sqs = sqs
        self.queue_url = queue_url
        self.known = known
        self.totals = SinkTotals()
        self._seen: set[tuple[str, str]] = set()
        self._bodies: list[str] = []

    @property
    def pending(self) -> int:
        return len(self._bodies)

    def add_logs(
        self,
        logs: Sequence[dict[str, Any]],
        project_id: str,
        texts: Sequence[bytes] | None = None,  # the queue carries IDs only
    ) -> int:
        now = datetime.now(UTC)
        fresh = 0
        for log in logs:
            self.totals.received += 1
            log_id = log.get("id")
            if not is_valid_id(log_id):
                log_event(logging.WARNING, "listed log without a usable id skipped", id=log_id)
                continue
            assert isinstance(log_id, str)
            if (log_id, project_id) in self._seen:
                self.totals.duplicates += 1
                continue
            self._seen.add((log_id, project_id))
            fresh += 1
            if self.known is not None:
                row, _ = flatten(log, ingested_at=now, source_message_id=None)
                if self.known.contains(row):
                    self.totals.known += 1
                    continue
            self.add_ref(log_id, project_id)
        return fresh

    def add_ref(self, log_id: str, project_id: str | None) -> None:
        body: dict[str, str] = {"operation_log_id": log_id}
        if project_id:
            body["project_id"] = project_id
        self._bodies.append(json.dumps(body))

    def flush(self) -> None:
        """Send what is buffered; entries the queue turned away for a while are sent again.
        Raises SinkError when a message is refused or the queue stays unreachable."""
        entries: list[dict[str, Any]] = [{"MessageBody": body} for body in self._bodies]
        for _ in range(SEND_ATTEMPTS):
            not_sent = send_batches(self.sqs, self.queue_url, entries)
            if not not_sent:
                break
            refused = [n for n in not_sent if n.sender_fault]
            if refused:
                raise SinkError(f"the queue refused a message: {refused[0].detail}")
            entries = [entries[n.index] for n in not_sent]
        else:
            raise SinkError(
                f"{len(entries)} messages not sent to {self.queue_url} after {SEND_ATTEMPTS} "
                f"tries: {not_sent[0].detail}"
            )
        self.totals.written += len(self._bodies)
        self._bodies = []
