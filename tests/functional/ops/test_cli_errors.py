"""Every operator command answers a mistake or an unreachable lake with one line and a non-zero
exit, never a traceback and never a folder named after a mistyped URI."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import boto3
import pytest

from conftest import PROJECT, ROOT, run_handler_script
from fakecbr import FakeCBR
from faultkit import free_port

SEED_ID = "4827f2da-b008-4507-ab7d-42d0df5ed912"


def run_cli(cwd: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("CBR_", "LAKE_", "IAM_"))},
        "PYTHONPATH": str(ROOT),
        "CBR_ENDPOINT": f"file://{ROOT / 'events' / 'operation-logs'}",
        **env,
    }
    return subprocess.run(
        [sys.executable, "-m", "lib", *args],
        cwd=cwd,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def assert_one_line(run: subprocess.CompletedProcess[str], status: int, *fragments: str) -> None:
    assert run.returncode == status, (run.returncode, run.stdout, run.stderr)
    assert "Traceback" not in run.stderr and "terminate called" not in run.stderr, run.stderr
    errors = [line for line in run.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1, run.stderr
    for fragment in fragments:
        assert fragment in errors[0], errors[0]


def commands(tmp_path: Path) -> dict[str, list[str]]:
    ids = tmp_path / "ids.txt"
    ids.write_text(SEED_ID + "\n")
    return {
        "show": ["show"],
        "compact": ["compact"],
        "backfill": ["backfill", "--ids-file", str(ids)],
        "discover": ["discover", "--project", PROJECT],
        "verify": ["verify", "--since", "2026-11-01", "--project", PROJECT],
        "report": ["report", "daily"],
    }


@pytest.mark.parametrize("name", ["show", "compact", "backfill", "discover", "verify", "report"])
@pytest.mark.parametrize("uri", ["s3:/bad", "s3:bad", "gs://bucket/x", "s3://"])
def test_a_mistyped_lake_uri_is_refused_by_every_command(
    tmp_path: Path, name: str, uri: str
) -> None:
    args = commands(tmp_path)[name]
    for run in (run_cli(tmp_path, *args, LAKE_URI=uri), run_cli(tmp_path, *args, "--lake", uri)):
        assert_one_line(run, 2, "LAKE_URI must be s3://bucket/prefix or a folder")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ids.txt"]  # no folder named "s3:"


@pytest.mark.parametrize("name", ["show", "compact", "report"])
def test_a_lake_that_does_not_exist_is_exit_2(tmp_path: Path, name: str) -> None:
    args = commands(tmp_path)[name]
    run = run_cli(tmp_path, *args, "--lake", str(tmp_path / "nowhere"))
    assert_one_line(run, 2, str(tmp_path / "nowhere"))
    assert not (tmp_path / "nowhere").exists()


@pytest.mark.parametrize("name", ["show", "compact", "backfill", "discover"])
def test_an_unreachable_s3_lake_is_one_line(tmp_path: Path, name: str) -> None:
    with FakeCBR() as fake:
        run = run_cli(
            tmp_path,
            *commands(tmp_path)[name],
            "--lake",
            "s3://audit-lake/cbr",
            AWS_ENDPOINT_URL_S3=f"http://127.0.0.1:{free_port()}",
            AWS_ACCESS_KEY_ID="x",
            AWS_SECRET_ACCESS_KEY="x",
            AWS_DEFAULT_REGION="ap-southeast-1",
            **({"CBR_ENDPOINT": fake.base_url} if name == "discover" else {}),
        )
    assert run.returncode != 0
    if name == "discover":  # a pass per project, each saying how it ended
        assert run.returncode == 1 and "Traceback" not in run.stderr
        assert "cannot reach" in run.stdout and "s3://audit-lake/cbr" in run.stdout
    else:
        assert_one_line(run, run.returncode, "s3://audit-lake/cbr")


@pytest.mark.parametrize("name", ["show", "compact", "backfill", "report", "inventory", "handler"])
def test_a_mistyped_aws_profile_is_one_line_naming_it(tmp_path: Path, name: str) -> None:
    config = tmp_path / "aws-config"
    config.write_text("[profile audit]\nregion = ap-southeast-1\n")
    mistake = {"AWS_PROFILE": "audti", "AWS_CONFIG_FILE": str(config)}
    if name == "handler":
        env = {**os.environ, "LAKE_URI": "s3://audit-lake/cbr", **mistake}
        run = run_handler_script("events/sqs-single.json", env)
        assert run.stdout == "" and not list(tmp_path.glob("lake*"))
    else:
        args = [*commands(tmp_path).get(name, [name]), "--lake", "s3://audit-lake/cbr"]
        run = run_cli(tmp_path, *args, **mistake)
    assert_one_line(run, 2, "The config profile (audti) could not be found", "AWS_PROFILE")


@pytest.mark.parametrize("name", ["show", "compact", "backfill"])
def test_a_missing_or_denied_bucket_is_one_line(tmp_path: Path, aws: str, name: str) -> None:
    boto3.client("s3").create_bucket(
        Bucket="other-bucket",
        CreateBucketConfiguration={"LocationConstraint": "ap-southeast-1"},
    )
    run = run_cli(tmp_path, *commands(tmp_path)[name], "--lake", "s3://missing-bucket/cbr")
    assert run.returncode != 0
    assert_one_line(run, run.returncode, "s3://missing-bucket/cbr")
