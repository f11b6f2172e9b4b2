"""The application object a warm Lambda keeps: settings and wired stages, built once."""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from lib.aws.events import compact_request, event_kind, partial_batch_response, sqs_messages
from lib.aws.metrics import emf_lines
from lib.core.errors import ConfigError
from lib.core.runtime import REDACTOR, Deadline, LambdaContextLike, configure_logging, log_event
from lib.core.settings import QUEUE_URL, Settings
from lib.ingest.pipeline import Pipeline, build_pipeline

if TYPE_CHECKING:
    from lib.aws.drain import QueueDrain


@dataclass
class App:
    settings: Settings
    pipeline: Pipeline
    drain: QueueDrain | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> App:
        configure_logging(settings.log_level)
        for secret in _secrets(settings):
            REDACTOR.add(secret)
        pipeline = build_pipeline(settings)
        return cls(settings, pipeline, _drain(settings, pipeline))

    def handle(self, event: Mapping[str, Any], context: LambdaContextLike) -> dict[str, Any]:
        started = time.monotonic()
        deadline = Deadline.for_budget(context.get_remaining_time_in_millis() / 1000)
        if event_kind(event) == "scheduled":
            if self.drain is None:
                raise ConfigError(f"{QUEUE_URL} must be set to drain the queue on a schedule.")
            response = self.drain.run(deadline).as_dict()
            summary = {"event": "scheduled", **response}
        else:
            result = self.pipeline.process(sqs_messages(event), deadline)
            response = dict(partial_batch_response(result.failed))
            summary = {"event": "sqs", **result.summary()}
        log_event(
            logging.INFO,
            "invocation done",
            request_id=context.aws_request_id,
            elapsed_s=round(time.monotonic() - started, 3),
            **summary,
        )
        if self.settings.in_lambda:
            _emit_metrics(summary)
        return response


def _emit_metrics(summary: Mapping[str, Any]) -> None:
    """EMF lines on stdout, where Lambda's log capture turns them into CloudWatch metrics."""
    for line in emf_lines(summary):
        print(line, flush=True)


def _drain(settings: Settings, pipeline: Pipeline) -> QueueDrain | None:
    if settings.queue_url is None:
        return None
    import boto3  # only a deployment with a queue to drain pays for importing boto3

    from lib.aws.drain import QueueDrain

    return QueueDrain(
        boto3.client("sqs"),  # honours AWS_ENDPOINT_URL_SQS
        settings.queue_url,
        pipeline,
        batch_ids=settings.drain_batch_ids,
        max_messages=settings.drain_max_messages,
        wait_s=settings.drain_wait_s,
    )


def _secrets(settings: Settings) -> list[str]:
    values = [settings.auth_token]
    if settings.iam is not None:
        values.append(settings.iam.password)
    if settings.access_key is not None:
        values.append(settings.access_key.secret_key)
    return [v for v in values if v]


def handle(event: Mapping[str, Any], context: LambdaContextLike) -> dict[str, Any]:
    """The Lambda entry: compaction events need only the lake, everything else the App."""
    if event_kind(event) == "compact":
        return compact_lake(event, context, os.environ)
    return application().handle(event, context)


def compact_lake(
    event: Mapping[str, Any], context: LambdaContextLike, env: Mapping[str, str]
) -> dict[str, Any]:
    """A scheduled compaction: reads only the lake's settings, never CBR credentials."""
    from lib.lake.compact import Compactor, Selection
    from lib.lake.storage import open_store

    started = time.monotonic()
    settings = Settings.for_lake(env)
    configure_logging(settings.log_level)
    deadline = Deadline.for_budget(context.get_remaining_time_in_millis() / 1000)
    days, target_mb, keep_history = compact_request(event)
    store = open_store(settings.lake_uri, sse=settings.lake_sse, kms_key_id=settings.sse_kms_key_id)
    compactor = Compactor(store, target_mb=target_mb, keep_history=keep_history)
    response = compactor.run(Selection(older_than_days=days), deadline).as_dict()
    summary = {"event": "compact", **response}
    log_event(
        logging.INFO,
        "invocation done",
        request_id=context.aws_request_id,
        elapsed_s=round(time.monotonic() - started, 3),
        **summary,
    )
    if settings.in_lambda:
        _emit_metrics(summary)
    return response


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
