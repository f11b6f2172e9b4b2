"""Hostile 200 answers from CBR: strange but valid JSON operation logs, by name.

Used by the handler test (one odd log must cost no message) and by the batch path's equivalence
test (the batch reader must give what the per-record path gives for each)."""

from __future__ import annotations

import json
from typing import Any

HOSTILE_LOG_ID = "hostile-log-1"


def answer(**fields: Any) -> str:
    """A 200 body for HOSTILE_LOG_ID (lone surrogates are sent as JSON escapes)."""
    return json.dumps({"operation_log": {"id": HOSTILE_LOG_ID, **fields}})


HOSTILE_ANSWERS: dict[str, str] = {
    "wrong-types": answer(status={"a": [1, "é"]}, extra_info={"common": {"progress": "55"}}),
    "lone-surrogates": answer(status="\ud800", vault_name="\udfff x"),
    "drift": answer(unknown={"deep": [[[[[[1e300, 2**64, "\ud800"]]]]]]}),
    "timestamp-before-year-1": answer(created_at="0001-01-01T00:00:00+01:00"),
    "4301-digit-count": answer(extra_info={"common": {"progress": "1" * 4301}}),
    "object-with-lone-surrogate": answer(status={"a": "\ud800"}),
}


def spliced_answer(where: str, value_text: str) -> str:
    """A 200 body with `value_text` spliced in as JSON text (json.dumps could not write it)."""
    if where == "progress":
        return answer(extra_info={"common": {"progress": "@@"}}).replace('"@@"', value_text)
    return answer(**{where: "@@"}).replace('"@@"', value_text)


def nested_answer(levels: int, where: str) -> str:
    return spliced_answer(where, "[" * levels + '{"k": 1e-400}' + "]" * levels)


# Nesting at and past what each JSON library handles (orjson: 1,024 levels to read, 254 to
# write; the standard library: about the interpreter's recursion limit; pyarrow's reader: some
# thousands), and numbers no float can hold.
HOSTILE_ANSWERS.update(
    {
        f"{where}-nested-{levels}": nested_answer(levels, where)
        for levels in (300, 1000, 1100, 5000, 100_000)
        for where in ("unknown", "status")
    }
)
HOSTILE_ANSWERS.update(
    {
        "1e400-unknown": spliced_answer("unknown", "1e400"),
        "1e400-string-column": spliced_answer("status", "-1e400"),
        "1e400-integer-column": spliced_answer("progress", "1e400"),
        "1e-400-unknown": spliced_answer("unknown", "1e-400"),
        "5000-digit-integer": spliced_answer("unknown", "9" * 5000),
        "5000-digit-progress": spliced_answer("progress", "9" * 5000),
    }
)
