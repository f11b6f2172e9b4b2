"""Which relations a report reads, and the parameters that brings with it.

Reports read `latest` and the relations of catalog.RELATIONS; a relation may read the ones
defined before it. Both engines get the same answer: DuckDB creates each relation as a table once
per session, the Athena generator inlines them as common table expressions.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import cache

from lib.core.schema import OPERATION_LOGS_SCHEMA
from lib.reports.catalog import (
    DATA_RELATIONS,
    RELATIONS,
    Query,
    all_controls,
    all_reports,
    referenced,
    static_relations,
)
from lib.reports.controls import composed_relations
from lib.reports.parameters import Request, Scope, scope_for, tokens_in


def relation_sql(controls: Sequence[str]) -> dict[str, str]:
    """Every relation a report may read, by name, in definition order."""
    sql = {name: query.sql for name, query in static_relations().items()}
    sql |= composed_relations(controls)
    return {name: sql[name] for name in RELATIONS}


def needed(sql: str, relations: dict[str, str]) -> list[str]:
    """The relations a query reads, directly or through other relations, in definition order;
    the data relations (lake tables besides operation_logs) come last."""
    names = RELATIONS + DATA_RELATIONS
    wanted = set(referenced(sql, names))
    for name in reversed(RELATIONS):  # a relation reads only relations defined before it
        if name in wanted:
            wanted |= set(referenced(relations[name], names))
    return [name for name in names if name in wanted]


def full_sql(report: Query, relations: dict[str, str]) -> str:
    """The report with every relation it reads: where its parameters are looked up."""
    parts = [relations[n] for n in needed(report.sql, relations) if n in relations]
    return "\n".join([*parts, report.sql])


def parameters_of(report: Query, relations: dict[str, str]) -> list[str]:
    return tokens_in(full_sql(report, relations))


def scope_of(report: Query, request: Request, relations: dict[str, str]) -> Scope:
    used = parameters_of(report, relations)
    return scope_for(request, report.window_days, used, report.defaults())


@cache
def columns_read() -> tuple[str, ...]:
    """The operation_logs columns any report, control or relation names: what a session keeps
    when it materialises `latest` (raw_json, the largest, is read by none)."""
    queries = [*all_reports().values(), *all_controls().values(), *static_relations().values()]
    text = "\n".join(query.sql for query in queries)
    return tuple(c for c in OPERATION_LOGS_SCHEMA.names if re.search(rf"\b{c}\b", text))
