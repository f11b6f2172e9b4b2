"""Discovery's durable state: per project, how far the lake is complete, and who is working on it.

One small JSON document per project at `_state/discover/{project_id}.json` in the lake:
`{"watermark": ISO 8601 UTC, "lease": {"owner", "until"}, "updated_at"}`. Every change is a
compare-and-swap on the store (S3 conditional writes, a locked rename locally), so two runs can
never overwrite each other unseen; the watermark only ever moves forward.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from lib.core.errors import SinkError
from lib.core.ids import is_valid_id
from lib.core.times import format_utc, parse_utc
from lib.lake.storage import ObjectStore

STATE_PREFIX = "_state/discover/"


@dataclass(frozen=True)
class Lease:
    owner: str
    until: datetime


@dataclass(frozen=True)
class ProjectState:
    """The state of one project as read, with the store version a change must name."""

    watermark: datetime | None = None
    lease: Lease | None = None
    version: str | None = None  # None: no state written yet

    def held_by_other(self, owner: str, now: datetime) -> bool:
        return self.lease is not None and self.lease.owner != owner and self.lease.until > now

    def to_json(self, now: datetime) -> bytes:
        document: dict[str, Any] = {"updated_at": format_utc(now)}
        if self.watermark is not None:
            document["watermark"] = format_utc(self.watermark)
        if self.lease is not None:
            document["lease"] = {"owner": self.lease.owner, "until": format_utc(self.lease.until)}
        return json.dumps(document, sort_keys=True).encode()


class StateUnreadable(SinkError):
    """A state document exists but is not one this product wrote."""


def state_key(project_id: str) -> str:
    if not is_valid_id(project_id):
        raise ValueError(f"refusing state for project {project_id!r}")
    return f"{STATE_PREFIX}{project_id}.json"


class Watermarks:
    """Reads and changes the per-project state documents of one lake."""

    def __init__(self, store: ObjectStore) -> None:
        self.store = store

    def read(self, project_id: str) -> ProjectState:
        found = self.store.read_versioned(state_key(project_id))
        if found is None:
            return ProjectState()
        try:
            document = json.loads(found.data)
            watermark = document.get("watermark")
            lease = document.get("lease")
            return ProjectState(
                parse_utc(watermark) if watermark else None,
                Lease(str(lease["owner"]), parse_utc(lease["until"])) if lease else None,
                found.version,
            )
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise StateUnreadable(
                f"the discovery state {state_key(project_id)} cannot be read ({exc}): "
                "remove it to start again from DISCOVER_START"
            ) from None

    def swap(
        self, project_id: str, seen: ProjectState, new: ProjectState, now: datetime
    ) -> ProjectState | None:
        """Write `new` if the state is still `seen`; the state written, or None when another
        run changed it first. A watermark is never written below the one seen."""
        if seen.watermark is not None and (new.watermark is None or new.watermark < seen.watermark):
            new = replace(new, watermark=seen.watermark)
        version = self.store.put_if(state_key(project_id), new.to_json(now), seen.version)
        return None if version is None else replace(new, version=version)
