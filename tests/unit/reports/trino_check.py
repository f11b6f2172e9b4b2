"""A type check of Athena SQL against Trino's function signatures (trino_functions.py).

No Athena endpoint is reachable from the tests, so the generated queries are checked the way
Trino's analyser would refuse them: every column gets its type (from the Glue tables, through
CTEs, subqueries and UNNEST), every expression its type by Trino's rules, and every function call
must match a signature of the list. The SQL is parsed with sqlglot's Trino dialect with every
function read as a plain call, so the names and argument order checked are the ones Athena sees.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import sqlglot
from sqlglot import exp
from sqlglot.dialects.trino import Trino
from sqlglot.optimizer.scope import Scope, traverse_scope
from trino_functions import COERCIONS, NUMBERS, SIGNATURES

TZ = "timestamp with time zone"
TEMPORAL = ("date", "timestamp", TZ)
CALLS = (exp.Anonymous, exp.CurrentTimestamp, exp.GroupConcat, exp.Trim, exp.If, exp.ArgMax)
COMPARISONS = (exp.EQ, exp.NEQ, exp.GT, exp.GTE, exp.LT, exp.LTE, exp.NullSafeEQ)


class PlainCalls(Trino):
    """Trino's dialect with no function known by name: each call stays as written."""

    class Parser(Trino.Parser):
        FUNCTIONS: dict[str, Any] = {}


def base(type_: exp.DataType) -> str:
    """`decimal(18, 1)` -> decimal, `timestamp(3)` -> timestamp, as the signatures name them."""
    text = type_.sql(dialect="trino").lower()
    if text.startswith("array("):
        return text
    return text.split("(")[0].strip()


def fits(actual: str, wanted: str) -> bool:
    if actual == wanted:
        return True
    allowed = COERCIONS.get(actual, ())
    return "*" in allowed or wanted in allowed


def common(types: list[str]) -> str | None:
    """The type every one of `types` coerces to (Trino's common super type), if any."""
    known = [t for t in types if t != "unknown"] or ["unknown"]
    for candidate in known:
        if all(fits(t, candidate) for t in types):
            return candidate
    return None


def match(signature: tuple[str, ...], arguments: list[str]) -> dict[str, str] | None:
    """The type variables bound if the arguments fit the signature, else None."""
    if signature and signature[-1].endswith("..."):
        repeated = signature[-1].removesuffix("...")
        if len(arguments) < len(signature) - 1:
            return None
        signature = signature[:-1] + (repeated,) * (len(arguments) - len(signature) + 1)
    if len(signature) != len(arguments):
        return None
    bound: dict[str, list[str]] = {}
    for wanted, actual in zip(signature, arguments, strict=True):
        if wanted in ("T", "U"):
            bound.setdefault(wanted, []).append(actual)
        elif not fits(actual, wanted):
            return None
    unified = {name: common(types) for name, types in bound.items()}
    if any(t is None for t in unified.values()):
        return None
    return {name: t for name, t in unified.items() if t is not None}


@dataclass
class Checker:
    """Types of one query's expressions; `problems` lists what Trino would refuse."""

    schema: dict[str, dict[str, str]]
    problems: list[str] = field(default_factory=list)
    outputs: dict[int, dict[str, str]] = field(default_factory=dict)  # id(scope) -> columns
    scope_of: dict[int, Scope] = field(default_factory=dict)  # id(expression) -> scope

    def check(self, sql: str) -> list[str]:
        tree = sqlglot.parse_one(sql, dialect=PlainCalls)
        scopes = traverse_scope(tree)
        for scope in scopes:
            self.scope_of[id(scope.expression)] = scope
        for scope in scopes:  # inner scopes come first
            self.outputs[id(scope)] = self._outputs(scope)
        for node in tree.walk():
            if isinstance(node, (*CALLS, exp.Predicate)) and not isinstance(node.parent, exp.Case):
                self.type_of(node)
        return sorted(set(self.problems))

    def _outputs(self, scope: Scope) -> dict[str, str]:
        node = scope.expression
        if isinstance(node, exp.SetOperation):
            return self.outputs[id(self.scope_of[id(node.left)])]
        if isinstance(node, exp.Unnest):
            (array,) = node.expressions
            element = self.type_of(array).removeprefix("array(").removesuffix(")")
            alias = node.args["alias"]
            if element.startswith("row("):  # an array of rows: one column per field, in order
                fields = [f.split()[-1] for f in element[4:-1].split(",")]
                return {c.name: t for c, t in zip(alias.columns, fields, strict=True)}
            return {column.name: element for column in alias.columns}
        if isinstance(node, exp.Values):  # VALUES (...), (...) AS name (columns)
            rows = [[self.type_of(value) for value in row.expressions] for row in node.expressions]
            names = [column.name for column in node.args["alias"].columns]
            return {
                name: common([row[i] for row in rows]) or "unknown" for i, name in enumerate(names)
            }
        columns: dict[str, str] = {}
        for projection in node.selects:
            if isinstance(projection, exp.Star):
                columns |= self._star(scope, None)
            elif isinstance(projection, exp.Column) and isinstance(projection.this, exp.Star):
                columns |= self._star(scope, projection.table)
            else:
                columns[projection.alias_or_name] = self.type_of(projection)
        return columns

    def _star(self, scope: Scope, table: str | None) -> dict[str, str]:
        names = [table] if table else list(scope.selected_sources)
        columns: dict[str, str] = {}
        for name in names:
            columns |= self._source_columns(scope.sources[name])
        return columns

    def _source_columns(self, source: Any) -> dict[str, str]:
        if isinstance(source, Scope):
            return self.outputs[id(source)]
        return self.schema[source.name]

    def _enclosing(self, node: exp.Expression) -> Scope:
        parent = node.parent
        while parent is not None and id(parent) not in self.scope_of:
            parent = parent.parent
        assert parent is not None, node.sql()
        return self.scope_of[id(parent)]

    def _column(self, column: exp.Column) -> str:
        scope = self._enclosing(column)
        if isinstance(scope.expression, exp.Unnest):  # a lateral reference to the FROM before it
            scope = self._enclosing(scope.expression)
        if column.table:
            return self._source_columns(scope.sources[column.table])[column.name]
        for name in scope.selected_sources:
            columns = self._source_columns(scope.sources[name])
            if column.name in columns:
                return columns[column.name]
        for projection in scope.expression.selects:  # ORDER BY an output column
            if projection.alias_or_name == column.name and projection is not column:
                return self.type_of(projection.unalias())
        self.problems.append(f"no column {column.sql()} in scope")
        return "unknown"

    def type_of(self, node: exp.Expression) -> str:  # long because it is Trino's typing table
        if isinstance(node, exp.Alias | exp.Paren):
            return self.type_of(node.this)
        if isinstance(node, exp.Column):
            return self._column(node)
        if isinstance(node, exp.Null):
            return "unknown"
        if isinstance(node, exp.Boolean):
            return "boolean"
        if isinstance(node, exp.Literal):
            if node.is_string:
                return "varchar"
            return "decimal" if "." in node.this else "integer"
        if isinstance(node, exp.Interval):
            unit = node.unit.name.upper() if node.unit else "DAY"
            return (
                "interval year to month" if unit in ("YEAR", "MONTH") else "interval day to second"
            )
        if isinstance(node, exp.Cast):
            self.type_of(node.this)
            return base(node.to)
        if isinstance(node, COMPARISONS):
            self._comparable(node)
            return "boolean"
        if isinstance(node, exp.Predicate | exp.Connector | exp.Not):
            for child in node.iter_expressions():
                self.type_of(child)
            return "boolean"
        if isinstance(node, exp.Binary):
            return self._arithmetic(node)
        if isinstance(node, exp.Neg):
            return self.type_of(node.this)
        if isinstance(node, exp.Case):
            return self._case(node)
        if isinstance(node, exp.Window):
            for child in node.args.get("partition_by") or []:
                self.type_of(child)
            return self.type_of(node.this)
        if isinstance(node, exp.WithinGroup | exp.Ordered | exp.Order):
            return self.type_of(node.this)
        if isinstance(node, exp.Star):
            return "*"
        return self._call(node)

    def _comparable(self, node: exp.Binary) -> None:
        left, right = self.type_of(node.left), self.type_of(node.right)
        if common([left, right]) is None:
            self.problems.append(f"{node.sql(dialect='trino')}: cannot compare {left} with {right}")

    def _case(self, node: exp.Case) -> str:
        results = [self.type_of(branch.args["true"]) for branch in node.args["ifs"]]
        for branch in node.args["ifs"]:
            self.type_of(branch.this)
        if node.args.get("default") is not None:
            results.append(self.type_of(node.args["default"]))
        found = common(results)
        if found is None:
            self.problems.append(f"CASE branches of types {results} have no common type")
        return found or "unknown"

    def _arithmetic(self, node: exp.Binary) -> str:
        left, right = self.type_of(node.left), self.type_of(node.right)
        if isinstance(node, exp.DPipe):
            return "varchar"
        if left in TEMPORAL and right.startswith("interval"):
            return left
        if isinstance(node, exp.Sub) and left in TEMPORAL and right in TEMPORAL:
            return "interval day to second"
        if left in (*NUMBERS, "unknown") and right in (*NUMBERS, "unknown"):
            return common([left, right]) or "double"
        if "unknown" in (left, right):  # a problem already said where it came from
            return "unknown"
        self.problems.append(f"{node.sql(dialect='trino')}: no operator for {left}, {right}")
        return "unknown"

    def _call(self, node: exp.Expression) -> str:
        name, arguments = self._name_and_arguments(node)
        types = [self.type_of(argument) for argument in arguments]
        signatures = SIGNATURES.get(name)
        if signatures is None:
            self.problems.append(f"{name}: not a function of the list (trino_functions.py)")
            return "unknown"
        for parameters, returned in signatures:
            bound = match(parameters, types)
            if bound is not None:
                return bound.get(returned, returned)
        self.problems.append(f"{name}({', '.join(types)}): no Trino signature takes these")
        return "unknown"

    @staticmethod
    def _name_and_arguments(node: exp.Expression) -> tuple[str, list[exp.Expression]]:
        if isinstance(node, exp.Anonymous):
            return node.name.lower(), list(node.expressions)
        if isinstance(node, exp.CurrentTimestamp):
            return "current_timestamp", []
        if isinstance(node, exp.GroupConcat):  # LISTAGG(x, sep) WITHIN GROUP (...)
            return "listagg", [node.this, node.args["separator"]]
        if isinstance(node, exp.ArgMax):  # MAX_BY(x, y), read by name even so
            return "max_by", [node.this, node.expression]
        if isinstance(node, exp.Trim):
            return "trim", [node.this]
        if isinstance(node, exp.If):
            branches = [node.args.get("true"), node.args.get("false")]
            return "if", [node.this, *(b for b in branches if b is not None)]
        return type(node).__name__.lower(), list(node.iter_expressions())
