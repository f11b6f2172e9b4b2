"""Following unfinished tasks: send a task still `running` or `waiting` back to the queue, later.

The row written now is a snapshot; the task's final state is what an audit needs. With
`FOLLOW_UNFINISHED=true` each such task goes back to the queue as
`{"operation_log_id", "project_id", "attempt": n}` with `DelaySeconds` doubling per attempt from
`FOLLOW_DELAY_S` up to SQS's 15 minutes, until it has finished or `FOLLOW_MAX_ATTEMPTS` follow-ups
were made. Follow-ups are sent only after the snapshot is durably written; a message whose
follow-ups cannot be sent is redelivered, so no task is silently left unfollowed.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any

from lib.runtime import log_event

UNFINISHED = frozenset({"running", "waiting"})
MAX_DELAY_S = 900  # SQS's longest DelaySeconds
SQS_BATCH = 10


@dataclass(frozen=True)
class FollowUp:
    """One unfinished task to look at again, and the message that named it."""

    operation_log_id: str
    project_id: str
    attempt: int  # the attempt this follow-up is
    message_id: str

    def body(self) -> str:
        return json.dumps(
            {
                "operation_log_id": self.operation_log_id,
                "project_id": self.project_id,
                "attempt": self.attempt,
            }
        )


def delay_s(attempt: int, base_s: int) -> int:
    """DelaySeconds of the n-th follow-up: base, 2 x base, 4 x base, ... at most 15 minutes."""
    return int(min(MAX_DELAY_S, base_s * 2 ** min(attempt - 1, 20)))


@dataclass
class FollowReport:
    sent: int = 0
    exhausted: int = 0  # still unfinished after the last follow-up allowed
    failed_messages: frozenset[str] = frozenset()


class QueueFollower:
    """Sends follow-ups to the task queue."""

    def __init__(self, sqs: Any, queue_url: str, *, max_attempts: int, base_delay_s: int) -> None:
        self.sqs = sqs
        self.queue_url = queue_url
        self.max_attempts = max_attempts
        self.base_delay_s = base_delay_s

    def send(self, follow_ups: list[FollowUp], exhausted: list[FollowUp]) -> FollowReport:
        report = FollowReport(exhausted=len(exhausted))
        for item in exhausted:
            log_event(
                logging.WARNING,
                f"task still unfinished after {self.max_attempts} follow-ups; "
                "its last snapshot stays its latest row",
                operation_log_id=item.operation_log_id,
                project_id=item.project_id,
            )
        failed: set[str] = set()
        for start in range(0, len(follow_ups), SQS_BATCH):
            group = follow_ups[start : start + SQS_BATCH]
            not_sent = self._send_batch(group)
            failed.update(item.message_id for item in not_sent)
            report.sent += len(group) - len(not_sent)
        report.failed_messages = frozenset(failed)
        return report

    def _send_batch(self, group: list[FollowUp]) -> list[FollowUp]:
        from botocore.exceptions import BotoCoreError, ClientError  # loaded only when following

        entries = [
            {
                "Id": str(i),
                "MessageBody": item.body(),
                "DelaySeconds": delay_s(item.attempt, self.base_delay_s),
            }
            for i, item in enumerate(group)
        ]
        try:
            answer = self.sqs.send_message_batch(QueueUrl=self.queue_url, Entries=entries)
        except (ClientError, BotoCoreError) as exc:
            log_event(logging.ERROR, f"sending follow-ups to the queue failed: {exc}")
            return group
        failed = [group[int(entry["Id"])] for entry in answer.get("Failed", [])]
        for entry in answer.get("Failed", []):
            log_event(
                logging.ERROR,
                "the queue refused a follow-up",
                code=entry.get("Code"),
                detail=entry.get("Message"),
            )
        return failed
