"""Expressions the SQL files share, written once and expanded before either engine sees the SQL.

A SQL file calls a macro like a function: `round_half_up(age_hours, 1)`, `age_text(age_hours)`.
The call is replaced by the macro's body with its arguments filled in, so DuckDB and Athena run
the same expression and give the same answer:

round_half_up(value, digits)  rounds the decimal value half away from zero (0.35 -> 0.4 on both
                              engines; rounding the binary double gives 0.3 in DuckDB, 0.4 in
                              Trino), and gives a DOUBLE back.
age_text(hours)               an age or a duration as people read it in a reason: hours up to
                              48 h, then days up to 28 days, weeks up to a year, then years,
                              one decimal: "36.5 h", "3.2 days", "4.6 weeks", "7.5 years".
"""

from __future__ import annotations

import re

HOURS_PER_YEAR = 8766  # 365.25 days
_DECIMAL = "CAST(({value}) AS DECIMAL(38, 9))"  # exact enough for any age, duration or share
_ONE_DECIMAL = (
    "CAST(CAST(ROUND(CAST(({value}) AS DECIMAL(38, 9)), 1) AS DECIMAL(18, 1)) AS VARCHAR)"
)
MACROS: dict[str, tuple[tuple[str, ...], str]] = {
    "round_half_up": (
        ("value", "digits"),
        f"CAST(ROUND({_DECIMAL}, {{digits}}) AS DOUBLE)",
    ),
    "age_text": (
        ("hours",),
        "CASE"
        " WHEN ({hours}) <= 48 THEN " + _ONE_DECIMAL.format(value="{hours}") + " || ' h'"
        " WHEN ({hours}) <= 672 THEN " + _ONE_DECIMAL.format(value="({hours}) / 24") + " || ' days'"
        " WHEN ({hours}) <= 8760 THEN "
        + _ONE_DECIMAL.format(value="({hours}) / 168")
        + " || ' weeks'"
        f" ELSE {_ONE_DECIMAL.format(value=f'({{hours}}) / {HOURS_PER_YEAR}')} || ' years'"
        " END",
    ),
}
_CALL = re.compile(r"\b(" + "|".join(MACROS) + r")\s*\(")


def expand(sql: str) -> str:
    """The SQL with every macro call replaced by its body (calls may nest)."""
    while match := _CALL.search(sql):
        arguments, end = _arguments(sql, match.end())
        names, body = MACROS[match[1]]
        if len(arguments) != len(names):
            raise ValueError(f"{match[1]} takes {len(names)} argument(s), got {len(arguments)}")
        filled = body.format(**dict(zip(names, arguments, strict=True)))
        sql = sql[: match.start()] + filled + sql[end:]
    return sql


def _arguments(sql: str, start: int) -> tuple[list[str], int]:
    """The comma-separated arguments from `start` (just after the opening parenthesis) to the
    matching closing one, and the index after it; quotes and nested parentheses respected."""
    arguments, depth, quoted, piece_start = [], 0, False, start
    for index in range(start, len(sql)):
        char = sql[index]
        if char == "'":
            quoted = not quoted
        elif quoted:
            continue
        elif char == "(":
            depth += 1
        elif char == ")" and depth:
            depth -= 1
        elif char == ")" or (char == "," and not depth):
            arguments.append(sql[piece_start:index].strip())
            piece_start = index + 1
            if char == ")":
                return arguments, index + 1
    raise ValueError("a macro call is not closed")
