"""Which relations a report reads, and the parameters that brings with it.

Reports read `latest` and the relations of catalog.RELATIONS; a relation may read the ones
defined before it. Two relations are composed from the chosen controls: `resource_compliance`, the
union of their rows, and `control_list`, their names and parameters. Both engines get the same
answer: DuckDB creates each relation as a table once per session, the Athena generator inlines
them as common table expressions.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import cache

from lib.core.schema import DATA_TABLE, OPERATION_LOGS_SCHEMA
from lib.reports.catalog import ORDERED_RELATIONS, RELATIONS, all_reports, static_relations
from lib.reports.controls import all_controls
from lib.reports.declaration import Query
from lib.reports.parameters import Request, Scope, scope_for, tokens_in


def relation_sql(controls: Sequence[str]) -> dict[str, str]:
    """Every relation a report may read, by name, in definition order."""
    sql = {name: query.sql for name, query in static_relations().items()}
    sql |= composed_relations(controls)
    return {name: sql[name] for name in RELATIONS}


def referenced(sql: str, names: tuple[str, ...]) -> list[str]:
    """Which of `names` a query reads (as a table), in the order given; comments and string
    literals are ignored so a reason text that says "resources" is not a reference."""
    code = re.sub(r"--[^\n]*|'(?:[^']|'')*'", " ", sql)
    words = set(re.findall(r"\b(?:FROM|JOIN)\s+([a-z_]+)", code, flags=re.IGNORECASE))
    return [name for name in names if name in words]


def needed(sql: str, relations: dict[str, str]) -> list[str]:
    """The relations a query reads, directly or through other relations, in definition order
    (catalog.ORDERED_RELATIONS: the data relations, read from the lake, among them)."""
    names = ORDERED_RELATIONS
    wanted = set(referenced(sql, names))
    for name in reversed(names):  # a relation reads only relations defined before it
        if name in wanted and name in relations:
            wanted |= set(referenced(relations[name], names))
    return [name for name in names if name in wanted]


def reads_logs(report: Query, relations: dict[str, str]) -> bool:
    """Whether the report reads the operation logs, itself or through a relation."""
    texts = [report.sql, *(relations[n] for n in needed(report.sql, relations) if n in relations)]
    return any(referenced(text, ("latest", DATA_TABLE)) for text in texts)


def full_sql(report: Query, relations: dict[str, str]) -> str:
    """The report with every relation it reads: where its parameters are looked up."""
    parts = [relations[n] for n in needed(report.sql, relations) if n in relations]
    return "\n".join([*parts, report.sql])


def parameters_of(report: Query, relations: dict[str, str]) -> list[str]:
    return tokens_in(full_sql(report, relations))


def scope_of(report: Query, request: Request, relations: dict[str, str]) -> Scope:
    used = parameters_of(report, relations)
    return scope_for(request, report.window_days, used, report.defaults)


@cache
def columns_read() -> tuple[str, ...]:
    """The operation_logs columns any report, control or relation names: what a session keeps
    when it materialises `latest` (raw_json, the largest, is read by none)."""
    queries = [*all_reports().values(), *all_controls().values(), *static_relations().values()]
    text = "\n".join(query.sql for query in queries)
    return tuple(c for c in OPERATION_LOGS_SCHEMA.names if re.search(rf"\b{c}\b", text))


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
