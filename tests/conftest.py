"""Shared test fixtures: sample events, the fake CBR server, settings and lake readers."""

from __future__ import annotations

import io
import json
import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings

from lib.aws.app import App
from lib.core.runtime import JsonFormatter, logger
from lib.core.schema import DATA_TABLE, ERRORS_TABLE
from lib.core.settings import LakeLocation, Settings
from lib.lake.objects import ObjectStore
from lib.lake.reader import open_table
from lib.lake.s3 import S3Store
from lib.lake.storage import LocalStore

from fakecbr import FakeCBR

# Property tests draw new examples on every run on a developer's machine; in CI (OPLOG_LAKE_CI=1,
# set by .ci/run) the same ones every run, so a failure there can be run again and seen again.
hypothesis_settings.register_profile(
    "ci",
    derandomize=True,
    database=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
if os.environ.get("OPLOG_LAKE_CI"):
    hypothesis_settings.load_profile("ci")


def _isolate_from_the_machine() -> None:
    """The suite (and every process it starts) reads neither the machine's AWS configuration (a
    profile, ~/.aws) nor the product's settings from the shell: each test sets what it needs."""
    from lib.core.settings import variable_names

    for name in {*variable_names(), "AWS_PROFILE", "AWS_DEFAULT_PROFILE"}:
        os.environ.pop(name, None)
    nowhere = os.path.join(os.path.dirname(__file__), "no-such-aws-file")
    os.environ["AWS_CONFIG_FILE"] = os.environ["AWS_SHARED_CREDENTIALS_FILE"] = nowhere


_isolate_from_the_machine()

ROOT = Path(__file__).resolve().parent.parent
EVENTS = ROOT / "events"
FIXTURE_LOGS = EVENTS / "operation-logs"
PROJECT = "04f1829c788037ac2fb8c01eb2b04b95"


def run_handler_script(event_file: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """`python handler.py EVENT` as an operator runs it, in a process of its own."""
    return subprocess.run(
        [sys.executable, "handler.py", event_file],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def load_event(name: str) -> dict[str, Any]:
    return json.loads((EVENTS / name).read_text(encoding="utf-8"))


def fixture_logs() -> dict[str, dict[str, Any]]:
    """Every sample operation_log, by id."""
    logs = {}
    for path in sorted(FIXTURE_LOGS.glob("*.json")):
        log = json.loads(path.read_text(encoding="utf-8"))["operation_log"]
        logs[log["id"]] = log
    return logs


def sqs_event(*bodies: str, ids: list[str] | None = None) -> dict[str, Any]:
    """An SQS event with one record per body; message IDs m0, m1, ... unless given."""
    ids = ids or [f"m{i}" for i in range(len(bodies))]
    return {
        "Records": [
            {
                "messageId": message_id,
                "receiptHandle": f"rh-{message_id}",
                "body": body,
                "attributes": {"ApproximateReceiveCount": "1"},
                "messageAttributes": {},
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:ap-southeast-1:123456789012:oplog-lake-tasks",
                "awsRegion": "ap-southeast-1",
            }
            for message_id, body in zip(ids, bodies, strict=True)
        ]
    }


@dataclass
class Context:
    """A Lambda context stand-in with a fixed budget."""

    budget_s: float = 60.0
    aws_request_id: str = "test-request"

    def get_remaining_time_in_millis(self) -> int:
        return int(self.budget_s * 1000)


def read_rows(lake: Path | str, table: str = DATA_TABLE) -> list[dict[str, Any]]:
    """Every row of a lake table, as written (dt included), sorted for stable comparisons."""
    try:
        data = open_table(lake_location(lake), table).to_table()
    except FileNotFoundError:
        return []
    key = "id" if table == DATA_TABLE else "reason"
    return sorted(
        data.to_pylist(), key=lambda r: (str(r.get(key)), str(r.get("source_message_id")))
    )


def lake_location(lake: Path | str) -> LakeLocation:
    """A lake as the CLI resolves it: a folder, or an S3 lake at the endpoint the test set."""
    return Settings.for_lake(os.environ, lake_uri=str(lake)).lake


def lake_files(lake: Path) -> list[Path]:
    return sorted(p for p in lake.rglob("*") if p.is_file())


def read_errors(lake: Path | str) -> list[dict[str, Any]]:
    return read_rows(lake, ERRORS_TABLE)


def failed_ids(response: dict[str, Any]) -> list[str]:
    return sorted(item["itemIdentifier"] for item in response["batchItemFailures"])


@pytest.fixture
def fake() -> Iterator[FakeCBR]:
    with FakeCBR() as server:
        yield server


@pytest.fixture
def lake(tmp_path: Path) -> Path:
    return tmp_path / "lake"


@pytest.fixture
def settings(fake: FakeCBR, lake: Path) -> Settings:
    """Settings against the fake server, with fast backoff so retry tests stay quick."""
    return Settings(
        cbr_endpoint=fake.base_url,
        project_id=PROJECT,
        lake_uri=str(lake),
        fetch_concurrency=8,
        http_timeout_s=5.0,
        max_attempts=4,
        backoff_base_s=0.01,
    )


def make_app(settings: Settings, **changes: Any) -> App:
    return App.from_settings(replace(settings, **changes))


@pytest.fixture
def logs() -> Iterator[io.StringIO]:
    """Everything oplog-lake logs during the test, as JSON lines."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    logger.addHandler(handler)
    yield stream
    logger.removeHandler(handler)


def table_of(rows: list[dict[str, Any]], schema: pa.Schema) -> pa.Table:
    return pa.Table.from_pylist(rows, schema=schema)


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    """S3, SQS and Secrets Manager as a real HTTP endpoint on 127.0.0.1 (moto's server mode)."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def aws(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """Point boto3 at the loopback endpoint through its standard variables; fresh state per test."""
    import requests

    for variable in (
        "AWS_ENDPOINT_URL_S3",
        "AWS_ENDPOINT_URL_SQS",
        "AWS_ENDPOINT_URL_SECRETS_MANAGER",
    ):
        monkeypatch.setenv(variable, moto_endpoint)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "ap-southeast-1")
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    requests.post(f"{moto_endpoint}/moto-api/reset", timeout=10).raise_for_status()
    return moto_endpoint


@pytest.fixture
def served(fake: FakeCBR) -> FakeCBR:
    for log in fixture_logs().values():
        fake.add_log(log)
    return fake


@pytest.fixture(params=["local", "s3"], name="store")
def store_of_each_kind(request: pytest.FixtureRequest, tmp_path: Path) -> ObjectStore:
    """The lake's store, once per backend: a folder, and S3 on moto's server."""
    if request.param == "local":
        return LocalStore(tmp_path / "lake")
    request.getfixturevalue("aws")
    import boto3

    client = boto3.client("s3")
    client.create_bucket(
        Bucket="lake", CreateBucketConfiguration={"LocationConstraint": "ap-southeast-1"}
    )
    return S3Store(client, "lake", "audit")
