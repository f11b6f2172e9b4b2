"""Audit reports over a lake of known content, written through the real sink; exact numbers."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from lib.ingest.flatten import flatten
from lib.lake.storage import LocalStore
from lib.lake.writer import Lake
from lib.ops.cli import main

from conftest import ROOT

NOW = "2026-11-22T12:00:00Z"
INGEST_1 = datetime(2026, 11, 22, 6, tzinfo=UTC)
INGEST_2 = datetime(2026, 11, 22, 7, tzinfo=UTC)


def task(
    task_id: str,
    op: str,
    status: str,
    created: str,
    minutes: float | None,
    *,
    resource: str | None = None,
    code: str = "",
    updated: str | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """An operation log; `minutes` is ended_at - started_at (None: not finished)."""
    start = datetime.fromisoformat(created)
    if start.tzinfo is None:  # a time without an offset is UTC, as the product reads it
        start = start.replace(tzinfo=UTC)
    end = None if minutes is None else start.timestamp() + minutes * 60
    ended = "" if end is None else datetime.fromtimestamp(end, UTC).isoformat()
    info: dict[str, Any] = {
        "common": {"progress": 100 if end else 40, "request_id": "req-" + task_id}
    }
    if resource:
        info["resource"] = {"id": resource, "name": resource.lower(), "type": "OS::Nova::Server"}
    info.update(extra)
    return {
        "id": task_id,
        "project_id": "p1",
        "operation_type": op,
        "status": status,
        "created_at": created,
        "started_at": created,
        "ended_at": ended,
        "updated_at": updated or ended or created,
        "vault_name": "vault-1",
        "error_info": {"code": code, "message": f"{code} happened" if code else ""},
        "extra_info": info,
    }


REPL = {"source_region": "ap-southeast-1", "destination_region": "ap-southeast-3"}
LOGS = [
    # An older snapshot of A, still running: the latest view must hide it.
    task(
        "A",
        "backup",
        "running",
        "2026-11-20T01:00:00Z",
        None,
        resource="R1",
        updated="2026-11-20T01:05:00Z",
    ),
    task("A", "backup", "success", "2026-11-20T01:00:00Z", 10, resource="R1"),
    task(
        "B", "backup", "failed", "2026-11-21T01:00:00Z", 5, resource="R1", code="BackupService.7101"
    ),
    # Created 02:00 at +08:00 = 18:00 UTC the day before: it counts for 2026-11-20.
    task(
        "C",
        "backup",
        "failed",
        "2026-11-21T02:00:00+08:00",
        1,
        resource="R2",
        code="BackupService.7101",
    ),
    task(
        "D",
        "backup",
        "success",
        "2026-11-22T00:30:00",
        10,
        resource="R3",
        backup={"app_consistency_status": "1", "backup_id": "bk-d"},
    ),
    task("E", "restore", "success", "2026-11-22T02:00:00Z", 2),
    task("F", "replication", "success", "2026-11-22T03:00:00Z", 10, replication=REPL),
    task(
        "G",
        "replication",
        "failed",
        "2026-11-22T04:00:00Z",
        1,
        replication=REPL,
        code="BackupService.4203",
    ),
    task("H", "backup", "running", "2026-11-22T01:00:00Z", None, resource="R4"),
    task(
        "I",
        "backup",
        "timeout",
        "2026-11-21T05:00:00Z",
        60,
        resource="R5",
        code="BackupService.7150",
        backup={
            "app_consistency_status": "0",
            "app_consistency_error_code": "BackupService.3001",
            "app_consistency_error_message": "freeze timed out",
            "backup_id": "bk-i",
        },
    ),
]


@pytest.fixture(scope="module")
def lake(tmp_path_factory: pytest.TempPathFactory) -> str:
    """Two writes, as two invocations would make; B is delivered twice (an exact duplicate)."""
    root = tmp_path_factory.mktemp("reports") / "lake"
    store = Lake(LocalStore(root))
    first = [flatten(log, ingested_at=INGEST_1, source_message_id="m1")[0] for log in LOGS[:5]]
    second = [flatten(log, ingested_at=INGEST_2, source_message_id="m2")[0] for log in LOGS[2:]]
    store.write(first, [])
    store.write(second, [])
    return str(root)


def report(lake: str, *args: str, capsys: pytest.CaptureFixture[str]) -> list[dict[str, Any]]:
    assert main(["report", *args, "--lake", lake, "--now", NOW, "--format", "json"]) == 0
    return json.loads(capsys.readouterr().out)["rows"]


def test_latest_keeps_one_row_per_task_the_newest_snapshot(lake: str, capsys) -> None:
    rows = report(lake, "latest", capsys=capsys)
    assert [r["id"] for r in rows] == ["A", "C", "B", "I", "D", "H", "E", "F", "G"]
    a = rows[0]
    assert (a["status"], a["updated_at"]) == ("success", "2026-11-20T01:10:00Z")


def test_daily_counts_by_utc_day_and_type(lake: str, capsys) -> None:
    rows = report(lake, "daily", "--since", "2026-11-01", capsys=capsys)
    table = {(r["day"], r["operation_type"]): r for r in rows}
    assert sorted(table) == [
        ("2026-11-20", "backup"),
        ("2026-11-21", "backup"),
        ("2026-11-22", "backup"),
        ("2026-11-22", "replication"),
        ("2026-11-22", "restore"),
    ]

    def counts(r: dict[str, Any]) -> tuple:
        keys = ("total", "success", "failed", "timeout", "in_progress", "other", "success_rate")
        return tuple(r[k] for k in keys)

    assert counts(table["2026-11-20", "backup"]) == (2, 1, 1, 0, 0, 0, 0.5)
    assert counts(table["2026-11-21", "backup"]) == (2, 0, 1, 1, 0, 0, 0.0)
    assert counts(table["2026-11-22", "backup"]) == (2, 1, 0, 0, 1, 0, 0.5)
    assert counts(table["2026-11-22", "replication"]) == (2, 1, 1, 0, 0, 0, 0.5)
    assert counts(table["2026-11-22", "restore"]) == (1, 1, 0, 0, 0, 0, 1.0)


def test_a_window_prunes_to_its_days(lake: str, capsys) -> None:
    rows = report(lake, "daily", "--since", "2026-11-22", "--until", "2026-11-22", capsys=capsys)
    assert {r["day"] for r in rows} == {"2026-11-22"}
    assert sum(r["total"] for r in rows) == 5


def test_failures_grouped_by_code_most_frequent_first(lake: str, capsys) -> None:
    rows = report(lake, "failures", "--since", "2026-11-15", capsys=capsys)
    assert [(r["error_code"], r["code_count"], r["id"]) for r in rows] == [
        ("BackupService.7101", 2, "B"),
        ("BackupService.7101", 2, "C"),
        ("BackupService.4203", 1, "G"),
        ("BackupService.7150", 1, "I"),
    ]
    assert (
        rows[0]["resource_id"] == "R1" and rows[0]["error_message"] == "BackupService.7101 happened"
    )
    assert rows[3]["status"] == "timeout"


def test_failures_default_to_the_last_seven_days(lake: str, capsys) -> None:
    assert (
        main(
            [
                "report",
                "failures",
                "--lake",
                lake,
                "--now",
                "2026-11-29T00:00:00Z",
                "--format",
                "json",
            ]
        )
        == 0
    )
    assert [r["id"] for r in json.loads(capsys.readouterr().out)["rows"]] == ["G"]


def test_stale_resources_never_or_too_long_ago(lake: str, capsys) -> None:
    rows = report(lake, "stale-resources", capsys=capsys)
    assert [(r["resource_id"], r["last_success_at"]) for r in rows] == [
        ("R2", None),
        ("R4", None),
        ("R5", None),
        ("R1", "2026-11-20T01:10:00Z"),
    ]
    r1 = rows[3]
    assert r1["hours_since_success"] == 58.8
    assert (r1["last_failure_code"], r1["last_failure_at"]) == (
        "BackupService.7101",
        "2026-11-21T01:00:00Z",
    )
    assert r1["vault_name"] == "vault-1"
    fewer = report(lake, "stale-resources", "--hours", "72", capsys=capsys)
    assert [r["resource_id"] for r in fewer] == ["R2", "R4", "R5"]


def test_app_consistency_failures(lake: str, capsys) -> None:
    rows = report(lake, "app-consistency", "--since", "2026-11-01", capsys=capsys)
    assert [(r["id"], r["app_consistency_error_code"]) for r in rows] == [
        ("I", "BackupService.3001")
    ]


def test_replication_by_region_pair_and_outcome(lake: str, capsys) -> None:
    rows = report(lake, "replication", "--since", "2026-11-01", capsys=capsys)
    assert [
        (r["source_region"], r["destination_region"], r["status"], r["tasks"], r["avg_duration_s"])
        for r in rows
    ] == [
        ("ap-southeast-1", "ap-southeast-3", "failed", 1, 60.0),
        ("ap-southeast-1", "ap-southeast-3", "success", 1, 600.0),
    ]


def test_durations_percentiles_and_slowest(lake: str, capsys) -> None:
    rows = report(lake, "durations", "--since", "2026-11-01", capsys=capsys)
    by_type = {r["operation_type"]: r for r in rows}
    backup = by_type["backup"]  # A 600, B 300, C 60, D 600, I 3600 seconds
    assert (backup["tasks"], backup["p50_s"], backup["p95_s"], backup["max_s"]) == (
        5,
        600.0,
        3000.0,
        3600.0,
    )
    assert backup["slowest_id"] == "I"
    replication = by_type["replication"]
    assert (replication["p50_s"], replication["p95_s"], replication["max_s"]) == (
        330.0,
        573.0,
        600.0,
    )
    assert by_type["restore"]["max_s"] == 120.0


def test_stuck_tasks(lake: str, capsys) -> None:
    rows = report(lake, "stuck", capsys=capsys)
    assert [(r["id"], r["hours_open"]) for r in rows] == [("H", 11.0)]
    assert report(lake, "stuck", "--hours", "12", capsys=capsys) == []


def test_fractional_hours_are_not_truncated(lake: str, capsys) -> None:
    """H has been running 20 minutes at this `now`: 0.5 h is longer, 0.25 h shorter."""
    early = ["report", "stuck", "--lake", lake, "--now", "2026-11-22T01:20:00Z", "--format", "json"]
    assert main([*early, "--hours", "0.5"]) == 0
    assert json.loads(capsys.readouterr().out)["rows"] == []  # int(0.5) would have been 0: H listed
    assert main([*early, "--hours", "0.25"]) == 0
    assert [r["id"] for r in json.loads(capsys.readouterr().out)["rows"]] == ["H"]


def test_csv_and_table_formats(lake: str, capsys, tmp_path: Path) -> None:
    out = tmp_path / "stuck.csv"
    assert (
        main(
            ["report", "stuck", "--lake", lake, "--now", NOW, "--format", "csv", "--out", str(out)]
        )
        == 0
    )
    rows = list(csv.DictReader(io.StringIO(out.read_text())))
    assert [(r["id"], r["created_at"]) for r in rows] == [("H", "2026-11-22T01:00:00Z")]
    assert main(["report", "daily", "--lake", lake, "--now", NOW, "--since", "2026-11-01"]) == 0
    head, table = capsys.readouterr().out.split("\n\n", 1)
    assert head.splitlines()[0] == "Daily outcomes by operation type [daily]"
    assert "period: 2026-11-01T00:00:00Z to now" in head and f"lake: {lake}" in head
    header, first = table.splitlines()[:2]
    assert header.split() == [
        "day",
        "operation_type",
        "total",
        "success",
        "failed",
        "timeout",
        "in_progress",
        "other",
        "success_rate",
    ]
    assert first.split() == ["2026-11-20", "backup", "2", "1", "1", "0", "0", "0", "50", "%"]


def test_report_list_names_every_report(capsys) -> None:
    assert main(["report", "--list"]) == 0
    names = [line.split()[0] for line in capsys.readouterr().out.splitlines()]
    from lib.reports.catalog import ORDER

    assert names == list(ORDER)
    # The auditor's questions first; the one-row-per-task dump last.
    assert names[:3] == ["controls", "resource-compliance", "adherence"]
    assert names[-1] == "latest"
    assert {"restores", "deletions", "coverage", "daily", "stuck"} <= set(names)


def test_report_help_lists_reports_with_their_windows_and_parameters(capsys) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["report", "--help"])
    assert exit_.value.code == 0
    text = capsys.readouterr().out
    lines = {line.split()[0]: line for line in text.splitlines() if line.startswith("  ")}
    assert "last 7 days" in lines["failures"] and "last 30 days" in lines["daily"]
    assert "--hours 24" in lines["stale-resources"] and "--hours 6" in lines["stuck"]
    assert "all history" in lines["latest"]
    assert "--rpo-hours 24" in lines["backup-within-rpo"]
    assert "--max-restore-minutes 720" in lines["restore-time"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["report", "nonsense"], "unknown report 'nonsense'"),
        (["report", "daily", "--since", "yesterday"], "not an ISO 8601 date"),
        (["report", "daily", "--since", "2026-11-22", "--until", "2026-11-01"], "must be before"),
        (["report", "all", "--format", "csv"], "csv holds one report"),
    ],
)
def test_bad_requests_are_one_line_and_exit_2(
    lake: str, capsys, args: list[str], message: str
) -> None:
    assert main([*args, "--lake", lake]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def test_a_missing_or_empty_lake_is_one_line_and_exit_2(tmp_path: Path, capsys) -> None:
    assert main(["report", "daily", "--lake", str(tmp_path / "nowhere")]) == 2
    assert "no operation_logs" in capsys.readouterr().err
    (tmp_path / "empty" / "operation_logs").mkdir(parents=True)
    assert main(["report", "daily", "--lake", str(tmp_path / "empty")]) == 2
    assert "no operation_logs files" in capsys.readouterr().err


def test_a_lake_discovery_proved_empty_reports_no_tasks_as_complete(tmp_path: Path, capsys) -> None:
    # Discovery listed November whole and found no task: the lake has state and no logs, and
    # "no tasks, proven" is the answer, not a refusal.
    from audit_lake import write_watermark

    project = "0123456789abcdef0123456789abcdef"
    write_watermark(tmp_path, project, "2026-12-01T00:00:00Z", listed_from="2026-11-01T00:00:00Z")
    args = ["--since", "2026-11-01", "--until", "2026-11-30", "--now", "2026-12-01T00:00:00Z"]
    assert main(["report", "daily", "--lake", str(tmp_path), *args, "--format", "json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["rows"] == [] and document["coverage"]["complete"] is True
    assert any("no operation logs yet" in note for note in document["notes"])


def test_all_reports_as_one_offline_html_page(lake: str, tmp_path: Path) -> None:
    page = tmp_path / "audit.html"
    assert (
        main(
            [
                "report",
                "all",
                "--lake",
                lake,
                "--now",
                NOW,
                "--since",
                "2026-11-01",
                "--format",
                "html",
                "--out",
                str(page),
            ]
        )
        == 0
    )
    text = page.read_text()
    for chart in ("daily", "failures", "durations"):
        assert f'data-chart="{chart}"' in text
    assert 'data-label="2026-11-22"' in text and 'data-series="success"' in text
    assert "http://" not in text and "https://" not in text
    for name in ("stale-resources", "stuck", "replication", "app-consistency", "latest"):
        assert f'data-report="{name}"' in text
    # `all` leads with the audit summary, and the controls' chart and the heatmap are drawn.
    assert text.index('data-section="summary"') < text.index('data-report="controls"')
    assert 'data-chart="controls"' in text and 'data-layout="heatmap"' in text


# --- hostile input and the command line (issue: hardening) -----------------------------------


@pytest.fixture(scope="module")
def odd_lake(tmp_path_factory: pytest.TempPathFactory) -> str:
    """Tasks the calendar filter used to drop: no created_at, 1960, year 9999."""
    root = tmp_path_factory.mktemp("odd") / "lake"
    no_date = task("N0", "backup", "success", "2026-11-20T01:00:00Z", 5, resource="R1")
    no_date["created_at"] = None
    logs = [
        no_date,
        task("OLD", "backup", "success", "1960-01-01T00:00:00Z", 5, resource="R1"),
        task("FAR", "backup", "success", "9999-06-01T00:00:00Z", 5, resource="R1"),
        task("NOW", "backup", "success", "2026-11-21T01:00:00Z", 5, resource="R1"),
    ]
    Lake(LocalStore(root)).write(
        [flatten(x, ingested_at=INGEST_1, source_message_id="m")[0] for x in logs], []
    )
    return str(root)


def test_latest_keeps_one_row_per_task_whatever_its_created_at(odd_lake: str, capsys) -> None:
    assert main(["report", "latest", "--lake", odd_lake, "--now", NOW, "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)["rows"]
    assert [r["id"] for r in rows] == ["OLD", "NOW", "FAR", "N0"]  # a null created_at last
    assert rows[-1]["created_at"] is None and rows[-1]["started_at"] == "2026-11-20T01:00:00Z"
    wide = ["--since", "0001-01-01", "--until", "9999-12-30"]
    assert main(["report", "latest", "--lake", odd_lake, *wide, "--format", "json"]) == 0
    assert len(json.loads(capsys.readouterr().out)["rows"]) == 4  # N0 counts by its started_at


@pytest.mark.parametrize(
    "args",
    [
        ["--until", "9999-12-31"],  # the day after it is not a date
        ["--since", "0001-01-01T00:00+01:00"],  # before year 1 in UTC
        ["--since", "2026-02-30"],
    ],
)
def test_dates_off_the_calendar_are_one_line_and_exit_2(odd_lake: str, capsys, args) -> None:
    assert main(["report", "latest", "--lake", odd_lake, *args]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: --") and "not an ISO 8601 date" in err
    assert err.count("\n") == 1 and "Traceback" not in err


def test_out_into_a_missing_folder_is_one_line_and_exit_2(
    lake: str, tmp_path: Path, capsys
) -> None:
    target = tmp_path / "no" / "such" / "folder" / "daily.csv"
    assert main(["report", "daily", "--lake", lake, "--format", "csv", "--out", str(target)]) == 2
    err = capsys.readouterr().err
    assert f"cannot write --out {target}: No such file or directory" in err
    assert err.count("\n") == 1 and not target.parent.exists()


def run_cli(lake: str, *args: str, env: dict[str, str] | None = None, **popen: Any):
    command = [sys.executable, "-m", "lib", "report", *args, "--lake", lake]
    return subprocess.Popen(command, cwd=ROOT, env=env, text=True, stderr=subprocess.PIPE, **popen)


def test_a_python_without_duckdb_gets_one_line_saying_what_to_install(
    lake: str, tmp_path: Path
) -> None:
    """A `duckdb` that cannot be imported, first on the path, stands in for an environment
    without it (as an operator's virtualenv with only the runtime requirements is)."""
    (tmp_path / "duckdb.py").write_text("raise ModuleNotFoundError(\"No module named 'duckdb'\")\n")
    env = os.environ | {"PYTHONPATH": f"{tmp_path}{os.pathsep}{ROOT}"}
    process = run_cli(lake, "daily", env=env, stdout=subprocess.PIPE)
    out, err = process.communicate(timeout=60)
    assert process.returncode == 2 and out == ""
    assert err.count("\n") == 1 and "Traceback" not in err
    assert "need DuckDB" in err and "pip install '.[reports]'" in err


def test_a_reader_that_stops_early_gets_no_traceback(lake: str) -> None:
    """`report ... | head -1`: the pipe closes before the report is written."""
    process = run_cli(lake, "latest", "--now", NOW, stdout=subprocess.PIPE)
    assert process.stdout is not None
    process.stdout.close()  # the reader is gone
    assert process.stderr is not None
    with process.stderr:
        err = process.stderr.read()
    assert process.wait(timeout=60) == 0  # as every command of the CLI: the reader chose to stop
    assert "Traceback" not in err and "BrokenPipeError" not in err and err == ""


def test_a_report_runs_again_when_a_compaction_replaces_its_files_meanwhile(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from lib.lake.compact import Compactor, Selection
    from lib.lake.storage import LocalStore
    from lib.reports import engine

    lake = tmp_path / "lake"
    for batch in range(3):  # several small files in one partition, as SQS batches write them
        logs = [task(f"{p}{batch}", "backup", "success", "2026-11-20T01:00:00Z", 5) for p in "ab"]
        rows = [
            flatten(log, ingested_at=INGEST_1, source_message_id=f"m{batch}")[0] for log in logs
        ]
        Lake(LocalStore(lake)).write(rows, [])
    connect, compacted = engine._connect, []

    def connect_then_compact(*arguments: Any) -> Any:
        connection = connect(*arguments)  # the files are listed now...
        if not compacted:  # ...and a compaction replaces them before DuckDB reads them
            compacted.append(Compactor(LocalStore(lake)).run(Selection(older_than_days=0)))
        return connection

    monkeypatch.setattr(engine, "_connect", connect_then_compact)
    assert main(["report", "latest", "--lake", str(lake), "--now", NOW, "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)["rows"]
    assert compacted and compacted[0].as_dict()["compacted"] == 1
    assert sorted(row["id"] for row in rows) == [f"{p}{n}" for p in "ab" for n in range(3)]
