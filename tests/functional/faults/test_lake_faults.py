"""Lake faults: unwritable folders, full disks, missing or denied buckets."""

from __future__ import annotations

import contextlib
import errno
import io
import json
import os
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
import requests

from lib.aws.app import App, Root
from lib.core.settings import Settings
from lib.lake.storage import LocalStore, ObjectStore

from conftest import (
    Context,
    failed_ids,
    lake_files,
    make_app,
    read_errors,
    read_rows,
    sqs_event,
)
from fakecbr import FakeCBR
from faultkit import (
    BUCKET,
    DAY_20,
    DAY_21,
    DAY_22,
    HEALTHY_ID,
    SEED_ID,
    Response,
    check,
    summary_line,
)
from invariant import assert_lake_files_are_whole

# The lake


def test_an_unwritable_lake_fails_the_whole_batch(
    served: FakeCBR, settings: Settings, lake: Path, logs: io.StringIO
) -> None:
    lake.parent.mkdir(parents=True, exist_ok=True)
    lake.write_text("a file where the lake folder should be")
    event = sqs_event(SEED_ID, "bad id!", "missing-id", ids=["data", "invalid", "not-found"])
    response = make_app(settings).handle(event, Context())
    check(event, response, lake, ["data", "invalid", "not-found"])
    assert lake.read_text() == "a file where the lake folder should be"
    assert summary_line(logs)["failure_reasons"] == {"lake_write": 3}
    assert "lake write failed, whole batch redelivered" in logs.getvalue()


BLOCKED_EVENT = sqs_event(
    DAY_20, json.dumps(list(DAY_21)), DAY_22, "bad id!", ids=["day20", "day21", "day22", "invalid"]
)


def write_with_second_partition_blocked(settings: Settings, lake: Path) -> Response:
    """Run BLOCKED_EVENT with a regular file where dt=2026-11-21 must go, then remove it."""
    blocker = lake / "operation_logs" / "dt=2026-11-21"
    blocker.parent.mkdir(parents=True)
    blocker.write_text("not a partition")
    response = make_app(settings).handle(BLOCKED_EVENT, Context())
    blocker.unlink()
    return response


def test_a_write_failing_on_the_second_partition_fails_all_and_heals_on_redelivery(
    served: FakeCBR, settings: Settings, lake: Path
) -> None:
    first = write_with_second_partition_blocked(settings, lake)
    assert failed_ids(first) == ["day20", "day21", "day22", "invalid"]
    assert_lake_files_are_whole(lake)
    orphans = [f.relative_to(lake).as_posix() for f in lake_files(lake)]
    assert [o.rpartition("/")[0] for o in orphans] in ([], ["operation_logs/dt=2026-11-20"])

    second = make_app(settings).handle(BLOCKED_EVENT, Context())

    check(BLOCKED_EVENT, second, lake, [])
    day_20 = [
        f.relative_to(lake).as_posix() for f in (lake / "operation_logs/dt=2026-11-20").iterdir()
    ]
    assert len(day_20) == 1 and set(orphans) <= set(day_20)  # the orphan replaced, same name
    rows = read_rows(lake)
    assert sorted(r["id"] for r in rows) == sorted([DAY_20, *DAY_21, DAY_22])  # no duplicate
    assert [e["reason"] for e in read_errors(lake)] == ["invalid_id"]


class FullDisk(LocalStore):
    """A local lake on a disk with no space left: a file's first bytes go to the disk, then the
    write fails as the OS fails it (ENOSPC), until `full` is cleared. Everything else is the
    real store: its temporary files, their cleanup, its error."""

    full = True

    def _write_file(self, path: Path, data: bytes) -> None:
        if not self.full:
            super()._write_file(path, data)
            return
        with open(path, "wb") as handle:
            handle.write(data[: len(data) // 2])
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))


def app_on(settings: Settings, store: ObjectStore) -> App:
    """The function as the composition root builds it, on this store."""
    root = Root(settings)
    root.store = store
    pipeline = root.pipeline()
    return App(root, pipeline, root.drain(pipeline))


def test_a_full_disk_fails_the_batch_leaves_no_temporary_file_and_heals(
    served: FakeCBR, settings: Settings, lake: Path, logs: io.StringIO
) -> None:
    disk = FullDisk(lake)
    event = sqs_event(SEED_ID, json.dumps([HEALTHY_ID, DAY_20]), "bad id!")
    app = app_on(settings, disk)
    response = app.handle(event, Context())
    check(event, response, lake, ["m0", "m1", "m2"])
    assert "No space left on device" in logs.getvalue()
    if lake.exists():
        assert [p for p in lake.rglob("*") if p.is_file()] == []  # no temporary file left

    disk.full = False  # space again
    check(event, app.handle(event, Context()), lake, [])
    assert len(read_rows(lake)) == 3


def mirror_s3(bucket: str, prefix: str, dest: Path) -> Path:
    """Copy an S3 lake into a folder, so the invariant checker can read it."""
    client = boto3.client("s3")
    pages = client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=f"{prefix}/")
    for page in pages:
        for item in page.get("Contents", []):
            target = dest / item["Key"].removeprefix(f"{prefix}/")
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(client.get_object(Bucket=bucket, Key=item["Key"])["Body"].read())
    return dest


def test_a_missing_bucket_fails_the_whole_batch(
    served: FakeCBR, settings: Settings, aws: str, tmp_path: Path, logs: io.StringIO
) -> None:
    event = sqs_event(SEED_ID, "bad id!")
    response = make_app(settings, lake_uri="s3://no-such-bucket/lake").handle(event, Context())
    check(event, response, tmp_path / "nothing-written", ["m0", "m1"])
    assert "the bucket of LAKE_URI=s3://no-such-bucket/lake does not exist" in logs.getvalue()


@contextlib.contextmanager
def iam_enforced_by_moto(endpoint: str) -> Iterator[None]:
    """Make the moto server check signatures and IAM policies until the block ends."""
    answer = requests.post(f"{endpoint}/moto-api/reset-auth", data=b"0", timeout=10)
    answer.raise_for_status()
    previous = str(answer.json()["PREVIOUS_INITIAL_NO_AUTH_ACTION_COUNT"])
    try:
        yield
    finally:
        requests.post(f"{endpoint}/moto-api/reset-auth", data=previous.encode(), timeout=10)


def test_access_denied_on_the_bucket_fails_the_whole_batch(
    served: FakeCBR,
    settings: Settings,
    aws: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    logs: io.StringIO,
) -> None:
    boto3.client("s3").create_bucket(
        Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": "ap-southeast-1"}
    )
    iam = boto3.client("iam", endpoint_url=aws)
    iam.create_user(UserName="reader")
    read_only = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": ["s3:ListBucket", "s3:GetObject"], "Resource": "*"}
        ],
    }
    iam.put_user_policy(
        UserName="reader", PolicyName="read-only", PolicyDocument=json.dumps(read_only)
    )
    key = iam.create_access_key(UserName="reader")["AccessKey"]
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", key["AccessKeyId"])
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", key["SecretAccessKey"])
    monkeypatch.setattr(boto3, "DEFAULT_SESSION", None)  # it caches the credentials it found
    event = sqs_event(SEED_ID, "bad id!")

    with iam_enforced_by_moto(aws):
        response = make_app(settings, lake_uri=f"s3://{BUCKET}/lake").handle(event, Context())
        mirror = mirror_s3(BUCKET, "lake", tmp_path / "mirror")

    check(event, response, mirror, ["m0", "m1"])
    assert lake_files(mirror) == []
    assert "access denied writing operation_logs/dt=2019-05-23/part-" in logs.getvalue()
