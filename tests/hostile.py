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
