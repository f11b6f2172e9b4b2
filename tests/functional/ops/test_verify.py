"""`python -m lib verify`: the API's list for a period, counted window by window, against the
lake; --repair; the periods it proves, recorded for the coverage statements."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from lib.aws.app import Root
from lib.core.settings import Settings
from lib.core.times import parse_utc
from lib.ingest.coverage import read_coverage
from lib.ingest.known import KnownRows, LakeLogSink
from lib.lake.storage import LocalStore
from lib.ops.cli import main

from conftest import PROJECT, read_rows
from fakecbr import LIST_SCRIPT, FakeCBR, Reply
from fakelist import ListMode
from tasks import make_log

TODAY = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
DAY = TODAY - timedelta(days=5)  # the tasks: from here, five hours apart, within the API's keep
SINCE, UNTIL = (
    (DAY - timedelta(days=1)).date().isoformat(),
    (DAY + timedelta(days=2)).date().isoformat(),
)
PERIOD_END = DAY + timedelta(days=3)  # the end of the --until day


@pytest.fixture
def listed(fake: FakeCBR, monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """Ten tasks over two days, the CLI pointed at the fake."""
    logs = [make_log(n, DAY + timedelta(hours=5 * n)) for n in range(10)]
    for log in logs:
        fake.add_log(log)
    for name, value in {
        "CBR_ENDPOINT": fake.base_url,
        "CBR_PROJECT_ID": PROJECT,
        "LOG_LEVEL": "ERROR",
        "MAX_ATTEMPTS": "2",
    }.items():
        monkeypatch.setenv(name, value)
    return logs


def verify(lake: Path, capsys: pytest.CaptureFixture[str], *extra: str) -> tuple[int, Any]:
    code = main(["verify", "--since", SINCE, "--until", UNTIL, "--lake", str(lake),
                 "--format", "json", *extra])  # fmt: skip
    return code, json.loads(capsys.readouterr().out)


def fill(lake: Path, logs: list[dict[str, Any]]) -> None:
    """Write these logs into the lake, as a pass that lost the others would have."""
    root = Root(Settings(lake_uri=str(lake)))
    sink = LakeLogSink(root.lake, KnownRows(root.store))
    sink.add_logs(logs, PROJECT)
    sink.flush()


def proofs(lake: Path) -> list[tuple[datetime, datetime]]:
    found = read_coverage(LocalStore(lake), PROJECT, datetime.now(UTC))
    return [(span.start, span.end) for span in found.proven]


def test_a_lake_holding_every_task_is_complete_and_the_period_is_recorded(
    listed: list[dict[str, Any]], lake: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fill(lake, listed)
    code, report = verify(lake, capsys)
    assert code == 0 and report["complete"] is True
    (project,) = report["projects"]
    assert (project["api"], project["lake"], project["missing"], project["stale"]) == (
        10,
        10,
        [],
        [],
    )
    windows = project["windows"]
    assert [w["start"][:10] for w in windows] == [SINCE, DAY.date().isoformat(),
            (DAY + timedelta(days=1)).date().isoformat(), UNTIL]  # fmt: skip
    assert windows[-1]["end"] == PERIOD_END.isoformat().replace("+00:00", "Z")
    assert all(w["agrees"] for w in windows)
    assert sum(w["tasks"] for w in windows) == 11  # task-0000, at midnight, is on two windows
    assert proofs(lake) == [(parse_utc(SINCE), PERIOD_END)]
    assert project["recorded"] == f"_state/verify/{PROJECT}.json"

    assert main(["verify", "--since", SINCE, "--until", UNTIL, "--lake", str(lake)]) == 0
    text = capsys.readouterr().out
    assert "Windows read (4):" in text and f"{UNTIL}T00:00:00Z to " in text
    assert "Recorded as proven complete" in text


def test_late_tasks_and_changed_states_are_named_then_repaired(
    fake: FakeCBR, listed: list[dict[str, Any]], lake: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fill(lake, listed)
    late = make_log(50, DAY + timedelta(hours=1))  # appears in the API after the lake was filled
    changed = {**listed[3], "status": "failed", "updated_at": (DAY + timedelta(days=3)).isoformat()}
    fake.add_log(late)
    fake.add_log(changed)

    code, report = verify(lake, capsys)
    (project,) = report["projects"]
    assert code == 1 and report["complete"] is False and project["recorded"] is None
    assert (project["missing"], project["stale"]) == ([late["id"]], [changed["id"]])
    assert proofs(lake) == []  # nothing proven

    assert main(["verify", "--since", SINCE, "--until", UNTIL, "--lake", str(lake)]) == 1
    text = capsys.readouterr().out
    assert "INCOMPLETE" in text and f"missing {late['id']}" in text
    assert f"stale   {changed['id']}" in text

    code, report = verify(lake, capsys, "--repair")
    assert code == 0 and report["projects"][0]["repaired"] == 2
    rows = {(row["id"], row["status"]) for row in read_rows(lake)}
    assert (late["id"], late["status"]) in rows and (changed["id"], "failed") in rows
    assert verify(lake, capsys)[0] == 0 and proofs(lake) == [(parse_utc(SINCE), PERIOD_END)]


def test_a_task_in_the_last_fraction_of_a_second_of_the_period_is_compared(
    fake: FakeCBR, listed: list[dict[str, Any]], lake: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fill(lake, listed)
    last = make_log(60, PERIOD_END - timedelta(milliseconds=400))  # 23:59:59.600 of the last day
    after = make_log(61, PERIOD_END)  # the next day's first instant: outside the period
    fake.add_log(last)
    fake.add_log(after)
    code, report = verify(lake, capsys)
    assert code == 1 and report["projects"][0]["missing"] == [last["id"]]


Logs = list[dict[str, Any]]


def add(fake: FakeCBR, logs: Logs) -> Logs:
    for log in logs:
        fake.add_log(log)
    return logs


def cut_short_by_a_cap(fake: FakeCBR, logs: Logs) -> tuple[Logs, Logs]:
    """A gateway serving 3 logs a page while `count` says more: a pass that took the short page
    for the end kept only the first page of each day."""
    fake.listing.mode = ListMode(cap=3)
    day_one = [log for log in logs if log["created_at"] < (DAY + timedelta(days=1)).isoformat()]
    return logs, day_one[-3:] + [log for log in logs if log not in day_one][-3:]


def reordered_away(fake: FakeCBR, logs: Logs) -> tuple[Logs, Logs]:
    """Ties within a second in a new order on every request: a page reordered away from the
    overlap lost a task."""
    fake.listing.mode = ListMode(order="shuffled", seed=7)
    tie = add(
        fake, [make_log(n, DAY + timedelta(hours=1, milliseconds=250)) for n in range(70, 75)]
    )
    return logs + tie, logs + tie[:4]


def crowded_second(fake: FakeCBR, logs: Logs) -> tuple[Logs, Logs]:
    """More than a page in one second, behind a cap: a pass that recursed for ever wrote none."""
    fake.listing.mode = ListMode(cap=4)
    second = DAY + timedelta(hours=2)
    crowd = add(
        fake, [make_log(n, second + timedelta(milliseconds=50 * (n - 80))) for n in range(80, 92)]
    )
    return logs + crowd, logs


def last_instant(fake: FakeCBR, logs: Logs) -> tuple[Logs, Logs]:
    """A task at 23:59:59.6 of the period's last day, which `until - 1 s` never listed."""
    last = add(fake, [make_log(95, PERIOD_END - timedelta(milliseconds=400))])
    return logs + last, logs


def before_discovery_began(fake: FakeCBR, logs: Logs) -> tuple[Logs, Logs]:
    """Discovery began on the second day: the first day was never listed, whatever a report said."""
    began = (DAY + timedelta(days=1)).isoformat()
    return logs, [log for log in logs if log["created_at"] >= began]


@pytest.mark.parametrize(
    "lose",
    [cut_short_by_a_cap, reordered_away, crowded_second, last_instant, before_discovery_began],
    ids=lambda f: f.__name__,
)
def test_verify_catches_a_lake_discovery_left_incomplete(
    fake: FakeCBR,
    listed: list[dict[str, Any]],
    lake: Path,
    capsys: pytest.CaptureFixture[str],
    lose: Any,
) -> None:
    every, kept = lose(fake, listed)
    fill(lake, kept)
    lost = sorted({log["id"] for log in every} - {log["id"] for log in kept})
    assert lost
    code, report = verify(lake, capsys)
    assert code == 1 and report["projects"][0]["missing"] == lost
    assert proofs(lake) == []
    code, report = verify(lake, capsys, "--repair")
    assert code == 0 and report["projects"][0]["repaired"] == len(lost)
    assert {row["id"] for row in read_rows(lake)} == {log["id"] for log in every}


@pytest.mark.parametrize(
    "mode",
    [
        ListMode(count="missing", cap=3),
        ListMode(count="high", cap=3),
        ListMode(count="low", cap=3),
        ListMode(count="page", cap=3),
        ListMode(ignore_offset=True),  # never an empty page: the end is never shown
    ],
    ids=["no-count", "count-high", "count-low", "count-of-the-page", "offset-ignored"],
)
def test_a_count_that_disagrees_with_the_tasks_received_is_could_not_compare(
    fake: FakeCBR,
    listed: list[dict[str, Any]],
    lake: Path,
    capsys: pytest.CaptureFixture[str],
    mode: ListMode,
) -> None:
    fill(lake, listed)  # the lake is complete, but the API cannot show it
    fake.listing.mode = mode
    code, report = verify(lake, capsys)
    (project,) = report["projects"]
    assert code == 2 and project["could_compare"] is False and report["complete"] is False
    assert any(window["disagreements"] for window in project["windows"])
    assert proofs(lake) == []
    assert main(["verify", "--since", SINCE, "--until", UNTIL, "--lake", str(lake)]) == 2
    assert "COULD NOT COMPARE" in capsys.readouterr().out


@pytest.mark.parametrize(
    "mode",
    [
        ListMode(cap=3),
        ListMode(order="shuffled", seed=2),
        ListMode(repeat_every=3),
        ListMode(extra_members=True),
        ListMode(leave_after=2, leaving=2),
        ListMode(outside=timedelta(seconds=1)),
    ],
    ids=["cap", "shuffled", "repeats", "extra-members", "retention", "outside"],
)
def test_an_unkind_api_still_proves_a_complete_lake(
    fake: FakeCBR,
    listed: list[dict[str, Any]],
    lake: Path,
    capsys: pytest.CaptureFixture[str],
    mode: ListMode,
) -> None:
    crowd = add(
        fake, [make_log(n, DAY + timedelta(hours=3, milliseconds=10 * n)) for n in range(30, 36)]
    )
    fill(lake, listed + crowd)  # a crowded second too
    fake.listing.mode = mode
    code, report = verify(lake, capsys)
    assert code == 0, report
    assert report["projects"][0]["missing"] == [] and proofs(lake)


def test_until_later_than_now_compares_up_to_now_and_says_so(
    listed: list[dict[str, Any]], lake: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fill(lake, listed)
    ahead = (TODAY + timedelta(days=30)).date().isoformat()
    assert main(["verify", "--since", SINCE, "--until", ahead, "--lake", str(lake)]) == 0
    text = capsys.readouterr().out
    assert f"--until {ahead} is later than now: compared up to now" in text
    ((start, end),) = proofs(lake)
    assert start == parse_utc(SINCE) and end <= datetime.now(UTC)


def test_the_part_older_than_the_api_keeps_is_not_compared_nor_proven(
    listed: list[dict[str, Any]], lake: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fill(lake, listed)
    old = (TODAY - timedelta(days=90)).date().isoformat()
    code = main(
        ["verify", "--since", old, "--until", UNTIL, "--lake", str(lake), "--format", "json"]
    )
    report = json.loads(capsys.readouterr().out)
    assert code == 0 and "was not compared" in report["notes"][0]
    compared_from = parse_utc(report["compared_from"])
    assert TODAY - timedelta(days=30) < compared_from < TODAY - timedelta(days=28)
    assert proofs(lake) == [(compared_from, PERIOD_END)]
    older = (TODAY - timedelta(days=60)).date().isoformat()
    assert main(["verify", "--since", old, "--until", older, "--lake", str(lake)]) == 2
    err = capsys.readouterr().err
    assert "nothing of the period can be compared" in err and err.count("\n") == 1


def test_an_api_failure_means_no_verdict(
    fake: FakeCBR, listed: list[dict[str, Any]], lake: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fake.script(LIST_SCRIPT, *[Reply(503)] * 4)
    assert main(["verify", "--since", SINCE, "--lake", str(lake)]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err.startswith("error: could not list the tasks")


def test_a_corrupt_lake_file_is_a_runtime_failure_naming_it(
    listed: list[dict[str, Any]], lake: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fill(lake, listed)
    bad = lake / "operation_logs" / f"dt={DAY.date().isoformat()}" / f"part-{'0' * 32}.parquet"
    bad.write_bytes(b"not parquet at all")
    assert main(["verify", "--since", SINCE, "--until", UNTIL, "--lake", str(lake)]) == 1
    err = capsys.readouterr().err
    assert str(bad) in err and err.count("\n") == 1


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--since", SINCE, "--until", "2026-01-01"], "--since must be before --until"),
        (["--since", "yesterday"], "--since: not an ISO 8601 date"),
        (["--since", SINCE, "--until", "9999-12-31"], "--until 9999-12-31: the day after it"),
        (["--since", SINCE, "--until", "10000-01-01"], "--until: not an ISO 8601 date"),
        (
            ["--since", "2999-01-01", "--until", "3000-01-01"],
            "--since 2999-01-01 is later than now",
        ),
        (["--since", SINCE, "--project", "a b"], "--project must be"),
    ],
)
def test_usage_errors_are_one_line_and_exit_2(
    listed: list[dict[str, Any]],
    lake: Path,
    capsys: pytest.CaptureFixture[str],
    arguments: list[str],
    message: str,
) -> None:
    assert main(["verify", *arguments, "--lake", str(lake)]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


@pytest.mark.parametrize("auth", ["password", "ak-sk"])
def test_listing_behind_real_auth_holds_for_the_whole_comparison(
    lake: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, auth: str
) -> None:
    user = ("alice", "s3cret", "acme")
    with FakeCBR(require_auth=True, iam_users={user}, access_keys={"AKTEST": "SKTEST"}) as fake:
        logs = add(fake, [make_log(n, DAY + timedelta(hours=3 * n)) for n in range(12)])
        fill(lake, logs)
        fake.listing.mode = ListMode(cap=2)  # many pages, so the token is revoked mid-way
        fake.on_list = lambda number: fake.revoke_tokens() if number == 3 else None
        credentials = (
            {"IAM_ENDPOINT": fake.base_url, "IAM_USERNAME": "alice", "IAM_PASSWORD": "s3cret",
             "IAM_DOMAIN": "acme"}
            if auth == "password"
            else {"CBR_ACCESS_KEY": "AKTEST", "CBR_SECRET_KEY": "SKTEST"}
        )  # fmt: skip
        env = {"CBR_ENDPOINT": fake.base_url, "CBR_PROJECT_ID": PROJECT, "LOG_LEVEL": "ERROR"}
        for name, value in {**env, **credentials}.items():
            monkeypatch.setenv(name, value)
        code, report = verify(lake, capsys)
        assert code == 0 and report["projects"][0]["api"] == 12
        if auth == "password":
            assert len(fake.token_requests()) == 2  # one refresh after the revocation
        else:
            signed = [r.headers["authorization"] for r in fake.list_requests()]
            assert len(signed) > 10 and all(h.startswith("SDK-HMAC-SHA256") for h in signed)
