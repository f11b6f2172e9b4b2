"""Made-up operation logs with their own ids and times, shaped like the first sample."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from conftest import PROJECT, fixture_logs

TYPES = ("backup", "restore", "replication")


def stamp(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def make_log(n: int, created: datetime, **fields: Any) -> dict[str, Any]:
    """A realistic operation log with id `task-NNNN`, created at `created`."""
    template = next(iter(fixture_logs().values()))
    return {
        **template,
        "id": f"task-{n:04d}",
        "project_id": PROJECT,
        "operation_type": TYPES[n % 3],
        "status": "success" if n % 4 else "failed",
        "created_at": stamp(created),
        "started_at": stamp(created),
        "updated_at": stamp(created + timedelta(minutes=5)),
        **fields,
    }
