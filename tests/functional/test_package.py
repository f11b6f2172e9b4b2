"""The Lambda package as deployed: every event kind run from the built package alone.

`make package` (tools/package.py) leaves out what the function does not load. Whatever it leaves
out, this test is what proves it may: the package is built as `make package` builds it (cached
under build/package-test/, keyed by what goes into it), and each event kind is handed to its
handler in a fresh interpreter that sees only the package and the standard library (`-I -S`,
started outside the checkout, tools/package_probe.py), against S3, SQS and Secrets Manager on
moto's server and the fake CBR API on loopback, with the API's keys read from Secrets Manager.
What each event wrote is read back (Parquet from the S3 lake, the queue's messages) and compared
with the source JSON.

One entry of KINDS per event kind: a function that sets the scene, invokes the package and checks
what was written.
"""

from __future__ import annotations

import hashlib
import importlib.util
import io
import json
import os
import shutil
import subprocess
import sys
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3
import pyarrow.parquet as pq
import pytest

from lib.core.schema import DATA_TABLE, ERRORS_TABLE
from lib.lake.s3 import S3Store
from lib.lake.snapshots import read_inventory

from conftest import PROJECT, ROOT, fixture_logs, load_event, run_handler_script, sqs_event
from expected import expected_columns
from fake_inventory import FakeInventory, populate
from fakecbr import FakeCBR, Reply
from tasks import make_log

pytestmark = pytest.mark.slow

BUCKET = "package-lake"
LAKE = f"s3://{BUCKET}/lake"
AK, SK = "AKPACKAGE00000000001", "SKPACKAGE000000000000000000000000000001"
# What goes into the package: a change to any of these builds it again.
BUILD_INPUTS = ("requirements.txt", "tools/package.py", "handler.py", "lib")
NOW = datetime.now(UTC).replace(microsecond=0)


def load_tool() -> ModuleType:
    """tools/package.py, the build tool `make package` runs (not an importable package)."""
    spec = importlib.util.spec_from_file_location("package_tool", ROOT / "tools" / "package.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


tool = load_tool()


@dataclass(frozen=True)
class Built:
    folder: Path
    python: str  # the interpreter that runs it: the Lambda runtime's version where there is one


def build_inputs_digest(arch: str, runtime: str) -> str:
    digest = hashlib.sha256(f"{arch} {runtime}".encode())
    for name in BUILD_INPUTS:
        path = ROOT / name
        files = [path] if path.is_file() else sorted(path.rglob("*"))
        for file in files:
            if file.is_file() and "__pycache__" not in file.parts and file.suffix != ".pyc":
                digest.update(file.relative_to(ROOT).as_posix().encode() + b"\0")
                digest.update(file.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def say(config: pytest.Config, line: str) -> None:
    """A line in the test output, whatever the verbosity (not a warning: those fail the run)."""
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    capture = config.pluginmanager.get_plugin("capturemanager")
    if reporter is not None and capture is not None:
        with capture.global_and_fixture_disabled():
            reporter.write_line(line)


@pytest.fixture(scope="session")
def built(pytestconfig: pytest.Config) -> Built:
    if not tool.NATIVE:
        pytest.fail("the package test needs an x86_64 or aarch64 machine to run the package")
    python = tool.find_runtime_python()
    runtime = tool.RUNTIME
    if python is None:
        python = sys.executable
        runtime = "{}.{}".format(*sys.version_info[:2])
        say(
            pytestconfig,
            f"\nnote: no Python {tool.RUNTIME} (the Lambda runtime) here: the package test "
            f"builds and runs the package for Python {runtime} ({python})",
        )
    key = build_inputs_digest(tool.NATIVE, runtime)
    cache = ROOT / "build" / "package-test"
    folder = cache / f"{tool.NATIVE}-{runtime}-{key}"
    if not (folder / ".built").exists():
        for old in cache.glob("*") if cache.is_dir() else []:
            shutil.rmtree(old, ignore_errors=True)  # earlier inputs: never used again
        work = cache / f".building-{os.getpid()}"
        tool.build(work, tool.NATIVE, python=python, runtime=runtime)
        (work / ".built").touch()
        shutil.rmtree(folder, ignore_errors=True)
        work.rename(folder)
    return Built(folder, python)


@dataclass
class World:
    """The function's surroundings on loopback, and the package that runs in them."""

    built: Built
    fake: FakeCBR
    endpoint: str  # moto's server
    queue_url: str
    secret_arn: str
    probed: dict[str, Any] = field(default_factory=dict)

    def environment(self, **changes: str) -> dict[str, str]:
        """What the function's configuration gives it (template.yaml), pointed at loopback."""
        env = {
            "AWS_LAMBDA_FUNCTION_NAME": "oplog-lake-ingest",
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "ap-southeast-1",
            "AWS_ENDPOINT_URL_S3": self.endpoint,
            "AWS_ENDPOINT_URL_SQS": self.endpoint,
            "AWS_ENDPOINT_URL_SECRETS_MANAGER": self.endpoint,
            "CBR_ENDPOINT": self.fake.base_url,
            "CBR_PROJECT_ID": PROJECT,
            "CBR_CREDENTIALS_SECRET_ID": self.secret_arn,
            "LAKE_URI": LAKE,
            "LOG_LEVEL": "WARNING",
            "MAX_ATTEMPTS": "2",
        }
        return env | changes

    def invoke(self, event: dict[str, Any], **env: str) -> dict[str, Any]:
        """One invocation in a fresh process of the package: its response. What else the probe
        saw (the packages and layers loaded) is kept in `probed`."""
        self.probed = tool.run_events(
            self.built.folder, [event], self.environment(**env), self.built.python
        )
        (response,) = self.probed["responses"]
        return dict(response)

    def seed(self, *ids: str, **env: str) -> None:
        """Rows already in the lake, written by the checkout's own code (not under test here)."""
        from lib.aws.app import App
        from lib.core.runtime import LocalContext
        from lib.core.settings import Settings

        settings = Settings.from_env(self.environment(AWS_LAMBDA_FUNCTION_NAME="", **env))
        response = App.from_settings(settings).handle(sqs_event(*ids), LocalContext())
        assert response == {"batchItemFailures": []}

    def rows(self, table: str = DATA_TABLE) -> list[dict[str, Any]]:
        """Every row of a table in the S3 lake, read back from the Parquet objects."""
        s3, found = boto3.client("s3"), []
        for key in self.keys(table):
            body = s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()
            found += pq.read_table(io.BytesIO(body)).to_pylist()
        return sorted(found, key=lambda r: (str(r.get("id")), str(r.get("updated_at"))))

    def codecs(self, table: str = DATA_TABLE) -> set[str]:
        """The compression of every column chunk of the table's files."""
        s3, found = boto3.client("s3"), set()
        for key in self.keys(table):
            body = s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()
            meta = pq.ParquetFile(io.BytesIO(body)).metadata
            for group in range(meta.num_row_groups):
                row_group = meta.row_group(group)
                found |= {row_group.column(n).compression for n in range(row_group.num_columns)}
        return found

    def keys(self, table: str) -> list[str]:
        answer = boto3.client("s3").list_objects_v2(Bucket=BUCKET, Prefix=f"lake/{table}/")
        return sorted(item["Key"] for item in answer.get("Contents", []))

    def received(self) -> list[dict[str, Any]]:
        """Every message on the queue, taken off it."""
        sqs, bodies = boto3.client("sqs"), []
        while True:
            answer = sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10)
            messages = answer.get("Messages", [])
            if not messages:
                return bodies
            for message in messages:
                bodies.append(json.loads(message["Body"]))
                sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])

    def send(self, *bodies: str) -> None:
        for body in bodies:
            boto3.client("sqs").send_message(QueueUrl=self.queue_url, MessageBody=body)


@pytest.fixture
def world(built: Built, aws: str) -> Iterator[World]:
    boto3.client("s3").create_bucket(
        Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": "ap-southeast-1"}
    )
    queue = boto3.client("sqs").create_queue(
        QueueName="tasks", Attributes={"VisibilityTimeout": "900"}
    )["QueueUrl"]
    secret = boto3.client("secretsmanager").create_secret(
        Name="cbr-keys", SecretString=json.dumps({"access_key": AK, "secret_key": SK})
    )["ARN"]
    with FakeCBR(require_auth=True, access_keys={AK: SK}) as fake:
        yield World(built, fake, aws, queue, secret)


def assert_rows_hold(rows: list[dict[str, Any]], sources: dict[str, dict[str, Any]]) -> None:
    """Each row holds its source log: every column, and the log's own text as raw_json."""
    assert sorted(row["id"] for row in rows) == sorted(sources)
    for row in rows:
        source = sources[row["id"]]
        assert json.loads(row["raw_json"]) == source, row["id"]
        for name, value in expected_columns(source).items():
            assert row[name] == value, (row["id"], name)


def listed_tasks(world: World, count: int, days_ago: float = 3) -> dict[str, dict[str, Any]]:
    """`count` tasks for the list API, created over the last `days_ago` days."""
    logs = {}
    for n in range(count):
        created = NOW - timedelta(hours=1) - timedelta(days=days_ago) * n / count
        log = make_log(n, created)
        world.fake.add_log(log)
        logs[log["id"]] = log
    return logs


# The event kinds. Each sets the scene, invokes the package, and reads back what was written.


def sqs_batch(world: World) -> None:
    for log in fixture_logs().values():
        world.fake.add_log(log)
    assert world.invoke(load_event("sqs-batch.json")) == {"batchItemFailures": []}
    assert_rows_hold(world.rows(), fixture_logs())
    assert world.codecs() == world.codecs(ERRORS_TABLE) == {"ZSTD"}
    reasons = sorted(row["reason"] for row in world.rows(ERRORS_TABLE))
    assert reasons == ["invalid_id", "invalid_message", "not_found"]


def scheduled_drain(world: World) -> None:
    logs = dict(list(fixture_logs().items())[:12])
    for log in logs.values():
        world.fake.add_log(log)
    ids = list(logs)
    world.send(json.dumps(ids[:5]), *ids[5:10], json.dumps({"operation_log_id": ids[10]}), ids[11])
    response = world.invoke(load_event("schedule.json"), QUEUE_URL=world.queue_url)
    assert (response["deleted"], response["rows"], response["failures"]) == (8, 12, 0), response
    assert world.received() == []
    assert_rows_hold(world.rows(), logs)


def discover_into_the_lake(world: World) -> None:
    logs = listed_tasks(world, 40)
    held = sorted(logs)[:15]
    world.seed(*held)  # already in the lake: read back through the store, not written again
    start = (NOW - timedelta(days=4)).isoformat()
    response = world.invoke(load_event("discover.json"), DISCOVER_START=start)
    assert response["discovery_failures"] == 0 and response["discovered"] == 25, response
    rows = world.rows()
    assert Counter((row["id"], row["updated_at"]) for row in rows).most_common(1)[0][1] == 1
    assert_rows_hold(rows, logs)
    assert world.keys("_state") == [f"lake/_state/discover/{PROJECT}.json"]


def discover_onto_the_queue(world: World) -> None:
    logs = listed_tasks(world, 40)
    held = sorted(logs)[:15]
    world.seed(*held)
    start = (NOW - timedelta(days=4)).isoformat()
    mode = {"DISCOVER_MODE": "queue", "QUEUE_URL": world.queue_url, "DISCOVER_START": start}
    response = world.invoke(load_event("discover.json"), **mode)
    assert response["discovery_failures"] == 0, response
    sent = world.received()
    assert sorted(body["operation_log_id"] for body in sent) == sorted(set(logs) - set(held))
    assert {body["project_id"] for body in sent} == {PROJECT}
    assert_rows_hold(world.rows(), {log_id: logs[log_id] for log_id in held})


def compact(world: World) -> None:
    day = NOW - timedelta(days=10)  # compaction takes days at least one day old
    logs = {log["id"]: log for log in (make_log(n, day) for n in range(12))}
    for log in logs.values():
        world.fake.add_log(log)
    ids, partition = sorted(logs), f"{DATA_TABLE}/dt={day.date().isoformat()}"
    for start in range(0, len(ids), 3):
        world.seed(*ids[start : start + 3])  # a file per invocation
    assert len(world.keys(partition)) == 4
    response = world.invoke(load_event("compact.json"))
    assert (response["compacted"], response["files_in"], response["files_out"]) == (1, 4, 1)
    assert "requests" not in world.probed["packages"]  # it loads only what compaction needs
    assert {"lib.cbr", "lib.ingest"}.isdisjoint(world.probed["layers"])
    assert len(world.keys(partition)) == 1
    assert_rows_hold(world.rows(), logs)


def follow_up(world: World) -> None:
    task = next(log for log in fixture_logs().values() if log["status"] == "success")
    running = {**task, "status": "running", "updated_at": "2026-11-21T02:00:30Z"}
    world.fake.script(task["id"], Reply(200, {"operation_log": running}))
    world.fake.add_log(task)
    follow = {"FOLLOW_UNFINISHED": "true", "QUEUE_URL": world.queue_url, "FOLLOW_DELAY_S": "0"}
    assert world.invoke(sqs_event(task["id"]), **follow) == {"batchItemFailures": []}
    (sent,) = world.received()
    assert sent == {"operation_log_id": task["id"], "project_id": PROJECT, "attempt": 1}
    assert world.invoke(sqs_event(json.dumps(sent)), **follow) == {"batchItemFailures": []}
    assert world.received() == []  # it ended: no further follow-up
    running_row, done_row = sorted(world.rows(), key=lambda row: row["updated_at"])
    assert json.loads(running_row["raw_json"]) == running
    assert json.loads(done_row["raw_json"]) == task


def inventory(world: World) -> None:
    world.fake.inventory = FakeInventory()
    account = populate(world.fake.inventory, PROJECT, vaults=3, servers=12, backups=40)
    response = world.invoke(load_event("inventory.json"))
    assert (response["snapshots"], response["inventory_failures"]) == (1, 0), response
    view = read_inventory(S3Store(boto3.client("s3"), BUCKET, "lake"))
    for name, source in (("vaults", account.vaults), ("backups", account.backups)):
        texts = view.tables[name]["raw_json"].to_pylist()
        held = sorted((json.loads(text) for text in texts), key=lambda item: item["id"])
        assert held == sorted(source, key=lambda item: item["id"]), name
        assert sorted(view.tables[name]["id"].to_pylist()) == [item["id"] for item in held]


KINDS: dict[str, Callable[[World], None]] = {
    "sqs batch": sqs_batch,
    "scheduled drain": scheduled_drain,
    "discover, lake mode": discover_into_the_lake,
    "discover, queue mode": discover_onto_the_queue,
    "compact": compact,
    "follow-up": follow_up,
    "inventory": inventory,
}


@pytest.mark.parametrize("kind", KINDS)
def test_the_package_alone_runs_the_event_kind(kind: str, world: World) -> None:
    KINDS[kind](world)


def test_an_offline_replay_runs_without_pandas_as_the_package_does(tmp_path: Path) -> None:
    """pyarrow imports pandas on its first conversion wherever it is installed (a checkout after
    `make bench`); the package has none, and `python handler.py` runs as the package does."""
    stub = tmp_path / "site" / "pandas"
    stub.mkdir(parents=True)
    marker = tmp_path / "pandas-imported"
    stub.joinpath("__init__.py").write_text(
        f"open({str(marker)!r}, 'w').close()\nraise ImportError('a stand-in for pandas')\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CBR_", "IAM_", "QUEUE_"))}
    env |= {"LAKE_URI": str(tmp_path / "lake"), "PYTHONPATH": str(stub.parent)}
    run = run_handler_script("events/sqs-batch.json", env)
    assert run.returncode == 0, run.stderr
    assert not marker.exists()
    probe = "import pandas"  # the stand-in is importable: the check above can fail
    found = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True)
    assert "a stand-in for pandas" in found.stderr and marker.exists()
