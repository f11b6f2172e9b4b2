"""Discovery that can be trusted: lists that end only on evidence, failures that stay inside
their project, leases that end, state that says what was listed, and the metrics that see it."""

from __future__ import annotations

import io
import json
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from lib.aws.app import Root
from lib.aws.metrics import emf_lines
from lib.core.errors import SinkError
from lib.core.runtime import Deadline
from lib.core.settings import Settings
from lib.core.times import format_utc, parse_utc
from lib.ingest.coverage import Proof, VerifyProofs, project_coverage, read_coverage
from lib.ingest.discover_run import ProjectRun, summarize
from lib.ingest.watermark import Lease, ProjectState, Span, Watermarks, state_key
from lib.lake.objects import ReadableFile
from lib.lake.storage import LocalStore, ObjectStore, Versioned

from conftest import PROJECT, read_rows
from discovering import (
    NOW,
    OTHER,
    START,
    discover,
    discover_root,
    environment,
    identities,
    ids_in,
    spread,
    state,
    watermark,
)
from fakecbr import LIST_SCRIPT, FakeCBR, Reply
from fakelist import ListMode
from tasks import make_log


def crowd(fake: FakeCBR, count: int, at: datetime, first: int = 500) -> list[dict[str, Any]]:
    logs = [
        make_log(n, at + timedelta(milliseconds=7 * (n - first)))
        for n in range(first, first + count)
    ]
    for log in logs:
        fake.add_log(log)
    return logs


def test_a_capped_page_is_not_the_end_and_the_watermark_passes_no_unwritten_task(
    fake: FakeCBR, lake: Path
) -> None:
    """400 tasks; the API serves 100 a page whatever `limit` asks, and counts them all."""
    logs = spread(fake, 400)
    fake.listing.mode = ListMode(cap=100)
    (run,) = discover(environment(fake), lake)
    assert run.stopped_by == "done" and run.new_rows == 400
    assert ids_in(lake) == sorted(log["id"] for log in logs)
    assert run.listed == run.new_rows + run.known + run.duplicates  # every task accounted for


@pytest.mark.parametrize(
    "mode",
    [
        ListMode(cap=7, count="missing"),
        ListMode(cap=7, count="high"),
        ListMode(cap=7, count="low"),
        ListMode(order="shuffled", seed=4),
        ListMode(repeat_every=5),
        ListMode(extra_members=True),
        ListMode(leave_after=4, leaving=3),
        ListMode(outside=timedelta(seconds=1)),
    ],
    ids=["no-count", "count-high", "count-low", "shuffled", "repeats", "extra-members",
         "retention", "outside"],
)  # fmt: skip
def test_an_unkind_api_loses_no_task_that_it_still_lists(
    fake: FakeCBR, lake: Path, mode: ListMode
) -> None:
    logs = spread(fake, 40) + crowd(fake, 15, NOW - timedelta(hours=30))  # a crowded second too
    fake.listing.mode = mode
    (run,) = discover(environment(fake), lake, page_size=10)
    assert run.stopped_by == "done", run.error
    still_listed = {log["id"] for log in logs} - fake.listing.gone
    assert still_listed <= set(ids_in(lake))
    assert max(identities(lake).values()) == 1
    for row in read_rows(lake):
        if row["id"] in still_listed and mode.extra_members:
            assert json.loads(row["raw_json"])["x_gateway_trace"] == {"hop": 1, "tags": ["a", "b"]}


def test_a_second_that_cannot_be_read_completely_fails_only_its_project(
    fake: FakeCBR, lake: Path
) -> None:
    """A second holding more than a page, in a new order on every request and with no count:
    nothing can prove it read whole. The pass fails (bounded, no recursion), the watermark stays
    before that slice, the lease is released, and the next project runs."""
    spread(fake, 5)
    crowd(fake, 25, NOW - timedelta(days=2, hours=3))
    theirs = spread(fake, 4, first=100, project=OTHER)
    fake.listing.mode = ListMode(order="shuffled", count="missing", seed=9)
    env = environment(fake, CBR_PROJECT_IDS=f"{PROJECT},{OTHER}")
    mine, other = discover(env, lake, page_size=10)
    assert mine.stopped_by == "incomplete" and "could not be read completely" in str(mine.error)
    held = watermark(lake)
    assert held is not None and held < NOW - timedelta(days=2, hours=3)
    assert other.stopped_by == "done" and {log["id"] for log in theirs} <= set(ids_in(lake))
    assert len(fake.list_requests()) < 200
    summary = summarize([mine, other], datetime.now(UTC))
    assert (summary["discovery_incomplete"], summary["discovery_failures"]) == (1, 1)
    assert "lease" not in state(lake) and state(lake)["last_run"]["outcome"] == "incomplete"


def test_an_api_that_ignores_the_offset_fails_the_pass_after_a_bounded_number_of_requests(
    fake: FakeCBR, lake: Path
) -> None:
    spread(fake, 5)
    crowd(fake, 25, NOW - timedelta(days=2, hours=3))
    fake.listing.mode = ListMode(ignore_offset=True)
    (run,) = discover(environment(fake), lake, page_size=10)
    assert run.stopped_by == "incomplete" and len(fake.list_requests()) < 200
    held = watermark(lake)
    assert held is None or held < NOW - timedelta(days=2, hours=3)


class FailingWrites:
    """The lake's store, refusing lake files after `allowed` writes (state documents pass)."""

    def __init__(
        self, inner: ObjectStore, allowed: int, error: type[Exception] = SinkError
    ) -> None:
        self.inner, self.allowed, self.uri, self.error = inner, allowed, inner.uri, error

    def put(self, key: str, data: bytes) -> None:
        if not key.startswith("_state/"):
            if self.allowed <= 0:
                raise self.error(f"cannot write {key} under {self.uri}: No space left on device")
            self.allowed -= 1
        self.inner.put(key, data)

    def read_versioned(self, key: str) -> Versioned | None:
        return self.inner.read_versioned(key)

    def put_if(self, key: str, data: bytes, version: str | None) -> str | None:
        return self.inner.put_if(key, data, version)

    def get(self, key: str) -> bytes:
        return self.inner.get(key)

    def list(self, prefix: str, limit: int | None = None) -> list[str]:
        return self.inner.list(prefix, limit)

    def reader(self, key: str) -> ReadableFile:
        return self.inner.reader(key)

    def delete(self, key: str) -> None:
        self.inner.delete(key)


def test_a_write_that_fails_holds_the_watermark_before_its_slice(fake: FakeCBR, lake: Path) -> None:
    logs = spread(fake, 30)
    root = Root(
        replace(Settings.from_env(environment(fake), lake_uri=str(lake)), backoff_base_s=0.01)
    )
    root.__dict__["store"] = FailingWrites(LocalStore(lake), allowed=1)  # the composition root's
    (run,) = root.discovery.run([PROJECT], Deadline.after(60))
    assert run.stopped_by == "write_failed" and "No space left" in str(run.error)
    held = watermark(lake)
    written = {row["id"] for row in read_rows(lake)}
    unwritten = [log for log in logs if log["id"] not in written]
    assert unwritten and held is not None
    assert all(parse_utc(log["created_at"]) >= held for log in unwritten)  # none passed
    assert "lease" not in state(lake) and state(lake)["last_run"]["outcome"] == "write_failed"
    summary = summarize([run], datetime.now(UTC))
    assert (summary["discovery_write_failed"], summary["discovery_failures"]) == (1, 1)
    (again,) = discover(environment(fake), lake)  # the next pass closes the gap
    assert again.stopped_by == "done" and ids_in(lake) == sorted(log["id"] for log in logs)


def test_an_unexpected_error_stays_inside_its_project(
    fake: FakeCBR, lake: Path, logs: io.StringIO
) -> None:
    spread(fake, 6)
    theirs = spread(fake, 4, first=100, project=OTHER)
    env = environment(fake, CBR_PROJECT_IDS=f"{PROJECT},{OTHER}")
    root = Root(replace(Settings.from_env(env, lake_uri=str(lake)), backoff_base_s=0.01))
    store = FailingWrites(LocalStore(lake), allowed=0, error=RuntimeError)  # a bug, not a SinkError
    root.__dict__["store"] = store
    mine = root.discovery.run_project(PROJECT, Deadline.after(60))
    store.allowed = 100
    other = root.discovery.run_project(OTHER, Deadline.after(60))
    assert mine.stopped_by == "error" and mine.error is not None
    assert mine.error.startswith("RuntimeError: cannot write operation_logs/")
    assert other.stopped_by == "done" and {log["id"] for log in theirs} <= set(ids_in(lake))
    assert "lease" not in state(lake) and state(lake)["last_run"]["outcome"] == "error"
    lines = [json.loads(line) for line in logs.getvalue().splitlines()]
    (failed,) = [line for line in lines if line["message"] == "discovery pass failed unexpectedly"]
    assert failed["project_id"] == PROJECT and "RuntimeError" in failed["exception"]
    assert summarize([mine, other], datetime.now(UTC))["discovery_failures"] == 1


def test_a_follow_up_that_cannot_be_queued_holds_the_watermark(
    fake: FakeCBR, lake: Path, aws: str
) -> None:
    fake.add_log(make_log(1, NOW - timedelta(hours=3), status="running"))
    missing_queue = f"{aws}/123456789012/no-such-queue"
    env = environment(fake, DISCOVER_LOOKBACK_H="1", QUEUE_URL=missing_queue)
    (run,) = discover(env, lake)
    assert run.stopped_by == "follow_failed" and run.watermark_after is not None
    assert run.watermark_after <= NOW - timedelta(hours=2)  # not past the unfinished task's slice
    summary = summarize([run], datetime.now(UTC))
    assert (summary["discovery_follow_failed"], summary["discovery_failures"]) == (1, 1)


def test_a_foreign_lease_makes_the_pass_stand_aside_without_a_request(
    fake: FakeCBR, lake: Path
) -> None:
    spread(fake, 5)
    until = datetime.now(UTC) + timedelta(minutes=3)
    Watermarks(LocalStore(lake)).swap(
        PROJECT, ProjectState(), ProjectState(lease=Lease("someone-else", until)), until
    )
    (run,) = discover(environment(fake), lake)
    assert run.stopped_by == "held" and run.held_until == until
    assert fake.list_requests() == []
    summary = summarize([run], datetime.now(UTC))
    assert (summary["discovery_held"], summary["discovery_failures"]) == (1, 0)
    assert state(lake)["lease"]["owner"] == "someone-else"  # left alone


def test_an_abandoned_lease_no_longer_blocks_once_it_expired(fake: FakeCBR, lake: Path) -> None:
    logs = spread(fake, 5)
    gone = datetime.now(UTC) - timedelta(seconds=1)
    Watermarks(LocalStore(lake)).swap(
        PROJECT, ProjectState(), ProjectState(lease=Lease("crashed-pass", gone)), gone
    )
    (run,) = discover(environment(fake), lake)
    assert run.stopped_by == "done" and ids_in(lake) == sorted(log["id"] for log in logs)


def test_a_long_pass_renews_its_lease_a_few_minutes_at_a_time(fake: FakeCBR, lake: Path) -> None:
    spread(fake, 30)
    clock = [datetime.now(UTC)]
    seen: list[tuple[datetime, datetime]] = []  # (the lease's end in the file, the time then)

    def three_minutes_per_request(number: int) -> None:
        lease = state(lake)["lease"]
        seen.append((parse_utc(lease["until"]), clock[0]))
        clock[0] += timedelta(minutes=3)

    fake.on_list = three_minutes_per_request
    root = discover_root(environment(fake), lake, page_size=5)
    root.discovery.clock = lambda: clock[0]
    (run,) = root.discovery.run([PROJECT], Deadline.after(60))
    assert run.stopped_by == "done" and len(seen) > 5
    assert all(until == then + timedelta(minutes=5) for until, then in seen)  # renewed each time
    assert [until for until, _ in seen] == sorted({until for until, _ in seen})
    assert "lease" not in state(lake)


def test_the_state_says_where_the_listing_began(fake: FakeCBR, lake: Path) -> None:
    spread(fake, 6)
    (run,) = discover(environment(fake), lake)
    document = state(lake)
    assert parse_utc(document["listed_from"]) == START == run.listed_from
    assert parse_utc(document["first_attempt_at"]) <= datetime.now(UTC)
    assert document["last_run"]["outcome"] == "done" and document["last_run"]["listed"] == 6
    long_ago = NOW - timedelta(days=60)  # older than the API keeps tasks: not claimed listed
    (again,) = discover(environment(fake, DISCOVER_START=long_ago.isoformat()), lake / "other")
    listed_from = parse_utc(state(lake / "other")["listed_from"])
    assert again.window_from == long_ago
    assert NOW - timedelta(days=29, minutes=5) < listed_from < NOW - timedelta(days=28)
    coverage = read_coverage(
        LocalStore(lake / "other"), PROJECT, datetime.now(UTC), (long_ago, NOW)
    )
    (gap,) = coverage.not_proven
    assert (gap.start, gap.end) == (long_ago, listed_from)


def test_a_watermark_older_than_the_api_keeps_starts_a_new_span(fake: FakeCBR, lake: Path) -> None:
    spread(fake, 4)
    store, old = LocalStore(lake), NOW - timedelta(days=45)
    Watermarks(store).swap(
        PROJECT,
        ProjectState(),
        ProjectState(watermark=old, listed_from=old - timedelta(days=10)),
        NOW,
    )
    (run,) = discover(environment(fake), lake)
    after = Watermarks(store).read(PROJECT, datetime.now(UTC))
    assert run.stopped_by == "done"
    assert after.earlier_listed == (Span(old - timedelta(days=10), old),)
    assert after.listed_from is not None and after.listed_from > NOW - timedelta(days=29, minutes=5)
    coverage = project_coverage(PROJECT, after, None, (old - timedelta(days=20), NOW))
    assert [(g.start, g.end) for g in coverage.not_proven] == [
        (old - timedelta(days=20), old - timedelta(days=10)),
        (old, after.listed_from),  # the gap: tasks may have left the API unlisted
    ]
    summary = summarize([run], datetime.now(UTC))
    assert summary["discovery_gaps"] == 1


def test_a_project_refused_from_its_first_pass_lags_and_counts_as_failed(
    fake: FakeCBR, lake: Path
) -> None:
    theirs = spread(fake, 3, first=100, project=OTHER)
    fake.script(LIST_SCRIPT, Reply(403, {"error_code": "CBR.0001", "error_msg": "forbidden"}))
    env = environment(fake, CBR_PROJECT_IDS=f"{PROJECT},{OTHER}")
    refused, other = discover(env, lake)
    assert refused.stopped_by == "page_failed" and "403" in str(refused.error)
    assert other.stopped_by == "done" and {log["id"] for log in theirs} <= set(ids_in(lake))
    now = datetime.now(UTC)
    summary = summarize([refused, other], now)
    assert summary["discovery_lag_s"] >= (now - START).total_seconds() - 1  # from DISCOVER_START
    assert summary["discovery_failures"] == 1
    assert state(lake)["last_run"]["outcome"] == "page_failed" and "lease" not in state(lake)
    metrics = json.loads(emf_lines(summary, timestamp_ms=1)[0])
    assert metrics["DiscoveryLagSeconds"] >= 4 * 86400 - 1 and metrics["DiscoveryFailures"] == 1

    without_start = {k: v for k, v in env.items() if k != "DISCOVER_START"}
    fake.script(LIST_SCRIPT, Reply(403, {"error_code": "CBR.0001", "error_msg": "forbidden"}))
    first_attempt = parse_utc(state(lake)["first_attempt_at"])
    refused, _ = discover(without_start, lake)
    assert refused.lag_from == first_attempt  # from the first attempt, kept across passes


def test_a_state_file_naming_a_later_watermark_is_refused_and_left_alone(
    fake: FakeCBR, lake: Path
) -> None:
    theirs = spread(fake, 3, first=100, project=OTHER)
    path = lake / state_key(PROJECT)
    path.parent.mkdir(parents=True)
    future = '{"watermark": "2099-01-01T00:00:00Z"}'
    path.write_text(future)
    env = environment(fake, CBR_PROJECT_IDS=f"{PROJECT},{OTHER}")
    refused, other = discover(env, lake)
    assert refused.stopped_by == "state_refused" and "2099-01-01T00:00:00Z" in str(refused.error)
    assert "later than now" in str(refused.error) and "\n" not in str(refused.error)
    assert path.read_text() == future and other.stopped_by == "done"
    assert {log["id"] for log in theirs} <= set(ids_in(lake))


def test_every_task_listed_is_accounted_for_and_drift_is_one_line_per_pass(
    fake: FakeCBR, lake: Path, logs: io.StringIO
) -> None:
    spread(fake, 40)
    fake.add_log(make_log(90, START + timedelta(days=1)))  # on the second two slices share
    fake.listing.mode = ListMode(extra_members=True)
    root = discover_root(environment(fake, LOG_LEVEL="INFO"), lake)
    root.discovery.clock = lambda: NOW  # four slices of exactly a day from START
    (run,) = root.discovery.run([PROJECT], Deadline.after(60))
    assert run.duplicates >= 1 and run.listed == run.new_rows + run.known + run.duplicates
    lines = [json.loads(line) for line in logs.getvalue().splitlines()]
    drift = [line for line in lines if line["message"] == "schema drift"]
    assert len(drift) == 1  # one line for the pass, though it wrote four slices
    assert (
        drift[0]["unknown_fields"] == {"x_gateway_trace": 41} and drift[0]["project_id"] == PROJECT
    )
    assert run.drift == {"x_gateway_trace": 41}


def test_listing_behind_password_auth_refreshes_a_revoked_token_for_the_whole_run(
    lake: Path,
) -> None:
    user = ("alice", "s3cret", "acme")
    with FakeCBR(require_auth=True, iam_users={user}) as fake:
        logs = spread(fake, 30)
        fake.on_list = lambda number: fake.revoke_tokens() if number == 3 else None
        env = environment(
            fake,
            IAM_ENDPOINT=fake.base_url,
            IAM_USERNAME="alice",
            IAM_PASSWORD="s3cret",
            IAM_DOMAIN="acme",
        )
        (run,) = discover(env, lake, page_size=5)
        assert run.stopped_by == "done" and len(fake.token_requests()) == 2
    assert ids_in(lake) == sorted(log["id"] for log in logs)


def test_listing_with_ak_sk_signs_every_list_request(lake: Path) -> None:
    with FakeCBR(access_keys={"AKTEST": "SKTEST"}) as fake:
        logs = spread(fake, 12)
        env = environment(fake, CBR_ACCESS_KEY="AKTEST", CBR_SECRET_KEY="SKTEST")
        (run,) = discover(env, lake, page_size=5)
        assert run.stopped_by == "done"
        requests = fake.list_requests()
        assert requests and all(
            r.headers["authorization"].startswith("SDK-HMAC-SHA256") for r in requests
        )
    assert ids_in(lake) == sorted(log["id"] for log in logs)


def test_two_passes_at_once_share_the_api_rate_limit_and_both_finish(
    fake: FakeCBR, lake: Path
) -> None:
    mine, theirs = spread(fake, 8), spread(fake, 8, first=100, project=OTHER)
    fake.rate_cap = 5  # requests per second for every caller together, like the gateway

    def one_pass(project: str) -> list[ProjectRun]:
        env = environment(fake, CBR_PROJECT_ID=project, MAX_ATTEMPTS="8")
        return discover(env, lake, page_size=3)

    with ThreadPoolExecutor(2) as pool:
        runs = [run for ran in pool.map(one_pass, [PROJECT, OTHER]) for run in ran]
    assert [run.stopped_by for run in runs] == ["done", "done"] and fake.throttled > 0
    assert ids_in(lake) == sorted(log["id"] for log in mine + theirs)


def test_verify_proofs_and_discovery_spans_make_one_coverage(fake: FakeCBR, lake: Path) -> None:
    spread(fake, 3)
    discover(environment(fake), lake)
    store, now = LocalStore(lake), datetime.now(UTC)
    proofs = VerifyProofs(store)
    early = START - timedelta(days=10)
    proofs.record(PROJECT, Proof(early, early + timedelta(days=2), now), now)
    proofs.record(PROJECT, Proof(early + timedelta(days=1), early + timedelta(days=3), now), now)
    assert [(p.start, p.end) for p in proofs.read(PROJECT, now).proven] == [
        (early, early + timedelta(days=3))  # merged
    ]
    coverage = read_coverage(store, PROJECT, now, (early - timedelta(days=1), now))
    assert [(s.start, s.end, s.sources) for s in coverage.proven] == [
        (early, early + timedelta(days=3), ("verify",)),
        (START, coverage.proven[1].end, ("discovery",)),
    ]
    assert [(g.start, g.end) for g in coverage.not_proven] == [
        (early - timedelta(days=1), early),
        (early + timedelta(days=3), START),
        (coverage.proven[1].end, now),
    ]
    assert format_utc(coverage.proven[1].end) == state(lake)["watermark"]
