"""The Trino (Athena engine v3) functions the generated Athena queries may call, with the argument
types Trino accepts for each, as Trino's documentation gives them.

Each entry is one signature: the argument types, then the type returned. `T` and `U` stand for
any type (every argument marked `T` must share one), a trailing `...` for "as many more of the
last type as wanted". Types are Trino's names without precision: `timestamp` is a timestamp
without a time zone (what the Glue tables hold), `timestamp with time zone` what
current_timestamp and from_iso8601_timestamp give. A query calling a function that is not here,
or with argument types that no signature here accepts, fails the test: add the signature only
after checking it against Trino's documentation.
"""

from __future__ import annotations

NUMBERS = ("integer", "bigint", "decimal", "double")
INTERVAL = "interval day to second"

SIGNATURES: dict[str, list[tuple[tuple[str, ...], str]]] = {
    # aggregates and window functions
    "count": [(("*",), "bigint"), (("T",), "bigint")],
    "sum": [(("bigint",), "bigint"), (("decimal",), "decimal"), (("double",), "double")],
    "avg": [(("bigint",), "double"), (("decimal",), "decimal"), (("double",), "double")],
    "min": [(("T",), "T")],
    "max": [(("T",), "T")],
    "max_by": [(("T", "U"), "T")],
    "approx_percentile": [(("bigint", "double"), "bigint"), (("double", "double"), "double")],
    "listagg": [(("varchar", "varchar"), "varchar")],
    "row_number": [((), "bigint")],
    # conditional
    "coalesce": [(("T", "T..."), "T")],
    "if": [(("boolean", "T"), "T"), (("boolean", "T", "T"), "T")],
    "greatest": [(("T", "T..."), "T")],
    "least": [(("T", "T..."), "T")],
    "try": [(("T",), "T")],
    # mathematical
    "round": [
        (("integer", "integer"), "integer"),
        (("bigint", "integer"), "bigint"),
        (("decimal", "integer"), "decimal"),
        (("double", "integer"), "double"),
    ],
    # strings
    "concat": [(("varchar", "varchar..."), "varchar")],
    "concat_ws": [(("varchar", "varchar", "varchar..."), "varchar")],
    "substr": [(("varchar", "bigint"), "varchar"), (("varchar", "bigint", "bigint"), "varchar")],
    "trim": [(("varchar",), "varchar")],
    "regexp_extract": [
        (("varchar", "varchar"), "varchar"),
        (("varchar", "varchar", "bigint"), "varchar"),
    ],
    # dates and times
    "current_timestamp": [((), "timestamp with time zone")],
    "at_timezone": [(("timestamp with time zone", "varchar"), "timestamp with time zone")],
    "from_iso8601_timestamp": [(("varchar",), "timestamp with time zone")],
    "to_unixtime": [(("timestamp with time zone",), "double")],
    "date_trunc": [
        (("varchar", "date"), "date"),
        (("varchar", "timestamp"), "timestamp"),
        (("varchar", "timestamp with time zone"), "timestamp with time zone"),
    ],
    "date_diff": [
        (("varchar", "date", "date"), "bigint"),
        (("varchar", "timestamp", "timestamp"), "bigint"),
        (("varchar", "timestamp with time zone", "timestamp with time zone"), "bigint"),
    ],
    "date_format": [
        (("timestamp", "varchar"), "varchar"),
        (("timestamp with time zone", "varchar"), "varchar"),
    ],
    # maps: element_at gives NULL for a key the map lacks (the subscript fails)
    "element_at": [(("map(varchar, varchar)", "varchar"), "varchar")],
    # arrays: no sequence over timestamps with a time zone (Trino has none)
    "array_join": [(("array(varchar)", "varchar"), "varchar")],
    "sequence": [
        (("bigint", "bigint"), "array(bigint)"),
        (("bigint", "bigint", "bigint"), "array(bigint)"),
        (("date", "date", INTERVAL), "array(date)"),
        (("timestamp", "timestamp", INTERVAL), "array(timestamp)"),
    ],
}

# Implicit coercions Trino applies to an argument (a type also fits itself). A timestamp with a
# time zone does not become a plain timestamp.
COERCIONS: dict[str, tuple[str, ...]] = {
    "unknown": ("*",),  # NULL fits anything
    "integer": ("bigint", "decimal", "double"),
    "bigint": ("decimal", "double"),
    "decimal": ("double",),
    "date": ("timestamp", "timestamp with time zone"),
    "timestamp": ("timestamp with time zone",),
}
