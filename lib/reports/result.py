"""What a report run gives back: rows, and what they were computed over."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from lib.reports.coverage import LakeCoverage
from lib.reports.declaration import ChartSpec
from lib.reports.parameters import Scope


@dataclass(frozen=True)
class ReportResult:
    name: str  # e.g. "daily", "controls"
    title: str  # one-line human title
    description: str  # one sentence, parameters already filled in
    columns: list[str]
    rows: list[dict[str, Any]]  # str, int, float, bool, None, datetime (tz-aware UTC), date
    scope: Scope | None = None  # None: rows made up outside a lake (tests, previews)
    chart: ChartSpec | None = None
    notes: tuple[str, ...] = field(default=())  # things the reader must know (unreadable state)
    coverage: LakeCoverage | None = None  # where the period is proven complete, per project
