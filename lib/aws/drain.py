"""The scheduled run: drain the queue in bounded batches, deleting only what is safely written.

Receive (long polling, 10 at a time) until about `batch_ids` IDs are collected, process them
through the same pipeline as an SQS-triggered run, then delete the acknowledged messages. Stop
when the queue answers empty, the message cap is reached, or the time budget runs out. What is
not deleted becomes visible again after the queue's visibility timeout.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from lib.core.errors import ConfigError
from lib.core.runtime import Deadline, log_event
from lib.core.settings import QUEUE_URL
from lib.ingest.messages import Message, parse_body
from lib.ingest.pipeline import BatchResult, Counts, Pipeline

RECEIVE_MAX = 10  # SQS's limit per ReceiveMessage
LONG_POLL_S = 20  # SQS's longest wait
MIN_CYCLE_S = 2.0  # do not start a receive with less time than this left


@dataclass
class _Received:
    message: Message
    receipt_handle: str


@dataclass
class DrainSummary:
    """What a scheduled run did: the pipeline's counts over every batch, and the queue's side."""

    counts: Counts = field(default_factory=Counts)
    received: int = 0
    deleted: int = 0
    delete_failed: int = 0
    batches: int = 0
    left: int | None = None  # messages visible on the queue at the end (approximate)
    stopped_by: str = "empty"

    def as_dict(self) -> dict[str, Any]:
        queue_side = {k: v for k, v in self.__dict__.items() if k != "counts"}
        return {**self.counts.summary(), **queue_side}


class QueueDrain:
    def __init__(
        self,
        sqs: Any,
        queue_url: str,
        pipeline: Pipeline,
        *,
        batch_ids: int = 1000,
        max_messages: int = 100_000,
        wait_s: int = LONG_POLL_S,
    ) -> None:
        self.wait_s = wait_s
        self.sqs = sqs
        self.queue_url = queue_url
        self.pipeline = pipeline
        self.batch_ids = batch_ids
        self.max_messages = max_messages
        self._seen: set[str] = set()

    def run(self, deadline: Deadline) -> DrainSummary:
        summary = DrainSummary()
        self._seen = set()  # attempted in this run: a failure comes back only later
        while True:
            if summary.received >= self.max_messages:
                summary.stopped_by = "cap"
                break
            if deadline.remaining() < MIN_CYCLE_S:
                summary.stopped_by = "time"
                break
            batch, stop = self._collect(deadline, self.max_messages - summary.received)
            if batch:
                self._process(batch, deadline, summary)
            if stop:
                summary.stopped_by = stop
                break
        summary.left = self._visible_messages()
        return summary

    def _collect(self, deadline: Deadline, allowed: int) -> tuple[list[_Received], str | None]:
        """Messages until about `batch_ids` IDs, and why draining must stop after them, if so."""
        batch: dict[str, _Received] = {}
        ids = 0
        while ids < self.batch_ids and len(batch) < allowed:
            wait = self.wait_s if not batch else 1
            wait = int(min(wait, max(0.0, deadline.remaining() - MIN_CYCLE_S)))
            try:
                answer = self._receive(min(RECEIVE_MAX, allowed - len(batch)), wait)
            except (ClientError, BotoCoreError) as exc:
                log_event(logging.ERROR, f"receiving from the queue failed: {exc}")
                return list(batch.values()), "receive_error"
            if not answer:
                return list(batch.values()), "empty"
            fresh = [item for item in answer if item["MessageId"] not in self._seen]
            if not fresh:
                # Only messages that already failed in this run: they return after their
                # visibility timeout, and retrying them now would spin until the deadline.
                return list(batch.values()), "only_retries_left"
            for item in fresh:
                message = Message(item["MessageId"], item.get("Body", ""))
                batch.setdefault(message.message_id, _Received(message, item["ReceiptHandle"]))
                parsed = parse_body(message.body)
                ids += len(parsed.refs) + len(parsed.rejects)
            if deadline.remaining() < MIN_CYCLE_S:
                break
        return list(batch.values()), None

    def _receive(self, count: int, wait_s: int) -> list[dict[str, Any]]:
        try:
            answer = self.sqs.receive_message(
                QueueUrl=self.queue_url,
                MaxNumberOfMessages=count,
                WaitTimeSeconds=wait_s,
                MessageAttributeNames=["All"],
            )
        except ClientError as exc:
            config_error = _queue_error(exc, self.queue_url)
            if config_error is not None:
                raise config_error from exc
            raise
        return list(answer.get("Messages", []))

    def _process(self, batch: list[_Received], deadline: Deadline, summary: DrainSummary) -> None:
        self._seen.update(r.message.message_id for r in batch)
        result: BatchResult = self.pipeline.process([r.message for r in batch], deadline)
        failed = set(result.failed)
        done = [r for r in batch if r.message.message_id not in failed]
        summary.batches += 1
        summary.received += len(batch)
        summary.counts.add(result.counts)
        deleted, not_deleted = self._delete(done)
        summary.deleted += deleted
        summary.delete_failed += not_deleted
        log_event(logging.INFO, "drain batch done", **result.summary(), deleted=deleted)

    def _delete(self, done: list[_Received]) -> tuple[int, int]:
        """Delete in groups of 10; one that fails to delete is redelivered (readers dedupe)."""
        deleted = failed = 0
        for start in range(0, len(done), RECEIVE_MAX):
            group = done[start : start + RECEIVE_MAX]
            entries = [
                {"Id": str(i), "ReceiptHandle": r.receipt_handle} for i, r in enumerate(group)
            ]
            try:
                answer = self.sqs.delete_message_batch(QueueUrl=self.queue_url, Entries=entries)
            except (ClientError, BotoCoreError) as exc:
                log_event(logging.ERROR, f"deleting written messages failed: {exc}")
                failed += len(group)
                continue
            for problem in answer.get("Failed", []):
                log_event(
                    logging.WARNING,
                    "a written message could not be deleted",
                    code=problem.get("Code"),
                    detail=problem.get("Message"),
                )
            failed += len(answer.get("Failed", []))
            deleted += len(answer.get("Successful", []))
        return deleted, failed

    def _visible_messages(self) -> int | None:
        try:
            answer = self.sqs.get_queue_attributes(
                QueueUrl=self.queue_url, AttributeNames=["ApproximateNumberOfMessages"]
            )
            return int(answer["Attributes"]["ApproximateNumberOfMessages"])
        except (ClientError, BotoCoreError, KeyError, ValueError):
            return None


def _queue_error(exc: ClientError, queue_url: str) -> ConfigError | None:
    """The configuration problem a queue error reveals, if it is one."""
    code = exc.response.get("Error", {}).get("Code", "")
    if "NonExistentQueue" in code or code == "QueueDoesNotExist":
        return ConfigError(f"{QUEUE_URL}={queue_url} names a queue that does not exist.")
    if code in ("AccessDenied", "AccessDeniedException"):
        return ConfigError(f"access to {QUEUE_URL}={queue_url} was denied: check the role.")
    return None
