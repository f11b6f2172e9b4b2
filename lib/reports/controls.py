"""Audit controls: the chosen controls composed into the relations the compliance reports read.

Each control is one .sql file in sql/controls that gives, for every resource the controls evaluate
(sql/relations/resources.sql), one row: control, resource, status (COMPLIANT, NON_COMPLIANT or
INSUFFICIENT_DATA), a one-line reason and the evidence task IDs. `resource_compliance` is their
union; `control_list` names the chosen controls and their parameters. DuckDB and Athena read the
same composed SQL.
"""

from __future__ import annotations

from collections.abc import Sequence

from lib.reports.catalog import CONTROL_ORDER, ReportError, all_controls

STATUSES = ("COMPLIANT", "NON_COMPLIANT", "INSUFFICIENT_DATA")


def choose(names: Sequence[str] | None) -> tuple[str, ...]:
    """The controls to evaluate, in their declared order; None means all of them."""
    if names is None:
        return CONTROL_ORDER
    wanted = [name.strip() for name in names if name.strip()]
    unknown = sorted(set(wanted) - set(CONTROL_ORDER))
    if unknown or not wanted:
        raise ReportError(
            f"unknown control(s) {', '.join(unknown) or '(none named)'}; "
            f"choose from: {', '.join(CONTROL_ORDER)}"
        )
    return tuple(name for name in CONTROL_ORDER if name in wanted)


def parameter_text(name: str) -> str:
    """A control's parameters as `name={token}` pairs, filled in when the SQL is rendered."""
    return ", ".join(f"{p}={{{p}}}" for p in all_controls()[name].parameters)


def control_list_sql(chosen: Sequence[str]) -> str:
    """One row per chosen control: position, name, title and parameters."""
    rows = ",\n    ".join(
        f"({position}, {_quote(name)}, {_quote(all_controls()[name].title)}, "
        f"{_quote(parameter_text(name))})"
        for position, name in enumerate(chosen, start=1)
    )
    return (
        f"SELECT * FROM (VALUES\n    {rows}\n) AS control_list (position, control, title, "
        "parameters)"
    )


def resource_compliance_sql(chosen: Sequence[str]) -> str:
    """Every chosen control's rows, with the control's position for ordering."""
    return "\nUNION ALL\n".join(
        f"SELECT {position} AS position, c{position}.*\nFROM (\n{all_controls()[name].sql}\n) "
        f"AS c{position}"
        for position, name in enumerate(chosen, start=1)
    )


def composed_relations(chosen: Sequence[str]) -> dict[str, str]:
    return {
        "control_list": control_list_sql(chosen),
        "resource_compliance": resource_compliance_sql(chosen),
    }


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"
