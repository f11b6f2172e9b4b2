"""The audit controls over a lake of known content (audit_lake.py), checked through the CLI in json.

Every resource x control verdict is written by hand in audit_lake.EXPECTED from the stories there;
these tests compare the whole table, then the reasons and evidence of the edge cases, the roll-up,
and how each parameter moves the verdicts it should and no other.
"""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import pytest
from audit_lake import CONTROLS, EXPECTED, PERIOD, RESOURCES, write_audit_lake

from lib.ops.cli import main


@pytest.fixture(scope="module")
def lake(tmp_path_factory: pytest.TempPathFactory) -> str:
    return write_audit_lake(tmp_path_factory.mktemp("controls") / "lake")


def run(lake: str, capsys: pytest.CaptureFixture[str], *args: str) -> Any:
    code = main(["report", *args, "--lake", lake, *PERIOD, "--format", "json"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    return json.loads(captured.out)["rows"]


@pytest.fixture(scope="module")
def compliance(lake: str, tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    """resource-compliance at the defaults, run once for the tests that only read it."""
    out = tmp_path_factory.mktemp("out") / "rc.json"
    args = ["report", "resource-compliance", "--lake", lake, *PERIOD, "--format", "json"]
    assert main([*args, "--out", str(out)]) == 0
    return json.loads(out.read_text())["rows"]


def verdicts(rows: list[dict[str, Any]]) -> dict[tuple[str, str], str]:
    return {(r["resource_id"], r["control"]): r["status"] for r in rows}


def row_of(rows: list[dict[str, Any]], resource: str, control: str) -> dict[str, Any]:
    (found,) = [r for r in rows if (r["resource_id"], r["control"]) == (resource, control)]
    return found


def test_every_resource_and_control_gets_the_verdict_written_by_hand(compliance) -> None:
    rows = compliance

    assert verdicts(rows) == EXPECTED
    assert len(rows) == len(RESOURCES) * len(CONTROLS)  # one row per resource and control
    # Grouped by control in the declared order, non-compliant first within each.
    assert [r["control"] for r in rows] == [c for c in CONTROLS for _ in RESOURCES]
    order = {"NON_COMPLIANT": 0, "INSUFFICIENT_DATA": 1, "COMPLIANT": 2}
    for control in CONTROLS:
        ranks = [order[r["status"]] for r in rows if r["control"] == control]
        assert ranks == sorted(ranks), control
    web = row_of(rows, "web-01", "backup-within-rpo")
    assert (web["resource_name"], web["resource_type"], web["vault_name"]) == (
        "web-01.example",
        "OS::Nova::Server",
        "vault-web",
    )
    assert row_of(rows, "file-01", "no-stuck-tasks")["resource_type"] == "OS::Sfs::Turbo"


EDGES = {
    # A successful backup that ended exactly 24 h before the evaluation time is within the RPO.
    ("db-01", "backup-within-rpo"): ("24.0 h before the evaluation time, RPO 24 h", "db-b29"),
    ("new-01", "backup-within-rpo"): ("first backup task is 6.0 h old", "new-b30"),
    ("old-vol", "backup-within-rpo"): ("no backup task before the evaluation time", None),
    # Nov 28 had only a failed backup: the first day missed, its failure the evidence.
    ("db-01", "daily-adherence"): ("2 of 4 days", "db-b28"),
    ("file-01", "daily-adherence"): ("0 of 30 days", None),
    ("db-01", "app-consistency"): ("BackupService.7130 VSS writer failed", "db-b29"),
    # app-01's replication copied the Nov 25 backup, not the latest one older than 24 h (Nov 29).
    ("app-01", "cross-region-copy"): (
        "41.8 h before the evaluation time) has no successful",
        "app-b29",
    ),
    ("web-01", "cross-region-copy"): ("was replicated", "web-b29,web-rep29"),
    ("file-01", "cross-region-copy"): ("was replicated", "file-b1010,file-rep"),
    # The restore 91 days back is too old for 90 days; web-01's restore is found by backup ID.
    ("db-01", "restore-tested"): ("finished 13.0 weeks before the evaluation time", "db-rst"),
    ("web-01", "restore-tested"): ("9.6 days before", "web-rst"),
    ("app-01", "restore-time"): ("took 800.0 min, target 720 min", "app-rst"),
    # Deleted 6 days after it was made; and a deleted backup whose creation is not in the lake.
    ("app-01", "min-retention"): (
        "deleted 6.0 days after it was made, minimum 7 d",
        "app-del21,app-b21",
    ),
    ("file-01", "min-retention"): ("whose creation is not in the lake", "file-del"),
    ("web-01", "min-retention"): ("the youngest 18.4 days old", "web-del01"),
    ("db-01", "no-stuck-tasks"): ("1 task(s) open longer than 6 h, the oldest 12.0 h", "db-b30"),
}


@pytest.mark.parametrize(("key", "expected"), EDGES.items(), ids=lambda v: str(v))
def test_reasons_and_evidence_of_the_edges(compliance, key, expected) -> None:
    row = row_of(compliance, *key)
    reason, evidence = expected
    assert reason in row["reason"]
    assert row["evidence_ids"] == evidence
    assert "\n" not in row["reason"]


# Written by hand from audit_lake.EXPECTED_ROWS: compliant, non-compliant, insufficient, rate.
ROLLUP = {
    "backup-within-rpo": (3, 2, 1, 0.6),
    "daily-adherence": (2, 3, 1, 0.4),
    "app-consistency": (1, 1, 4, 0.5),
    "cross-region-copy": (2, 2, 2, 0.5),
    "restore-tested": (2, 4, 0, 0.3333),
    "restore-time": (2, 1, 3, 0.6667),
    "min-retention": (3, 1, 2, 0.75),
    "no-stuck-tasks": (5, 1, 0, 0.8333),
}


def test_controls_roll_up_per_control_with_parameters(lake: str, capsys) -> None:
    rows = run(lake, capsys, "controls")

    assert [r["control"] for r in rows] == list(CONTROLS)
    for row in rows:
        counts = (row["compliant"], row["non_compliant"], row["insufficient_data"])
        assert (*counts, row["compliance_rate"]) == ROLLUP[row["control"]]
        assert row["resources"] == len(RESOURCES)
    parameters = {r["control"]: r["parameters"] for r in rows}
    assert parameters["backup-within-rpo"] == "rpo_hours=24"
    assert parameters["restore-time"] == "max_restore_minutes=720"
    assert parameters["app-consistency"] == ""


@pytest.mark.parametrize(
    ("flags", "changed"),
    [
        # The RPO boundary is sharp: a hair under 24 h and db-01 is late.
        (["--rpo-hours", "23.999"], {("db-01", "backup-within-rpo"): "NON_COMPLIANT"}),
        (["--adherence-pct", "50"], {("db-01", "daily-adherence"): "COMPLIANT"}),
        (["--max-restore-minutes", "30"], {("db-01", "restore-time"): "NON_COMPLIANT"}),
        (["--stuck-hours", "3.5"], {("app-01", "no-stuck-tasks"): "NON_COMPLIANT"}),
        (["--min-retention-days", "5.5"], {("app-01", "min-retention"): "COMPLIANT"}),
        # The control checks the latest backup older than the parameter: for web-01 that is now
        # the Nov 26 backup, which was never replicated; db-01 has none that old.
        (
            ["--copy-within-hours", "86"],
            {
                ("db-01", "cross-region-copy"): "INSUFFICIENT_DATA",
                ("web-01", "cross-region-copy"): "NON_COMPLIANT",
            },
        ),
        # Longer than the lake's history: no restore found can no longer be judged.
        (
            ["--restore-test-days", "1000"],
            {
                ("db-01", "restore-tested"): "COMPLIANT",
                **{
                    (r, "restore-tested"): "INSUFFICIENT_DATA"
                    for r in ("file-01", "new-01", "old-vol")
                },
            },
        ),
    ],
)
def test_each_parameter_moves_only_the_verdicts_it_governs(
    lake: str, capsys, flags: list[str], changed: dict[tuple[str, str], str]
) -> None:
    rows = run(lake, capsys, "resource-compliance", *flags)

    assert verdicts(rows) == EXPECTED | changed


def test_controls_flag_chooses_which_controls_run(lake: str, capsys) -> None:
    rows = run(lake, capsys, "controls", "--controls", "restore-time, backup-within-rpo")
    assert [r["control"] for r in rows] == ["backup-within-rpo", "restore-time"]  # declared order
    detail = run(lake, capsys, "resource-compliance", "--controls", "min-retention")
    assert {r["control"] for r in detail} == {"min-retention"}


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (
            ["--controls", "backup-within-rpo,cross-region"],
            "--controls: unknown control(s) cross-region",
        ),
        (["--rpo-hours", "-1"], "--rpo-hours must be a number of at least 0"),
        (["--adherence-pct", "101"], "--adherence-pct must be at most 100"),
        (["--stuck-hours", "six"], "--stuck-hours takes a number, got 'six'"),
        (["--hours", "nan"], "--hours must be a number of at least 0"),
        (["--restore-test-days", "inf"], "--restore-test-days must be a number of at least 0"),
    ],
)
def test_bad_parameters_are_refused_in_one_line(lake: str, capsys, flags, message) -> None:
    assert main(["report", "controls", "--lake", lake, *PERIOD, *flags]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and "Traceback" not in err


def test_table_states_period_evaluation_time_parameters_and_lake(lake: str, capsys) -> None:
    assert main(["report", "controls", "--lake", lake, *PERIOD, "--stuck-hours", "12.5"]) == 0
    head, table = capsys.readouterr().out.split("\n\n", 1)
    assert "period: 2026-11-01T00:00:00Z to 2026-12-01T00:00:00Z" in head
    assert "evaluated at: 2026-12-01T00:00:00Z" in head  # the end of the period, before --now
    assert "stuck_hours 12.5 h" in head and "max_restore_minutes 720 min" in head
    assert f"lake: {lake}" in head
    lines = {line.split()[0]: line for line in table.splitlines()[1:]}
    assert lines["backup-within-rpo"].endswith("60 %")  # rates as percentages
    assert lines["no-stuck-tasks"].endswith("100 %")  # db-01's 12 h task is under 12.5 h


def test_csv_keeps_raw_values_for_scripts(lake: str, capsys) -> None:
    assert main(["report", "controls", "--lake", lake, *PERIOD, "--format", "csv"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    rates = {r["control"]: r["compliance_rate"] for r in rows}
    assert rates["backup-within-rpo"] == "0.6" and rates["restore-tested"] == "0.3333"


def test_the_period_defaults_to_the_last_30_days(lake: str, capsys) -> None:
    assert main(["report", "controls", "--lake", lake, "--now", "2026-12-01T00:00:00Z"]) == 0
    assert "period: 2026-11-01T00:00:00Z to now" in capsys.readouterr().out


def test_a_past_period_is_evaluated_at_its_end(lake: str, capsys) -> None:
    """Evaluated at 2026-11-25: app-01's restore had not happened yet, its backups had."""
    args = ["--since", "2026-11-01", "--until", "2026-11-24", "--now", "2026-12-05T00:00:00Z"]
    code = main(["report", "resource-compliance", "--lake", lake, *args, "--format", "json"])
    assert code == 0
    rows = json.loads(capsys.readouterr().out)["rows"]
    # No restore yet, and the lake reaches back only 85 days from then: not enough to judge.
    assert row_of(rows, "app-01", "restore-tested")["status"] == "INSUFFICIENT_DATA"
    assert row_of(rows, "app-01", "backup-within-rpo")["evidence_ids"] == "app-b24"
    assert "db-01" not in {r["resource_id"] for r in rows}  # first backed up after that end
