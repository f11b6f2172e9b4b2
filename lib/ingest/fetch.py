"""Fetch many operation logs at once: a thread pool bounded by the concurrency and the deadline.

Each (operation_log_id, project_id) is fetched once however many messages name it. An answer that
has not arrived when the deadline passes counts as a retriable failure, so its messages are
redelivered instead of holding the invocation past its budget.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor, wait
from typing import Protocol

from lib.cbr.answers import Fetched
from lib.cbr.client import FetchStats
from lib.core.errors import AccessError, FetchError, RetriableError
from lib.core.runtime import Deadline, log_event

LATE_GRACE_S = 0.5  # past the work deadline, still inside the safety margin

FetchKey = tuple[str, str]  # (operation_log_id, project_id)
Outcome = Fetched | FetchError  # a fetched operation_log, or why there is none


class Fetcher(Protocol):
    """What the pipeline needs of the CBR client."""

    def fetch(
        self, operation_log_id: str, project_id: str, deadline: Deadline, stats: FetchStats
    ) -> Fetched: ...


def fetch_all(
    client: Fetcher,
    keys: Iterable[FetchKey],
    deadline: Deadline,
    stats: FetchStats,
    *,
    concurrency: int,
) -> dict[FetchKey, Outcome]:
    """The outcome of every key, in at most `concurrency` parallel requests."""
    ordered = sorted(set(keys))
    if not ordered:
        return {}
    pool = ThreadPoolExecutor(min(concurrency, len(ordered)), thread_name_prefix="cbr")
    futures = {pool.submit(_fetch_one, client, key, deadline, stats): key for key in ordered}
    # Requests end by the deadline on their own; a server that drips headers byte by byte
    # can still hold one, so stop waiting for it and let the write and response go ahead.
    wait(futures, timeout=deadline.remaining() + LATE_GRACE_S)
    pool.shutdown(wait=False, cancel_futures=True)
    late = RetriableError("no answer before the time budget ran out")
    return {key: future.result() if future.done() else late for future, key in futures.items()}


def _fetch_one(client: Fetcher, key: FetchKey, deadline: Deadline, stats: FetchStats) -> Outcome:
    operation_log_id, project = key
    try:
        return client.fetch(operation_log_id, project, deadline, stats)
    except FetchError as exc:
        level = logging.ERROR if isinstance(exc, AccessError) else logging.INFO
        log_event(
            level,
            str(exc),
            operation_log_id=operation_log_id,
            project_id=project,
            http_status=exc.http_status,
            error_code=exc.answer.error_code,
        )
        return exc
    except Exception as exc:  # a bug must not take the other IDs of the batch down with it
        logging.getLogger("oplog_lake").exception("unexpected error fetching %s", operation_log_id)
        return RetriableError(f"unexpected {type(exc).__name__}")
