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

from lib.aws.sqs import send_batches
from lib.core.runtime import log_event

UNFINISHED = frozenset({"running", "waiting"})
MAX_DELAY_S = 900  # SQS's longest DelaySeconds


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
        report.sent = len(follow_ups) - len(not_sent)
        report.failed_messages = frozenset(follow_ups[n.index].message_id for n in not_sent)
        return report
