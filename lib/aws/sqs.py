"""Sending to the task queue: SendMessageBatch in groups of ten, every refused entry reported.

Used by the follow-ups of unfinished tasks and by `backfill --enqueue`. botocore is imported
when something is sent, not when the function starts.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

SQS_BATCH = 10  # SendMessageBatch's limit


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
