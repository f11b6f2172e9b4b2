"""Following unfinished tasks: which tasks to look at again later, and the port that sends them.

The row written now is a snapshot; the task's final state is what an audit needs. With
`FOLLOW_UNFINISHED=true` each task still `running` or `waiting` goes back to the queue as
`{"operation_log_id", "project_id", "attempt": n}`, delayed by a time doubling per attempt from
`FOLLOW_DELAY_S` up to SQS's 15 minutes, until it has finished or `FOLLOW_MAX_ATTEMPTS` follow-ups
were made. Follow-ups are sent only after the snapshot is durably written; a message whose
follow-ups cannot be sent is redelivered, so no task is silently left unfollowed. The sending
itself lives at the AWS edge (`lib.aws.sqs.QueueFollower`).
"""

from __future__ import annotations

import json
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Protocol

from lib.cbr.answers import Fetched
from lib.ingest.fetch import FetchKey, Outcome
from lib.ingest.settle import Plan

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


class Follower(Protocol):
    """Sends follow-ups somewhere they come back from (the task queue)."""

    max_attempts: int

    def send(self, follow_ups: Sequence[FollowUp], exhausted: Sequence[FollowUp]) -> FollowReport:
        """Send `follow_ups`; `exhausted` are reported, not sent."""
        ...


def unfinished(
    plans: Sequence[Plan],
    outcomes: dict[FetchKey, Outcome],
    acknowledged: Collection[str],
    max_attempts: int,
) -> tuple[list[FollowUp], list[FollowUp]]:
    """(to follow, out of attempts): the unfinished tasks of the acknowledged messages."""
    follow: list[FollowUp] = []
    exhausted: list[FollowUp] = []
    for message_plan in plans:
        message_id = message_plan.message.message_id
        if message_id not in acknowledged:
            continue
        for (log_id, project), attempt in message_plan.keys.items():
            outcome = outcomes[(log_id, project)]
            if not isinstance(outcome, Fetched) or outcome.log.get("id") != log_id:
                continue
            if outcome.log.get("status") in UNFINISHED:
                item = FollowUp(log_id, project, attempt + 1, message_id)
                (follow if attempt < max_attempts else exhausted).append(item)
    return follow, exhausted
