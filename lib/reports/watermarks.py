"""The discovery watermarks: how far each project's tasks are known to be in the lake.

Discovery keeps one JSON object per project at `_state/discover/{project_id}.json` in the lake,
holding `{"watermark": "<ISO 8601 UTC>"}` once a pass has finished a window: every task created
before it was listed and written. A state without one (a first pass still running) and a lake
without that folder have no watermark yet.
"""

from __future__ import annotations

import json
from datetime import datetime

from lib.core.errors import OplogLakeError
from lib.core.settings import LakeLocation
from lib.core.times import now_utc, parse_utc
from lib.ingest.watermark import StateUnreadable, check_not_future
from lib.lake.storage import open_store

STATE_PREFIX = "_state/discover/"


def read_watermarks(lake: LakeLocation) -> tuple[list[tuple[str, datetime | None]], list[str]]:
    """(project_id, watermark or None) pairs, and a note for each state that could not be read."""
    try:
        store = open_store(lake)
        keys = store.list(STATE_PREFIX)
    except (OplogLakeError, OSError) as exc:
        return [], [f"the discovery state could not be listed: {exc}"]
    marks: list[tuple[str, datetime | None]] = []
    notes: list[str] = []
    for key in sorted(keys):
        name = key.rsplit("/", 1)[-1]
        if not name.endswith(".json"):
            continue
        try:
            mark = json.loads(store.get(key)).get("watermark")
            moment = parse_utc(mark) if mark else None
            check_not_future(f"discovery state {key}", moment, now_utc())
            marks.append((name.removesuffix(".json"), moment))
        except StateUnreadable as exc:  # a watermark later than now: never read as complete
            notes.append(f"{exc}: skipped")
        except (OplogLakeError, OSError, ValueError, AttributeError, TypeError) as exc:
            notes.append(f"discovery state {key} is unreadable ({type(exc).__name__}): skipped")
    return marks, notes
