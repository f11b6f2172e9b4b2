"""Pure: fetched or listed operation logs -> the data table of a write, through the batch path.

Every record carries its decoded log (so no text can make a row the log does not back) and, when
the body could be cut, its original text, which the batch path reads in C++ and keeps as
`raw_json`. A record that echoes a known secret takes the per-record path with every string
scrubbed, so no column and no `raw_json` keeps it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from lib.core.jsontext import decode_json, map_strings
from lib.core.runtime import Scrub, no_scrub
from lib.ingest.batch import BatchTable, Record, to_table


def record(
    log: dict[str, Any], text: bytes | None, source_message_id: str | None, scrub: Scrub
) -> Record:
    """A record of a log as received, or, when it holds a known secret, of its scrubbed copy."""
    if scrub is not no_scrub:
        seen = text.decode("utf-8", "replace") if text is not None else repr(log)
        if scrub(seen) != seen:
            return Record(map_strings(log, scrub), None, source_message_id)
    return Record(log, text, source_message_id)


def data_table(records: Sequence[Record], ingested_at: datetime) -> BatchTable:
    """The rows of the records, in order, with what building them noticed."""
    built = to_table(records, ingested_at=ingested_at, decode=decode_json)
    # Every record has its log, so none can be undecodable: the batch path says so otherwise.
    assert not built.undecodable, built.undecodable
    return built
