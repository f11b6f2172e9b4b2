"""Pure parts of the backfill: window slices and queries, the progress display, the checkpoint."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from lib.core.runtime import configure_logging
from lib.ingest.listing import Window
from lib.ops.backfill.checkpoint import BackfillError, Checkpoint
from lib.ops.backfill.job import ListJob
from lib.ops.backfill.runners import chunks, read_lines
from lib.ops.progress import Progress

SINCE = datetime(2026, 1, 1, tzinfo=UTC)


def test_a_window_is_cut_into_slices_that_cover_it_exactly() -> None:
    job = ListJob("p1", SINCE, SINCE + timedelta(hours=50), {"status": "failed"})
    assert job.until is not None
    pieces = job.slices(job.until)
    assert [(a.hour, b - a) for a, b in pieces] == [
        (0, timedelta(days=1)),
        (0, timedelta(days=1)),
        (0, timedelta(hours=2)),
    ]
    assert pieces[0][0] == SINCE and pieces[-1][1] == job.until
    # A slice is queried as whole seconds, its end included: neighbours share that second.
    assert Window.covering(*pieces[0]).query() == {
        "start_time": "2026-01-01T00:00:00Z",
        "end_time": "2026-01-02T00:00:00Z",
    }


def test_the_job_key_changes_with_what_is_listed_only() -> None:
    one = ListJob("p1", SINCE, SINCE + timedelta(days=2))
    assert one.key() == ListJob("p1", SINCE, SINCE + timedelta(days=2), page_size=10).key()
    assert one.key() != ListJob("p1", SINCE, SINCE + timedelta(days=3)).key()
    assert one.key() != ListJob("p1", SINCE, SINCE + timedelta(days=2), {"status": "x"}).key()
    open_ended = ListJob("p1", SINCE)  # "until now": the same key whenever it runs
    assert open_ended.key() == ListJob("p1", SINCE).key() != one.key()


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"project_id": "../p"}, "project ID"),
        ({"filters": {"resource_id": "x"}}, "unknown filter"),
        ({"slice_width": timedelta(seconds=5)}, "one minute"),
        ({"page_size": 0}, "page size"),
    ],
)
def test_a_bad_job_is_refused(changes: dict[str, object], message: str) -> None:
    arguments = {"project_id": "p1", "since": SINCE, "until": SINCE + timedelta(days=1)}
    with pytest.raises(ValueError, match=message):
        ListJob(**{**arguments, **changes})  # type: ignore[arg-type]


def test_a_checkpoint_round_trips_and_refuses_another_job(tmp_path: Path) -> None:
    path = tmp_path / "cp.json"
    Checkpoint.open(path, "job-a").save(slice=2, offset=3000)
    resumed = Checkpoint.open(path, "job-a")
    assert (resumed.resumed, resumed.position) == (True, {"slice": 2, "offset": 3000})
    with pytest.raises(BackfillError, match="another backfill"):
        Checkpoint.open(path, "job-b")
    path.write_text("{not json")
    with pytest.raises(BackfillError, match="cannot read"):
        Checkpoint.open(path, "job-a")
    resumed.clear()
    assert not path.exists()
    assert json.loads(json.dumps(Checkpoint.open(path, "job-a").position)) == {}


def test_lines_keep_their_numbers_and_blank_lines_are_skipped(tmp_path: Path) -> None:
    path = tmp_path / "ids.txt"
    path.write_bytes(b"a1\r\n\n  \nb2\n\xff\xfe\nc3")
    lines = list(read_lines(path))
    assert [n for n, _ in lines] == [1, 4, 5, 6]
    assert lines[0][1] == "a1" and lines[-1][1] == "c3"
    assert [len(c) for c in chunks(lines, 3)] == [3, 1]


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_on_a_terminal_progress_is_a_bar_with_rate_and_eta() -> None:
    screen = Terminal()
    progress = Progress("backfill", total=100, stream=screen)
    progress.update(40, written=40)
    progress.add_total(20)
    progress.close()
    text = screen.getvalue()
    assert "backfill" in text and "40/120" in text and "task/s" in text and "written=40" in text


def test_elsewhere_progress_is_a_log_line_now_and_then(logs: io.StringIO) -> None:
    configure_logging("INFO")
    now = [0.0]
    progress = Progress(
        "backfill", total=10, stream=io.StringIO(), every_s=10, clock=lambda: now[0]
    )
    for _ in range(5):
        now[0] += 3
        progress.update(1)
    progress.close()
    lines = [json.loads(line) for line in logs.getvalue().splitlines()]
    assert [line["message"] for line in lines] == [
        "backfill progress",
        "backfill finished",
    ]
    assert (lines[0]["done"], lines[0]["rate_per_s"], lines[0]["eta_s"]) == (4, 0.3, 18)
