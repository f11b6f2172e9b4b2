"""The `report` and `audit` commands: flags in, lib.reports out, errors worded for the command line.

lib.reports speaks of parameters and periods; this module names the flags (`--rpo-hours`,
`--since`) when it tells the user what was wrong. DuckDB is imported only when a report runs.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from lib.core.errors import ConfigError, OplogLakeError
from lib.core.settings import LAKE_URI, LakeLocation, Settings
from lib.core.times import format_utc, parse_day_or_moment
from lib.ops.flags import Number
from lib.ops.output import counted
from lib.reports.catalog import all_reports, get_report
from lib.reports.controls import CONTROL_ORDER, all_controls, choose
from lib.reports.parameters import PARAMETERS, ParameterError, PeriodError, Request, format_number

FORMATS = ("table", "csv", "json", "html")


class UsageError(ValueError):
    """A request the command refuses, worded with its flags; the CLI prints it and exits 2."""


def flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def register(commands: Any, lake_option: Callable[[argparse.ArgumentParser], None]) -> None:
    """Add `report` and `audit` to the CLI's subcommands; `lake_option` adds the shared --lake,
    which the CLI resolves into `args.lake` (the URI) and `args.location` before a command runs."""
    report = commands.add_parser(
        "report",
        help="run an audit report over the lake (--list names them)",
        description="Run an audit report (or `all`) over the lake with DuckDB.",
        epilog=reports_help(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    report.add_argument("name", nargs="?", help="report name, or `all`")
    report.add_argument("--list", action="store_true", help="name and describe every report")
    lake_option(report)
    _period_options(report)
    report.add_argument("--format", choices=FORMATS, default="table")
    report.add_argument("--out", help="write to this file instead of standard output")
    report.set_defaults(run=report_command)
    audit = commands.add_parser(
        "audit",
        help="write the audit pack: index.html, CSV and JSON evidence, manifest.json",
        description="Evaluate the controls over a period and write the audit pack to a folder "
        "or s3://bucket/prefix: index.html (summary first), each report as CSV and JSON, and "
        "manifest.json with the SHA-256 of every file.",
        epilog=reports_help(controls_only=True),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    lake_option(audit)
    _period_options(audit, required=True)
    audit.add_argument("--out", help="folder or s3://bucket/prefix (default ./audit-SINCE-UNTIL)")
    audit.add_argument("--format", choices=("table", "json"), default="table")
    audit.set_defaults(run=audit_command)


def _period_options(parser: argparse.ArgumentParser, required: bool = False) -> None:
    parser.add_argument(
        "--since", required=required, help="period start: ISO 8601 date or UTC datetime"
    )
    parser.add_argument(
        "--until",
        required=required,
        help="period end: a date includes that day; a datetime is exclusive (default now)",
    )
    for parameter in PARAMETERS.values():
        default = "per report" if parameter.default is None else format_number(parameter.default)
        parser.add_argument(
            flag(parameter.name),
            type=Number(flag(parameter.name), maximum=parameter.maximum),
            metavar=parameter.unit.upper().replace("%", "PCT"),
            help=f"{parameter.description} ({parameter.unit}, default {default})".replace(
                "%", "%%"
            ),
        )
    parser.add_argument(
        "--controls",
        help="comma-separated controls to evaluate (default: all of them, the inventory ones "
        f"when the lake has an inventory: {', '.join(CONTROL_ORDER)})",
    )
    parser.add_argument("--now", help=argparse.SUPPRESS)  # fixed clock for reproducible output


def window_text(days: int | None) -> str:
    if days is None:
        return "no period"
    return "all history" if days == 0 else f"last {days} days"


def reports_help(controls_only: bool = False) -> str:
    """The epilog of `report --help`: every report with its default period and parameters."""
    lines = []
    if not controls_only:
        lines.append("reports (default period; parameters and their defaults):")
        for report in all_reports().values():
            window = window_text(report.window_days)
            lines.append(f"  {report.name:<20} {window:<14} {_parameters(report)}".rstrip())
    lines.append("controls (--controls a,b selects; each evaluated per resource):")
    for control in all_controls().values():
        lines.append(f"  {control.name:<20} {_parameters(control)}".rstrip())
    return "\n".join(lines)


def _parameters(query: Any) -> str:
    from lib.reports.compose import parameters_of, relation_sql

    names = parameters_of(query, relation_sql(choose(None)))
    defaults = query.defaults
    shown = []
    for name in names:
        value = defaults.get(name, PARAMETERS[name].default)
        shown.append(f"{flag(name)} {format_number(float(value or 0))}")
    return ", ".join(shown) if len(shown) <= 3 else "those of the controls chosen (below)"


@contextlib.contextmanager
def worded_errors() -> Iterator[None]:
    """Library errors about parameters and periods, reworded with the flags the user typed."""
    try:
        yield
    except ParameterError as exc:
        raise UsageError(f"{flag(exc.name)} {str(exc).split(': ', 1)[1]}") from None
    except PeriodError as exc:
        raise UsageError(
            f"--since ({format_utc(exc.since)}) must be before --until ({format_utc(exc.until)})"
        ) from None


def request_from(args: argparse.Namespace) -> Request:
    values = {name: getattr(args, name) for name in PARAMETERS if getattr(args, name) is not None}
    with worded_errors():
        return Request(
            now=_moment("--now", args.now) if args.now else datetime.now(UTC),
            since=_moment("--since", args.since) if args.since else None,
            until=_moment("--until", args.until, end_of_day=True) if args.until else None,
            values=values,
        )


def _moment(name: str, text: str, end_of_day: bool = False) -> datetime:
    try:
        return parse_day_or_moment(text, end_of_day=end_of_day)
    except ValueError as exc:
        raise UsageError(f"{name}: {exc}") from None


def controls_from(args: argparse.Namespace) -> tuple[str, ...] | None:
    if args.controls is None:
        return None
    try:
        return choose(args.controls.split(","))
    except ValueError as exc:
        raise UsageError(f"--controls: {exc}") from None


def report_command(args: argparse.Namespace) -> int:
    if args.list:
        for report in all_reports().values():
            print(f"{report.name:<20} {report.description}")
        return 0
    if not args.name:
        raise UsageError("name a report (or `all`); --list shows them")
    if args.format == "csv" and args.name == "all":
        raise UsageError("csv holds one report: name it instead of `all`")
    names = ["all"] if args.name == "all" else [get_report(args.name).name]
    from lib.reports.engine import all_report_names, run_reports

    request = request_from(args)
    if names == ["all"]:
        names = all_report_names(args.location)
    with worded_errors():
        results = run_reports(args.location, request, names, controls_from(args))
    emit(render(results, args.format, args.lake), args.out, args.format)
    if args.format == "csv":  # the only format with no room for it
        from lib.reports.coverage_text import coverage_sentences

        for result in results:
            for line in coverage_sentences(result.coverage) if result.coverage else ():
                print(f"coverage: {line}", file=sys.stderr)
    for note in sorted({note for result in results for note in result.notes}):
        print(f"note: {note}", file=sys.stderr)
    return 0


def render(results: Sequence[Any], fmt: str, lake: str) -> str:
    from lib.reports import text

    if fmt == "html":
        from lib.reports.html.summary import render_report_page

        return render_report_page(list(results), lake=lake)
    if fmt == "json":
        return text.render_json(results)
    if fmt == "csv":
        return text.render_csv(results[0])
    return text.render_text(results, lake)


HOW_TO_OPEN = {
    "html": "open it in a web browser: {uri}",
    "csv": "open it in a spreadsheet (cells that would run as formulas start with ')",
    "json": "read it with jq or any JSON reader",
    "table": "read it with less -S (wide lines scroll sideways)",
}


def emit(text: str, out: str | None, fmt: str = "table") -> None:
    """Write to the --out file, saying how to open it, or to standard output (a reader that
    stops early, `| head`, is handled quietly by the CLI's main)."""
    if out:
        try:
            with open(out, "w", encoding="utf-8") as handle:
                handle.write(text)
        except OSError as exc:
            raise UsageError(f"cannot write --out {out}: {exc.strerror}") from None
        how = HOW_TO_OPEN[fmt].format(uri=Path(out).resolve().as_uri())
        print(f"wrote {out}: {how}", file=sys.stderr)
        return
    sys.stdout.write(text)
    sys.stdout.flush()  # a closed pipe surfaces here, inside the command


def audit_command(args: argparse.Namespace) -> int:
    from lib.reports.pack import DestinationError, build_pack, check_destination, write_pack

    request = request_from(args)
    if request.since is None or request.until is None:  # argparse requires both flags
        raise UsageError("an audit pack needs --since and --until")
    out = args.out or default_out(request.since, request.until)
    destination = out_location(out)
    try:
        check_destination(destination, args.location)  # before the work, not after it
        with worded_errors():
            pack = build_pack(args.location, request, controls_from(args), datetime.now(UTC))
        write_pack(pack, destination, args.location)
    except DestinationError as exc:
        raise UsageError(f"--out {exc}") from None
    except (OplogLakeError, OSError) as exc:
        message = str(exc).replace(f"{LAKE_URI}=", "")  # the store speaks of the lake
        raise UsageError(f"cannot write the audit pack to {out}: {message}") from None
    if args.format == "json":
        print(json.dumps(pack.manifest | {"out": out}, indent=2))
    else:
        print(pack_summary(pack, out))
    return 0


def out_location(out: str) -> LakeLocation:
    """Where --out points, checked like LAKE_URI and encrypted like the lake; a file refused."""
    if not out.startswith("s3://") and os.path.exists(out) and not os.path.isdir(out):
        raise UsageError(
            f"--out {out} is a file: name a folder (new, empty, or holding an earlier audit pack)"
        )
    try:
        return Settings.for_lake(os.environ, lake_uri=out).lake
    except ConfigError as exc:
        raise UsageError(f"--out {out}: {str(exc).replace(LAKE_URI, '--out')}") from None


def default_out(since: datetime, until: datetime) -> str:
    last = until - timedelta(microseconds=1)
    return f"audit-{since:%Y-%m-%d}-{last:%Y-%m-%d}"


def pack_summary(pack: Any, out: str) -> str:
    from lib.reports.coverage_text import coverage_sentences

    rows = pack.results["resource-compliance"].rows
    failing = sorted({r["resource_id"] for r in rows if r["status"] == "NON_COMPLIANT"})
    resources = {r["resource_id"] for r in rows}
    lines = [
        f"wrote the audit pack to {out}: {counted(len(pack.files), 'file')}, open {out}/index.html",
        f"period {pack.manifest['period']['since']} to {pack.manifest['period']['until']}, "
        f"evaluated at {pack.manifest['evaluated_at']}",
        f"{counted(len(resources), 'resource')} evaluated against "
        f"{counted(len(pack.manifest['controls']), 'control')}; "
        f"{len(failing)} failed at least one",
    ]
    coverage = pack.results["coverage"].coverage
    lines += [f"coverage: {line}" for line in coverage_sentences(coverage)] if coverage else []
    if "unprotected" in pack.results:
        unprotected = len(pack.results["unprotected"].rows)
        lines.append(
            f"{counted(unprotected, 'resource')} unprotected in the inventory snapshot in force "
            "(unprotected.csv)"
        )
    lines += [f"note: {note}" for note in pack.manifest["notes"]]
    return "\n".join(lines)
