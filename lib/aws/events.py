"""The Lambda edge: what kind of event arrived, its SQS messages, and the response shapes."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, Literal, TypedDict

if TYPE_CHECKING:  # imported by the events that need them: a cold start classifies events only
    from lib.ingest.messages import Message

EventKind = Literal["sqs", "scheduled", "compact", "discover", "inventory"]
ACTIONS: tuple[EventKind, ...] = ("compact", "discover", "inventory")  # {"action": ...} events


class ItemFailure(TypedDict):
    itemIdentifier: str


class PartialBatchResponse(TypedDict):
    batchItemFailures: list[ItemFailure]


class UnsupportedEvent(ValueError):
    """The event is neither an SQS batch nor a scheduled event."""


def event_kind(event: Any) -> EventKind:
    if not isinstance(event, Mapping):
        raise UnsupportedEvent(f"an event must be a JSON object, got {type(event).__name__}")
    records = event.get("Records")
    if (
        isinstance(records, list)
        and records
        and all(isinstance(r, dict) and r.get("eventSource") == "aws:sqs" for r in records)
    ):
        return "sqs"
    action = event.get("action")
    for kind in ACTIONS:
        if action == kind:
            return kind
    if event.get("detail-type") == "Scheduled Event":
        return "scheduled"
    raise UnsupportedEvent(
        "expected an SQS event (Records[].eventSource == 'aws:sqs'), a scheduled event, "
        '{"action": "discover"}, {"action": "inventory"} or {"action": "compact"}'
    )


def compact_request(event: Mapping[str, Any]) -> tuple[int, float, bool]:
    """(older_than_days, target_mb, keep_history) of a compaction event, with defaults."""
    from lib.lake.compact import MAX_OLDER_THAN_DAYS, MAX_TARGET_MB, MIN_TARGET_MB  # its event only
    from lib.lake.writer import DEFAULT_TARGET_MB

    days = event.get("older_than_days", 1)
    target = event.get("target_mb", DEFAULT_TARGET_MB)
    keep = event.get("keep_history", False)
    if type(days) is not int or not 0 <= days <= MAX_OLDER_THAN_DAYS:
        raise UnsupportedEvent(
            f"older_than_days must be an integer from 0 to {MAX_OLDER_THAN_DAYS}"
        )
    if type(target) not in (int, float) or not MIN_TARGET_MB <= target <= MAX_TARGET_MB:
        raise UnsupportedEvent(
            f"target_mb must be a number from {MIN_TARGET_MB} to {MAX_TARGET_MB}"
        )
    if type(keep) is not bool:
        raise UnsupportedEvent("keep_history must be true or false")
    return days, float(target), keep


def sqs_messages(event: Mapping[str, Any]) -> list[Message]:
    """Each record's messageId and body; a record with no messageId cannot be answered for."""
    from lib.ingest.messages import Message

    messages = []
    for record in event["Records"]:
        message_id = record.get("messageId")
        if not isinstance(message_id, str) or not message_id:
            raise UnsupportedEvent("an SQS record has no messageId")
        body = record.get("body")
        messages.append(Message(message_id, body if isinstance(body, str) else ""))
    return messages


def partial_batch_response(failed: Iterable[str]) -> PartialBatchResponse:
    return {"batchItemFailures": [{"itemIdentifier": message_id} for message_id in failed]}
