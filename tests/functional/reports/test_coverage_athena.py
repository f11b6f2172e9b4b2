"""The coverage report's `proven` column is the same on Athena as with the CLI, and both agree
with lib.ingest.coverage, on a lake whose state holds every kind of evidence and every refusal.

No Athena endpoint is reachable, so Athena's side runs on DuckDB: the state files are loaded
into tables shaped as template.yaml's Glue tables declare them (`$path`, the members as strings,
spans as maps), Trino's from_iso8601_timestamp is given as a macro, and the relations the saved
query inlines (athena.STATE_RELATIONS) are computed from them. The report's own SQL is the one
both engines run. The third answer is computed day by day in Python from the same files with
read_all_coverage and project_coverage.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from audit_lake import PROJECT, write_audit_lake, write_proofs, write_watermark

from lib.core.settings import LakeLocation
from lib.ingest.coverage import VerifyProofs, project_coverage, read_all_coverage
from lib.ingest.watermark import StateUnreadable, Watermarks
from lib.lake.storage import LocalStore
from lib.ops.cli import main
from lib.reports.athena import STATE_COLUMNS, STATE_RELATIONS
from lib.reports.catalog import get_report
from lib.reports.compose import relation_sql, scope_of
from lib.reports.controls import choose
from lib.reports.engine import Session, _connect
from lib.reports.parameters import Request, render
from lib.reports.values import plain_row

NOW = datetime(2026, 12, 6, 17, 20, tzinfo=UTC)
SINCE = datetime(2026, 11, 1, tzinfo=UTC)
DUCKDB_TYPES = {"string": "VARCHAR", "array<map<string,string>>": "MAP(VARCHAR, VARCHAR)[]"}


@pytest.fixture(scope="module")
def lake(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Every kind of evidence: a gap between listed spans and a current watermark (p-audit),
    verify alone with overlapping proofs (p-ver), both overlapping (p-both), a watermark a
    moment ago (p-now); and every refusal: a future watermark (p-fut), a future proof beside a
    good state (p-vfut), a corrupt file (p-bad), a pass that never finished (p-lease)."""
    root = tmp_path_factory.mktemp("athena") / "lake"
    write_audit_lake(root)
    write_watermark(
        root,
        PROJECT,
        "2026-12-06T17:12:55Z",
        listed_from="2026-11-05T12:00:00Z",
        earlier=(("2026-10-20T00:00:00Z", "2026-11-03T00:00:00Z"),),
    )
    write_proofs(
        root,
        "p-ver",
        ("2026-11-02T00:00:00Z", "2026-11-10T06:00:00Z"),
        ("2026-11-08", "2026-11-20"),
    )
    write_watermark(root, "p-both", "2026-11-25T00:00:00Z", listed_from="2026-11-12T06:00:00Z")
    write_proofs(root, "p-both", ("2026-11-01T00:00:00Z", "2026-11-12T08:00:00Z"))
    write_watermark(root, "p-now", "2026-12-06T17:19:59.250000Z", listed_from="2026-11-29")
    write_watermark(root, "p-fut", "2026-12-06T18:00:00Z", listed_from="2026-11-01")
    write_watermark(root, "p-vfut", "2026-12-01T00:00:00Z", listed_from="2026-11-01")
    write_proofs(root, "p-vfut", ("2026-12-05T00:00:00Z", "2026-12-07T00:00:00Z"))
    (root / "_state" / "discover" / "p-bad.json").write_text('{"watermark": "2026-12-0')
    write_watermark(root, "p-lease", None, listed_from=None)
    return root


def cli_rows(lake: Path, capsys: pytest.CaptureFixture[str]) -> list[dict[str, Any]]:
    period = ["--since", SINCE.date().isoformat(), "--now", NOW.isoformat()]
    assert main(["report", "coverage", "--lake", str(lake), *period, "--format", "json"]) == 0
    return json.loads(capsys.readouterr().out)["rows"]


def glue_tables(connection: Any, lake: Path) -> None:
    """The state folders as Athena reads them through the Glue tables."""
    connection.execute("CREATE MACRO from_iso8601_timestamp(s) AS CAST(s AS TIMESTAMPTZ)")
    folders = {"discover_state_files": "discover", "verify_state_files": "verify"}
    for table, columns in STATE_COLUMNS.items():
        typed = {name: DUCKDB_TYPES[hive] for name, hive in columns.items()}
        names = ", ".join(f'"{name}"' for name in typed)
        files = sorted(str(p) for p in (lake / "_state" / folders[table]).glob("*.json"))
        connection.execute(
            f'CREATE TABLE {table} AS SELECT filename AS "$path", {names} FROM read_json('
            f"{files}, columns = {typed}, filename = true, format = 'newline_delimited', "
            "ignore_errors = true)"
        )


def athena_rows(lake: Path) -> list[dict[str, Any]]:
    location = LakeLocation(str(lake))
    connection, _ = _connect(location, "TRUE")
    session = Session(connection, location, relation_sql(choose(None)))
    glue_tables(session.connection, lake)
    report = get_report("coverage")
    scope = scope_of(report, Request(now=NOW, since=SINCE), session.relations)
    for name, sql in STATE_RELATIONS.items():  # on Athena {at} is now
        body = render(sql, {"at": scope.literals()["at"]})
        session.connection.execute(f"CREATE TEMP TABLE {name} AS {body}")
        session._made.add(name)
    rows = [plain_row(row) for row in session.run(report, scope).rows]
    session.close()
    return rows


def expected_day(lake: Path, project: str, day: datetime) -> str:
    """What lib.ingest.coverage says of one day of the period (cut at now)."""
    extent = (day, min(day + timedelta(days=1), NOW))
    store = LocalStore(lake)
    found, _ = read_all_coverage(store, NOW, extent)
    if found[project].complete:
        state = Watermarks(store).read(project, NOW)
        proofs = VerifyProofs(store).read(project, NOW)
        by = [
            source
            for source, alone in (("discovery", (state, None)), ("verify", (None, proofs)))
            if project_coverage(project, *alone, extent).complete
        ]
        return "discovery, verify" if len(by) != 1 else by[0]
    gaps = [(span.start, span.end) for span in found[project].not_proven]
    return "not" if gaps == [extent] else "partly"


def readable(lake: Path, project: str) -> bool:
    try:
        Watermarks(LocalStore(lake)).read(project, NOW)
        VerifyProofs(LocalStore(lake)).read(project, NOW)
    except StateUnreadable:
        return False
    return True


def proven_of(rows: list[dict[str, Any]]) -> dict[tuple[str, str], tuple[str, Any]]:
    return {(r["day"], r["project_id"]): (r["proven"], r["watermark"]) for r in rows}


def test_athena_and_the_cli_give_the_same_days_as_the_coverage_api(lake: Path, capsys) -> None:
    cli = proven_of(cli_rows(lake, capsys))
    assert proven_of(athena_rows(lake)) == cli
    projects = {p for _, p in cli if p is not None}
    # Refused state proves nothing and shows no watermark; it names no row of its own.
    assert projects == {PROJECT, "p-ver", "p-both", "p-now", "p-lease"}
    days = sorted({d for d, _ in cli})
    assert days[0] == "2026-11-01" and days[-1] == "2026-12-06" and len(days) == 36
    for project in projects:
        assert readable(lake, project)
        for day in days:
            moment = datetime.fromisoformat(day).replace(tzinfo=UTC)
            assert cli[day, project][0] == expected_day(lake, project, moment), (day, project)
    assert cli["2026-11-03", PROJECT] == ("not", "2026-12-06T17:12:55Z")
    assert (
        cli["2026-11-05", PROJECT][0] == "partly" and cli["2026-12-05", PROJECT][0] == "discovery"
    )
    assert [cli[f"2026-11-{d:02d}", "p-ver"][0] for d in (1, 2, 10, 11, 19, 20)] == [
        "not",
        "verify",
        "verify",
        "verify",
        "verify",
        "not",
    ]
    assert [cli[f"2026-11-{d:02d}", "p-both"][0] for d in (1, 11, 12, 13, 25)] == [
        "verify",
        "verify",
        "discovery, verify",  # neither alone: verify up to 08:00, discovery from 06:00
        "discovery",
        "not",
    ]
    assert cli["2026-12-06", "p-now"][0] == "partly"  # the last 0.75 s of the period: listed next
    assert {cli[d, "p-lease"] for d in days} == {("not", None)}
