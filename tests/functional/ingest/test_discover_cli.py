"""`python -m lib discover` as an operator runs it, in processes of its own: stopped passes leave no
lease behind, standing aside says for how long, failures exit 1 naming what failed, `--status`."""

from __future__ import annotations

import json
import re
import signal
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from lib.core.times import parse_utc
from lib.ingest.watermark import Lease, ProjectState, Watermarks, state_key
from lib.lake.storage import LocalStore

from conftest import PROJECT
from discovering import NOW, OTHER, START, environment, ids_in, run_cli, spread, state
from fakecbr import FakeCBR

SECONDS_ONLY = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")
MICROSECONDS = re.compile(r"\d\d:\d\d:\d\d\.\d+Z")


def held_in_its_first_request(fake: FakeCBR) -> tuple[threading.Event, threading.Event]:
    """(arrived, gate): the first list request waits inside the fake until `gate` is set."""
    arrived, gate = threading.Event(), threading.Event()

    def hold(number: int) -> None:
        if number == 1:
            arrived.set()
            gate.wait(timeout=60)

    fake.on_list = hold
    return arrived, gate


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_stopped_pass_releases_its_lease(fake: FakeCBR, lake: Path, stop: signal.Signals) -> None:
    spread(fake, 5)
    arrived, gate = held_in_its_first_request(fake)
    process = run_cli("discover", "--lake", str(lake), env=environment(fake))
    try:
        assert arrived.wait(timeout=60), "the pass never listed"
        assert state(lake)["lease"]  # it holds the project while it lists
        process.send_signal(stop)
        out, err = process.communicate(timeout=60)
    finally:
        gate.set()
    assert process.returncode == 1 and out == ""
    by = "SIGTERM" if stop == signal.SIGTERM else "Ctrl-C"
    assert f"stopped by {by} during project {PROJECT}: its lease was released" in err
    assert "Traceback" not in err
    document = state(lake)
    assert "lease" not in document and document["last_run"]["outcome"] == "interrupted"


def test_a_killed_pass_leaves_a_lease_that_ends_within_minutes(fake: FakeCBR, lake: Path) -> None:
    spread(fake, 5)
    arrived, gate = held_in_its_first_request(fake)
    process = run_cli("discover", "--lake", str(lake), env=environment(fake))
    try:
        assert arrived.wait(timeout=60)
        process.kill()  # nothing runs after SIGKILL: the lease stays, and expires by itself
        process.communicate(timeout=60)
        killed_at = datetime.now(UTC)
    finally:
        gate.set()
    until = parse_utc(state(lake)["lease"]["until"])
    assert killed_at < until <= killed_at + timedelta(minutes=5)


def test_standing_aside_says_until_when_and_sends_no_request(fake: FakeCBR, lake: Path) -> None:
    spread(fake, 5)
    until = datetime.now(UTC) + timedelta(minutes=4)
    Watermarks(LocalStore(lake)).swap(
        PROJECT, ProjectState(), ProjectState(lease=Lease("a-scheduled-pass", until)), until
    )
    out, _ = run_cli("discover", "--lake", str(lake), env=environment(fake)).communicate(timeout=60)
    assert fake.list_requests() == []
    assert re.search(
        rf"{PROJECT}: another pass holds this project until {until:%Y-%m-%dT%H:%M:%S}Z "
        r"\(at most [34] min( \d+ s)? more\); stood aside, nothing listed\.",
        out,
    ), out


def test_a_corrupt_lake_file_fails_its_project_naming_the_file_and_the_next_one_runs(
    fake: FakeCBR, lake: Path
) -> None:
    spread(fake, 6)
    theirs = spread(fake, 1, first=100, project=OTHER)
    day = (NOW - timedelta(hours=1)).date().isoformat()  # the newest task's partition
    bad = lake / "operation_logs" / f"dt={day}" / f"part-{'0' * 32}.parquet"
    bad.parent.mkdir(parents=True)
    bad.write_bytes(b"PAR1 this is not a Parquet file")
    env = environment(fake, CBR_PROJECT_IDS=f"{PROJECT},{OTHER}")
    process = run_cli("discover", "--lake", str(lake), "--format", "json", env=env)
    out, err = process.communicate(timeout=120)
    assert process.returncode == 1, err
    mine, other = json.loads(out)["projects"]
    assert mine["stopped_by"] == "lake_unreadable" and str(bad) in mine["error"]
    assert other["stopped_by"] in ("done", "lake_unreadable")  # if it meets that partition too
    assert "lease" not in state(lake) and "lease" not in state(lake, OTHER)
    assert theirs


def test_a_state_naming_a_later_watermark_exits_1_in_one_sentence(
    fake: FakeCBR, lake: Path
) -> None:
    spread(fake, 3)
    path = lake / state_key(PROJECT)
    path.parent.mkdir(parents=True)
    path.write_text('{"watermark": "2099-01-01T00:00:00Z"}')
    process = run_cli("discover", "--lake", str(lake), env=environment(fake))
    out, err = process.communicate(timeout=60)
    assert process.returncode == 1 and fake.list_requests() == [], err
    (line,) = out.splitlines()
    assert "its discovery state was refused" in line and "later than now" in line
    assert path.read_text() == '{"watermark": "2099-01-01T00:00:00Z"}'


def test_the_summary_counts_every_task_and_shows_times_to_the_second(
    fake: FakeCBR, lake: Path
) -> None:
    logs = spread(fake, 8)
    process = run_cli("discover", "--lake", str(lake), env=environment(fake))
    out, err = process.communicate(timeout=60)
    assert process.returncode == 0, err
    assert "8 tasks listed, 8 new in" in out and "0 already there, 0 listed twice" in out
    assert SECONDS_ONLY.search(out) and not MICROSECONDS.search(out)
    assert "discovery pass done" not in err  # each pass said once, in its sentence
    assert ids_in(lake) == sorted(log["id"] for log in logs)


def test_status_shows_each_project_in_a_table_and_in_json(
    fake: FakeCBR, lake: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spread(fake, 3)
    env = environment(fake, CBR_PROJECT_IDS=f"{PROJECT},{OTHER}")
    run_cli("discover", "--lake", str(lake), "--project", PROJECT, env=env).communicate(timeout=60)
    before = datetime.now(UTC)
    process = run_cli("discover", "--status", "--lake", str(lake), "--format", "json", env=env)
    out, err = process.communicate(timeout=60)
    assert process.returncode == 0, err
    mine, other = json.loads(out)["projects"]
    assert mine["project_id"] == PROJECT and parse_utc(mine["watermark"]) <= before
    assert mine["last_run"]["outcome"] == "done" and mine["lease"] is None
    assert 0 <= mine["lag_s"] < 120 and parse_utc(mine["listed_from"]) == START
    assert other["project_id"] == OTHER and other["watermark"] is None  # configured, never run
    assert other["lag_from"] == "DISCOVER_START" and other["lag_s"] >= 4 * 86400 - 1
    assert fake.list_requests()  # the pass listed; --status only read the lake
    listed = len(fake.list_requests())

    process = run_cli("discover", "--status", "--lake", str(lake), env=env)
    out, err = process.communicate(timeout=60)
    assert process.returncode == 0 and len(fake.list_requests()) == listed
    header, first, second = out.splitlines()[1:4]
    assert header.split() == ["project", "watermark", "lag", "last", "run", "outcome", "lease"]
    assert first.startswith(PROJECT) and " done " in first and first.rstrip().endswith("free")
    assert second.startswith(OTHER) and "none" in second and "never" in second
    assert SECONDS_ONLY.search(first) and not MICROSECONDS.search(out)

    (lake / state_key(OTHER)).write_text("{not json")
    process = run_cli("discover", "--status", "--lake", str(lake), env=env)
    out, err = process.communicate(timeout=60)
    assert process.returncode == 1 and f"_state/discover/{OTHER}.json" in out


def test_a_discover_start_before_the_year_1000_is_refused_naming_it(
    fake: FakeCBR, lake: Path
) -> None:
    env = environment(fake, DISCOVER_START="0999-12-31")
    process = run_cli("discover", "--lake", str(lake), env=env)
    out, err = process.communicate(timeout=60)
    assert process.returncode == 2 and out == "" and fake.list_requests() == []
    assert err.count("\n") == 1 and "DISCOVER_START" in err and "year 1000" in err
