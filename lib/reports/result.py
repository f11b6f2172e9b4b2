"""What a report run gives back: rows, and what they were computed over."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from lib.reports.coverage import LakeCoverage
from lib.reports.declaration import ChartSpec
from lib.reports.parameters import Scope

# (project, snapshot ID, taken at) of the inventory snapshot a report judged by; IDs None: none
InForce = tuple[str, str | None, datetime | None]


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
    # the inventory judged by: per project with an inventory, its snapshot in force (ID and
    # time) or (None, None); empty when the report does not read the inventory
    snapshots: tuple[InForce, ...] = field(default=())
