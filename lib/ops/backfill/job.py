"""What a list backfill lists: one project, a window, optional filters, cut into slices."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from lib.core.ids import ID_PATTERN, ID_RULE
from lib.ingest.listing import LIST_FILTERS, MAX_PAGE_SIZE


@dataclass(frozen=True)
class ListJob:
    """Which tasks to list. `until` None means "now", resolved once when the backfill starts and
    kept in its checkpoint, so the same command resumes the same window."""

    project_id: str
    since: datetime
    until: datetime | None = None
    filters: Mapping[str, str] = field(default_factory=dict)
    page_size: int = MAX_PAGE_SIZE
    slice_width: timedelta = timedelta(days=1)

    def __post_init__(self) -> None:
        if not ID_PATTERN.fullmatch(self.project_id):
            raise ValueError(f"the project ID must be {ID_RULE}")
        if self.until is not None and self.since >= self.until:
            raise ValueError("the window's start must be earlier than its end")
        if not 1 <= self.page_size <= MAX_PAGE_SIZE:
            raise ValueError(f"the page size must be from 1 to {MAX_PAGE_SIZE}")
        if self.slice_width < timedelta(minutes=1):
            raise ValueError("a slice must be at least one minute long")
        unknown = set(self.filters) - set(LIST_FILTERS)
        if unknown:
            raise ValueError(f"unknown filter {sorted(unknown)[0]!r}")

    def slices(self, until: datetime) -> list[tuple[datetime, datetime]]:
        """[start, end) pieces of the window up to `until`, in order."""
        if self.since >= until:
            raise ValueError("the window's start must be earlier than its end")
        pieces = []
        start = self.since
        while start < until:
            end = min(start + self.slice_width, until)
            pieces.append((start, end))
            start = end
        return pieces

    def key(self) -> str:
        """Names the job in its checkpoint: the same command line resumes the same job."""
        return digest(
            {
                "project": self.project_id,
                "since": self.since.isoformat(),
                "until": self.until.isoformat() if self.until else "now",
                "filters": dict(sorted(self.filters.items())),
                "slice_s": self.slice_width.total_seconds(),
            }
        )


def digest(document: Any) -> str:
    return hashlib.sha256(json.dumps(document, sort_keys=True).encode()).hexdigest()[:16]
