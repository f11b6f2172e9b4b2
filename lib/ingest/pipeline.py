"""The order of the stages: messages -> fetch (concurrently) -> flatten -> lake, and who is acked.

A message is acknowledged only when every ID it names ends as a data row or an error row that the
lake write durably stored. Messages with an ID that failed retriably, or met a configuration
problem, are written nowhere in this attempt and come back from the queue.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from lib.cbr.auth import AuthProvider, NoAuth, StaticToken, provider_for
from lib.cbr.client import CbrClient, FetchStats, RatePacer, RetryPolicy
from lib.cbr.transport import build_session
from lib.core.errors import (
    AccessError,
    FetchError,
    PermanentError,
    RetriableError,
    SinkError,
)
from lib.core.runtime import Deadline, log_event
from lib.core.settings import CBR_PROJECT_ID, Settings
from lib.ingest.flatten import flatten
from lib.ingest.follow import UNFINISHED, FollowUp, QueueFollower
from lib.ingest.messages import Reject, clip_raw_message, parse_body
from lib.lake.storage import open_store
from lib.lake.writer import Lake, Row

REPLAY_PROJECT = "replay"  # stands in the URL when replaying offline without a project
ID_MISMATCH = "id_mismatch"
LATE_GRACE_S = 0.5  # past the work deadline, still inside the safety margin


@dataclass(frozen=True)
class Message:
    """One queue message: its ID (SQS messageId) and its body.

    Inputs that did not come from the queue (a backfill's file of IDs) still need an ID to report
    failures by, but their rows carry no `source_message_id`.
    """

    message_id: str
    body: str
    from_queue: bool = True

    @property
    def source_message_id(self) -> str | None:
        return self.message_id if self.from_queue else None


@dataclass
class BatchResult:
    """What happened to one batch of messages."""

    failed: list[str] = field(default_factory=list)  # message IDs to redeliver
    messages: int = 0
    ids: int = 0
    data_rows: int = 0
    error_rows: int = 0
    error_reasons: Counter[str] = field(default_factory=Counter)
    failure_reasons: Counter[str] = field(default_factory=Counter)
    followed: int = 0
    follow_exhausted: int = 0
    drift: int = 0
    drift_paths: Counter[str] = field(default_factory=Counter)
    nulled_paths: Counter[str] = field(default_factory=Counter)
    nulled: int = 0
    files: list[str] = field(default_factory=list)
    stats: FetchStats = field(default_factory=FetchStats)

    def summary(self) -> dict[str, Any]:
        return {
            "messages": self.messages,
            "ids": self.ids,
            "rows": self.data_rows,
            "error_rows": self.error_rows,
            "failures": len(self.failed),
            "retries": self.stats.retries,
            "requests": self.stats.requests,
            "throttled": self.stats.throttled,
            "token_refreshes": self.stats.token_refreshes,
            "fetch_latency_ms": round(1000 * self.stats.latency_s / max(1, self.stats.requests), 1),
            "followed": self.followed,
            "follow_exhausted": self.follow_exhausted,
            "drift": self.drift,
            "nulled": self.nulled,
            "error_reasons": dict(self.error_reasons),
            "failure_reasons": dict(self.failure_reasons),
            "files": len(self.files),
        }


Outcome = dict[str, Any] | FetchError  # a fetched operation_log, or why there is none
FetchKey = tuple[str, str]  # (operation_log_id, project_id)


@dataclass
class _Plan:
    """One message, parsed: what to fetch for it and what it already rejected."""

    message: Message
    keys: dict[FetchKey, int]  # -> follow-up attempt the message carries
    rejects: tuple[Reject, ...]
    missing_project: bool = False


class Pipeline:
    def __init__(
        self,
        client: CbrClient,
        lake: Lake,
        *,
        concurrency: int,
        default_project: str | None,
        follower: QueueFollower | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.follower = follower
        self.client = client
        self.lake = lake
        self.concurrency = concurrency
        self.default_project = default_project
        self.clock = clock

    def process(self, messages: Sequence[Message], deadline: Deadline) -> BatchResult:
        result = BatchResult(messages=len(messages))
        plans = [self._plan(message) for message in messages]
        result.ids = sum(len(p.keys) + len(p.rejects) for p in plans)
        outcomes = self._fetch_all({k for p in plans for k in p.keys}, deadline, result.stats)
        now = self.clock()
        data_rows: list[Row] = []
        error_rows: list[Row] = []
        for plan in plans:
            failure = _failure(plan, outcomes)
            if failure is not None:
                result.failed.append(plan.message.message_id)
                result.failure_reasons[failure] += 1
                continue
            self._rows(plan, outcomes, now, data_rows, error_rows, result)
        if self._write(data_rows, error_rows, plans, result) and self.follower is not None:
            self._follow(plans, outcomes, result, self.follower)
        _log_drift(result)
        return result

    def _plan(self, message: Message) -> _Plan:
        parsed = parse_body(message.body)
        keys: dict[FetchKey, int] = {}
        missing = False
        for ref in parsed.refs:
            project = ref.project_id or self.default_project
            if project is None:
                missing = True
            else:
                key = (ref.operation_log_id, project)
                keys[key] = max(ref.attempt, keys.get(key, 0))
        return _Plan(message, keys, parsed.rejects, missing)

    def _follow(
        self,
        plans: list[_Plan],
        outcomes: dict[FetchKey, Outcome],
        result: BatchResult,
        follower: QueueFollower,
    ) -> None:
        """Send unfinished tasks of the acknowledged messages back to the queue, for later."""
        failed = set(result.failed)
        acked = [p for p in plans if p.message.message_id not in failed]
        follow_ups: list[FollowUp] = []
        exhausted: list[FollowUp] = []
        for plan in acked:
            for (log_id, project), attempt in plan.keys.items():
                outcome = outcomes[(log_id, project)]
                if not isinstance(outcome, dict) or outcome.get("id") != log_id:
                    continue
                if outcome.get("status") in UNFINISHED:
                    item = FollowUp(log_id, project, attempt + 1, plan.message.message_id)
                    (follow_ups if attempt < follower.max_attempts else exhausted).append(item)
        if not follow_ups and not exhausted:
            return
        report = follower.send(follow_ups, exhausted)
        result.followed += report.sent
        result.follow_exhausted += report.exhausted
        for message_id in sorted(report.failed_messages):
            result.failed.append(message_id)  # redelivered: fetched, written and followed again
            result.failure_reasons["follow_send"] += 1

    def _fetch_all(
        self, keys: set[FetchKey], deadline: Deadline, stats: FetchStats
    ) -> dict[FetchKey, Outcome]:
        if not keys:
            return {}
        ordered = sorted(keys)
        pool = ThreadPoolExecutor(min(self.concurrency, len(ordered)), thread_name_prefix="cbr")
        futures = {pool.submit(self._fetch_one, key, deadline, stats): key for key in ordered}
        # Requests end by the deadline on their own; a server that drips headers byte by byte
        # can still hold one, so stop waiting for it and let the write and response go ahead.
        wait(futures, timeout=deadline.remaining() + LATE_GRACE_S)
        pool.shutdown(wait=False, cancel_futures=True)
        late = RetriableError("no answer before the time budget ran out")
        return {key: f.result() if f.done() else late for f, key in futures.items()}

    def _fetch_one(self, key: FetchKey, deadline: Deadline, stats: FetchStats) -> Outcome:
        operation_log_id, project = key
        try:
            return self.client.fetch(operation_log_id, project, deadline, stats)
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
            logging.getLogger("oplog_lake").exception(
                "unexpected error fetching %s", operation_log_id
            )
            return RetriableError(f"unexpected {type(exc).__name__}")

    def _rows(
        self,
        plan: _Plan,
        outcomes: dict[FetchKey, Outcome],
        now: datetime,
        data_rows: list[Row],
        error_rows: list[Row],
        result: BatchResult,
    ) -> None:
        message = plan.message
        raw = clip_raw_message(message.body)

        def error_row(reason: str, log_id: str | None, project: str | None, **extra: Any) -> None:
            error_rows.append(
                {
                    "operation_log_id": log_id,
                    "project_id": project,
                    "source_message_id": message.source_message_id,
                    "reason": reason,
                    "raw_message": raw,
                    "observed_at": now,
                    **extra,
                }
            )
            result.error_reasons[reason] += 1

        for reject in plan.rejects:
            error_row(
                reject.reason, reject.operation_log_id, reject.project_id, error_msg=reject.detail
            )
        for key in plan.keys:
            log_id, project = key
            outcome = outcomes[key]
            if isinstance(outcome, PermanentError):
                answer = outcome.answer
                error_row(
                    outcome.reason,
                    log_id,
                    project,
                    http_status=answer.http_status,
                    error_code=answer.error_code,
                    error_msg=answer.error_msg or str(outcome),
                )
                continue
            assert isinstance(outcome, dict)
            row, report = flatten(
                outcome, ingested_at=now, source_message_id=message.source_message_id
            )
            data_rows.append(row)
            result.drift += len(report.drift)
            result.nulled += len(report.nulled)
            result.drift_paths.update(report.drift)
            result.nulled_paths.update(report.nulled)
            if row["id"] != log_id:
                error_row(
                    ID_MISMATCH,
                    log_id,
                    project,
                    http_status=200,
                    error_msg=f"asked for {log_id}, CBR returned id {row['id']!r}",
                )

    def _write(
        self, data_rows: list[Row], error_rows: list[Row], plans: list[_Plan], result: BatchResult
    ) -> bool:
        """Write the rows; False when the write failed and every message is to be redelivered."""
        if not data_rows and not error_rows:
            return True
        try:
            report = self.lake.write(data_rows, error_rows)
        except SinkError as exc:
            log_event(logging.ERROR, f"lake write failed, whole batch redelivered: {exc}")
            result.failed = [p.message.message_id for p in plans]
            result.failure_reasons = Counter({"lake_write": len(plans)})
            result.data_rows = result.error_rows = 0
            result.error_reasons.clear()
            return False
        result.data_rows, result.error_rows = report.data_rows, report.error_rows
        result.files = report.keys
        return True


def _log_drift(result: BatchResult) -> None:
    """One line per batch, not per record: a new API field would otherwise log every row."""
    if not result.drift_paths and not result.nulled_paths:
        return
    log_event(
        logging.WARNING,
        "schema drift",
        unknown_fields=sorted(result.drift_paths)[:50],
        nulled_fields=sorted(result.nulled_paths)[:50],
        counts=dict((result.drift_paths + result.nulled_paths).most_common(50)),
    )


def _failure(plan: _Plan, outcomes: dict[FetchKey, Outcome]) -> str | None:
    """Why the message must be redelivered, or None when every ID it names is settled."""
    if plan.missing_project:
        log_event(
            logging.ERROR,
            f"message names no project_id and {CBR_PROJECT_ID} is not set",
            message_id=plan.message.message_id,
        )
        return "no_project"
    for key in plan.keys:
        outcome = outcomes[key]
        if isinstance(outcome, AccessError):
            return "access"
        if isinstance(outcome, RetriableError):
            return "retriable"
    return None


def build_auth(settings: Settings, session: Any) -> AuthProvider:
    """The auth provider the settings ask for; a secret is read here, once per cold start."""
    if settings.credentials_secret_id is not None:
        import boto3  # only a deployment that keeps credentials in Secrets Manager needs it

        from lib.cbr.credentials import SecretAuth, fetch_secret, parse_secret

        client = boto3.client("secretsmanager")  # honours AWS_ENDPOINT_URL_SECRETS_MANAGER
        secret_id, iam_endpoint = settings.credentials_secret_id, settings.iam_endpoint
        return SecretAuth(
            lambda: parse_secret(fetch_secret(client, secret_id), iam_endpoint), session
        )
    if settings.access_key is not None:
        return provider_for(settings.access_key, session)
    if settings.iam is not None:
        return provider_for(settings.iam, session)
    if settings.auth_token is not None:
        return StaticToken(settings.auth_token)
    return NoAuth()


def build_pipeline(settings: Settings) -> Pipeline:
    """Wire the stages once per cold start; the session and token cache live as long as it does."""
    session = build_session(settings.fetch_concurrency, settings.replay_dir)
    client = CbrClient(
        session,
        settings.cbr_endpoint,
        build_auth(settings, session),
        timeout_s=settings.http_timeout_s,
        policy=RetryPolicy(max_attempts=settings.max_attempts, base_s=settings.backoff_base_s),
        pacer=RatePacer(settings.max_rps),
    )
    default_project = settings.project_id or (REPLAY_PROJECT if settings.replay_dir else None)
    follower = None
    if settings.follow_unfinished and settings.queue_url is not None:
        import boto3  # only a deployment that follows tasks (or drains) needs it

        follower = QueueFollower(
            boto3.client("sqs"),  # honours AWS_ENDPOINT_URL_SQS
            settings.queue_url,
            max_attempts=settings.follow_max_attempts,
            base_delay_s=settings.follow_delay_s,
        )
    return Pipeline(
        client,
        Lake(
            open_store(settings.lake_uri, sse=settings.lake_sse, kms_key_id=settings.sse_kms_key_id)
        ),
        concurrency=settings.fetch_concurrency,
        default_project=default_project,
        follower=follower,
    )
