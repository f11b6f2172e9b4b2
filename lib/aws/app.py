"""The one composition root, and the application object a warm Lambda keeps.

`Root` builds every object from the settings (session, auth, client, store, lake, queue client,
follower, pipeline, drain), each once, and hands secrets to its own log redactor. The Lambda
`App` and the operator tools both get what they need from a `Root`; nothing else constructs them.

A cold start imports only what every event kind needs (the events, the settings, logging);
each object's modules (pyarrow, requests, boto3, the pipeline) are imported when it is built,
so an event kind pays only for its own.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Any

from lib.aws.events import compact_request, event_kind, partial_batch_response, sqs_messages
from lib.aws.metrics import emf_lines
from lib.core.errors import ConfigError
from lib.core.runtime import (
    Deadline,
    LambdaContextLike,
    RedactingFilter,
    Scrub,
    configure_logging,
    log_event,
)
from lib.core.settings import (
    CBR_ENDPOINT,
    CBR_PROJECT_ID,
    CBR_PROJECT_IDS,
    QUEUE_URL,
    Settings,
)

if TYPE_CHECKING:
    import requests

    from lib.aws.drain import QueueDrain
    from lib.aws.sqs import QueueFollower
    from lib.cbr.auth import AuthProvider
    from lib.cbr.client import CbrClient
    from lib.ingest.discover import Discovery
    from lib.ingest.inventory.snapshot import Inventory
    from lib.ingest.pipeline import Pipeline, RowSink
    from lib.lake.storage import ObjectStore
    from lib.lake.writer import Lake

REPLAY_PROJECT = "replay"  # stands in the URL when replaying offline without a project


class Root:
    """Builds each object the settings call for, once, on first use."""

    def __init__(self, settings: Settings, *, sleep: Callable[[float], None] = time.sleep) -> None:
        import pyarrow as pa

        # The system allocator gives back what Arrow freed (the JSON reader's buffers, a written
        # batch's table); mimalloc, pyarrow's default, keeps it: 267 MB against 215 MB peak RSS
        # for a 10,000-ID invocation (bench/memory.py), in a function of 512 MB.
        pa.set_memory_pool(pa.system_memory_pool())
        self.settings = settings
        self.sleep = sleep  # how the client waits between retries (tests record the waits)
        self.redactor = RedactingFilter(settings.secrets())
        configure_logging(settings.log_level, self.redactor)

    @property
    def scrub(self) -> Scrub:
        """Takes every secret known so far (settings, secrets read, tokens issued) out of text:
        the log redactor's, handed to the steps that build rows."""
        return self.redactor.redact

    @cached_property
    def session(self) -> requests.Session:
        from lib.cbr.transport import build_session

        return build_session(self.settings.fetch_concurrency, self.settings.replay_dir)

    @cached_property
    def auth(self) -> AuthProvider:
        """The auth the settings ask for; a secret is read here, once per cold start."""
        from lib.cbr.auth import NoAuth, StaticToken, provider_for

        settings, remember = self.settings, self.redactor.add
        if settings.credentials_secret_id is not None:
            from lib.cbr.credentials import SecretAuth, fetch_secret, parse_secret

            client = self.aws_client("secretsmanager")
            secret_id, iam_endpoint = settings.credentials_secret_id, settings.iam_endpoint
            return SecretAuth(
                lambda: parse_secret(fetch_secret(client, secret_id), iam_endpoint),
                self.session,
                remember,
            )
        if settings.access_key is not None:
            return provider_for(settings.access_key, self.session, remember)
        if settings.iam is not None:
            return provider_for(settings.iam, self.session, remember)
        if settings.auth_token is not None:
            return StaticToken(settings.auth_token)
        return NoAuth()

    @cached_property
    def client(self) -> CbrClient:
        from lib.cbr.client import CbrClient, RatePacer, RetryPolicy

        settings = self.settings
        return CbrClient(
            self.session,
            settings.cbr_endpoint,
            self.auth,
            timeout_s=settings.http_timeout_s,
            policy=RetryPolicy(max_attempts=settings.max_attempts, base_s=settings.backoff_base_s),
            pacer=RatePacer(settings.max_rps),
            sleep=self.sleep,
        )

    @cached_property
    def store(self) -> ObjectStore:
        from lib.lake.storage import open_store

        return open_store(self.settings.lake)

    @cached_property
    def lake(self) -> Lake:
        from lib.lake.writer import Lake

        return Lake(self.store)

    @property
    def default_project(self) -> str | None:
        settings = self.settings
        return settings.project_id or (REPLAY_PROJECT if settings.replay_dir else None)

    @cached_property
    def follower(self) -> QueueFollower | None:
        settings = self.settings
        if not settings.follow_unfinished or settings.queue_url is None:
            return None
        from lib.aws.sqs import QueueFollower

        return QueueFollower(
            self.aws_client("sqs"),
            settings.queue_url,
            max_attempts=settings.follow_max_attempts,
            base_delay_s=settings.follow_delay_s,
        )

    def pipeline(self, sink: RowSink | None = None, *, follow: bool = True) -> Pipeline:
        """The stages wired; `sink` replaces the lake (e.g. a filter in front of it)."""
        from lib.ingest.pipeline import Pipeline

        return Pipeline(
            self.client,
            sink or self.lake,
            concurrency=self.settings.fetch_concurrency,
            default_project=self.default_project,
            follower=self.follower if follow else None,
            scrub=self.scrub,
        )

    def drain(self, pipeline: Pipeline) -> QueueDrain | None:
        settings = self.settings
        if settings.queue_url is None:
            return None
        from lib.aws.drain import QueueDrain

        return QueueDrain(
            self.aws_client("sqs"),
            settings.queue_url,
            pipeline,
            batch_ids=settings.drain_batch_ids,
            max_messages=settings.drain_max_messages,
            wait_s=settings.drain_wait_s,
        )

    @cached_property
    def discovery(self) -> Discovery:
        """Discovery for the settings' projects: into the lake, or onto the queue."""
        from lib.aws.sqs import QueueFollower, QueueLogSink
        from lib.ingest.discover import DiscoverConfig, Discovery
        from lib.ingest.known import KnownRows, LakeLogSink, LogSink
        from lib.ingest.watermark import Watermarks

        settings = self.settings
        if settings.replay_dir is not None:
            raise ConfigError(
                f"discovery lists tasks through the CBR list API, which {CBR_ENDPOINT}="
                f"{settings.cbr_endpoint} cannot answer (it replays single logs): set "
                f"{CBR_ENDPOINT} to the API."
            )
        queue_url = settings.queue_url

        def new_sink() -> LogSink:  # a fresh view of what the lake holds, for every pass
            known = KnownRows(self.store)
            if settings.discover_mode == "queue" and queue_url is not None:
                return QueueLogSink(self.aws_client("sqs"), queue_url, known)
            return LakeLogSink(self.lake, known, scrub=self.scrub)

        follower = None
        if queue_url is not None:  # unfinished tasks leaving the lookback are followed
            follower = QueueFollower(
                self.aws_client("sqs"),
                queue_url,
                max_attempts=settings.follow_max_attempts,
                base_delay_s=settings.follow_delay_s,
            )
        config = DiscoverConfig(
            lookback=timedelta(hours=settings.discover_lookback_h), start=settings.discover_start
        )
        return Discovery(self.client, Watermarks(self.store), new_sink, config, follower=follower)

    def discover_projects(self, chosen: Sequence[str] = ()) -> tuple[str, ...]:
        projects = tuple(chosen) or self.settings.discover_projects
        if not projects:
            raise ConfigError(
                f"Name the projects to discover: {CBR_PROJECT_IDS} (comma-separated) or "
                f"{CBR_PROJECT_ID}."
            )
        return projects

    @cached_property
    def inventory(self) -> Inventory:
        """Inventory snapshots of the settings' projects into the lake."""
        from lib.ingest.inventory.snapshot import Inventory

        settings = self.settings
        return Inventory(self.client, self.store, settings.inventory_types, scrub=self.scrub)

    def inventory_projects(self, chosen: Sequence[str] = ()) -> tuple[str, ...]:
        """--project, else the discovery projects, else (replaying offline) the replay's."""
        projects = tuple(chosen) or self.settings.discover_projects
        if not projects and self.settings.replay_dir is not None:
            from lib.cbr.replay import replay_projects

            projects = replay_projects(self.settings.replay_dir)
        if not projects:
            raise ConfigError(
                f"Name the projects to take an inventory of: {CBR_PROJECT_IDS} (comma-separated) "
                f"or {CBR_PROJECT_ID}."
            )
        return projects

    def aws_client(self, service: str) -> Any:
        """A boto3 client (honours the AWS_ENDPOINT_URL_* overrides); boto3 is imported only by
        deployments that use a queue, a secret or an S3 lake."""
        from lib.lake.s3 import aws_client

        return aws_client(service)


@dataclass
class App:
    """What a warm Lambda keeps: the root and the objects every invocation uses."""

    root: Root
    pipeline: Pipeline
    drain: QueueDrain | None = None

    @property
    def settings(self) -> Settings:
        return self.root.settings

    @classmethod
    def from_settings(
        cls, settings: Settings, *, sleep: Callable[[float], None] = time.sleep
    ) -> App:
        root = Root(settings, sleep=sleep)
        pipeline = root.pipeline()  # builds auth now: a bad secret fails the cold start
        return cls(root, pipeline, root.drain(pipeline))

    def handle(self, event: Mapping[str, Any], context: LambdaContextLike) -> dict[str, Any]:
        started = time.monotonic()
        deadline = Deadline.for_budget(context.get_remaining_time_in_millis() / 1000)
        kind = event_kind(event)
        if kind == "discover":
            from lib.ingest.discover_run import summarize

            runs = self.root.discovery.run(self.root.discover_projects(), deadline)
            response = summarize(runs, datetime.now(UTC))
            summary: dict[str, Any] = {"event": "discover", **response}
        elif kind == "inventory":
            from lib.ingest.inventory.snapshot import summarize as inventory_summary

            snapshots = self.root.inventory.run(self.root.inventory_projects(), deadline)
            response = inventory_summary(snapshots)
            summary = {"event": "inventory", **response}
        elif kind == "scheduled":
            if self.drain is None:
                raise ConfigError(f"{QUEUE_URL} must be set to drain the queue on a schedule.")
            response = self.drain.run(deadline).as_dict()
            summary = {"event": "scheduled", **response}
        else:
            result = self.pipeline.process(sqs_messages(event), deadline)
            response = dict(partial_batch_response(result.failed))
            summary = {"event": "sqs", **result.summary()}
        _done(context, started, summary, self.settings.in_lambda)
        return response


def _done(
    context: LambdaContextLike, started: float, summary: Mapping[str, Any], in_lambda: bool
) -> None:
    """The invocation's one summary line, and its metrics when running in Lambda."""
    log_event(
        logging.INFO,
        "invocation done",
        request_id=context.aws_request_id,
        elapsed_s=round(time.monotonic() - started, 3),
        **summary,
    )
    if in_lambda:
        for line in emf_lines(summary):  # stdout: Lambda's log capture makes them metrics
            print(line, flush=True)


def handle(event: Mapping[str, Any], context: LambdaContextLike) -> dict[str, Any]:
    """The Lambda entry: compaction events need only the lake, everything else the App."""
    as_deployed()
    if event_kind(event) == "compact":
        return compact_lake(event, context, os.environ)
    return application().handle(event, context)


class _WithoutPandas:
    """An import finder that answers for pandas as if it were not installed."""

    def find_spec(self, name: str, path: object, target: object = None) -> None:
        if name.partition(".")[0] == "pandas":
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)


def as_deployed() -> None:
    """The function runs here as in Lambda, whose package has no pandas: pyarrow imports pandas
    on its first conversion of Python values wherever it is installed (a checkout after `make
    bench`), and a replay there carried it (45 MB more peak RSS, 0.3 s more)."""
    if "pandas" not in sys.modules and not any(
        isinstance(finder, _WithoutPandas) for finder in sys.meta_path
    ):
        sys.meta_path.insert(0, _WithoutPandas())


def compact_lake(
    event: Mapping[str, Any], context: LambdaContextLike, env: Mapping[str, str]
) -> dict[str, Any]:
    """A scheduled compaction: reads only the lake's settings, never CBR credentials."""
    from lib.lake.compact import Compactor, Selection

    started = time.monotonic()
    root = Root(Settings.for_lake(env))
    deadline = Deadline.for_budget(context.get_remaining_time_in_millis() / 1000)
    days, target_mb, keep_history = compact_request(event)
    compactor = Compactor(root.store, target_mb=target_mb, keep_history=keep_history)
    response = compactor.run(Selection(older_than_days=days), deadline).as_dict()
    response.update(expire_inventory(root))
    _done(context, started, {"event": "compact", **response}, root.settings.in_lambda)
    return response


def expire_inventory(root: Root) -> dict[str, Any]:
    """Inventory retention, run with every compaction: snapshots older than INVENTORY_KEEP_DAYS
    (never a project's latest) and the files no published snapshot names."""
    from lib.lake.snapshots import remove_expired

    return remove_expired(root.store, root.settings.inventory_keep_days, datetime.now(UTC))


_app: App | None = None
_app_lock = threading.Lock()


def application(env: Mapping[str, str] | None = None) -> App:
    """The process-wide App; a bad setting raises ConfigError now and again on the next call."""
    global _app
    with _app_lock:
        if _app is None:
            try:
                _app = App.from_settings(Settings.from_env(os.environ if env is None else env))
            except ConfigError as exc:
                configure_logging("INFO")
                log_event(logging.ERROR, f"configuration error: {exc}")
                raise
        return _app
