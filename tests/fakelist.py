"""The fake's ListOpLogs (`GET /v3/{project_id}/operation-logs`), tidy or as unkind as a real one.

A tidy answer lists the project's logs created in [start_time, end_time] (both included), filtered,
newest first (ties by id), cut by `offset` and `limit`, with the query's `count`. A `ListMode`
makes it behave like gateways and databases do that the documentation does not rule out: pages
cut short by a silent cap, a count that is wrong or missing, an order that changes between
requests, the same task on two pages, an ignored offset, members nobody asked for, tasks that
leave by retention while a window is read, and logs from outside the asked window.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

LIST_FILTERS = ("operation_type", "status", "provider_id", "vault_id", "vault_name")
LIST_MAX_LIMIT = 1000
QUERY_TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
BAD_PARAMETER = "BackupService.9900"
COUNTS = ("exact", "missing", "high", "low", "page")
ORDERS = ("stable", "shuffled")

Log = dict[str, Any]


@dataclass
class ListMode:
    """How ListOpLogs misbehaves; every default is the tidy API."""

    cap: int | None = None
    """Serve at most this many logs a page whatever `limit` asks (the answer echoes `limit`)."""
    count: str = "exact"
    """`exact`; `missing` (no member); `high` (3 more); `low` (2 fewer); `page` (the page's
    length)."""
    order: str = "stable"
    """`stable`: newest first, ties by id. `shuffled`: newest first by whole second, the tasks of
    one second in a new random order on every request."""
    repeat_every: int | None = None
    """Every this-many-th task is listed twice in a row (counted once): on a page boundary it is
    on two pages, and nothing else moves."""
    ignore_offset: bool = False
    """Every page is the first page."""
    extra_members: bool = False
    """Members beside the list (an object before it, scalars after) and inside every log."""
    leave_after: int | None = None
    """From this list request on (1 is the first), the `leaving` oldest tasks are gone."""
    leaving: int = 0
    outside: timedelta = timedelta(0)
    """The asked window widened by this much at each end (counted too)."""
    seed: int = 0


def parse_list_query(params: dict[str, str]) -> tuple[int, int, datetime | None, datetime | None]:
    """(limit, offset, start, end) of a query; ValueError says what is wrong."""
    limit = int(params.get("limit", LIST_MAX_LIMIT))
    offset = int(params.get("offset", 0))
    since, until = (query_time(params.get(name)) for name in ("start_time", "end_time"))
    if not 1 <= limit <= LIST_MAX_LIMIT or offset < 0:
        raise ValueError("limit or offset invalid")
    return limit, offset, since, until


@dataclass
class ListServer:
    """Answers list requests from the stored logs under the current mode."""

    mode: ListMode = field(default_factory=ListMode)
    gone: set[str] = field(default_factory=set)  # ids that left by retention
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def answer(
        self, project_id: str, params: dict[str, str], stored: Iterable[Log], number: int
    ) -> tuple[int, dict[str, Any]]:
        """(status, body) of the `number`-th list request."""
        try:
            limit, offset, since, until = parse_list_query(params)
        except ValueError as exc:
            return 400, {"error_code": BAD_PARAMETER, "error_msg": str(exc)}
        mode = self.mode
        logs = [log for log in stored if log.get("project_id") in (None, project_id)]
        self._retire(logs, number)
        widen = mode.outside
        selected = [
            log
            for log in logs
            if str(log.get("id")) not in self.gone
            and created_within(log, since and since - widen, until and until + widen)
            and all(log.get(name) == params[name] for name in LIST_FILTERS if name in params)
        ]
        ordered = self._order(selected, number)
        start = 0 if mode.ignore_offset else offset
        served = ordered[start : start + min(limit, mode.cap or limit)]
        return 200, self._body(served, len(selected), limit, offset)

    def _retire(self, logs: list[Log], number: int) -> None:
        mode = self.mode
        if mode.leave_after is None or number < mode.leave_after or not mode.leaving:
            return
        with self._lock:
            if len(self.gone) >= mode.leaving:
                return
            oldest = sorted(logs, key=lambda log: (str(log.get("created_at")), str(log.get("id"))))
            self.gone.update(str(log.get("id")) for log in oldest[: mode.leaving])

    def _order(self, logs: list[Log], number: int) -> list[Log]:
        mode = self.mode
        if mode.order == "shuffled":
            rng = random.Random(mode.seed * 1_000_003 + number)
            keyed = [(whole_second(log), rng.random(), log) for log in logs]
            keyed.sort(key=lambda item: (item[0], item[1]), reverse=True)
            ordered = [log for *_, log in keyed]
        else:
            ordered = sorted(
                logs, key=lambda log: (str(log.get("created_at")), str(log.get("id"))), reverse=True
            )
        if mode.repeat_every:
            ordered = [
                copy
                for n, log in enumerate(ordered, start=1)
                for copy in ([log, log] if n % mode.repeat_every == 0 else [log])
            ]
        return ordered

    def _body(self, served: list[Log], total: int, limit: int, offset: int) -> dict[str, Any]:
        mode = self.mode
        if mode.extra_members:
            served = [{**log, "x_gateway_trace": {"hop": 1, "tags": ["a", "b"]}} for log in served]
        body: dict[str, Any] = {}
        if mode.extra_members:
            body["links"] = {"self": "/v3/operation-logs", "next": None}
        body["operation_logs"] = served
        counts: dict[str, Callable[[], int]] = {
            "exact": lambda: total,
            "high": lambda: total + 3,
            "low": lambda: max(0, total - 2),
            "page": lambda: len(served),
        }
        if mode.count != "missing":
            body["count"] = counts[mode.count]()
        body.update(limit=limit, offset=offset)
        if mode.extra_members:
            body["request_id"] = "req-1"
        return body


def query_time(value: str | None) -> datetime | None:
    if value is None:
        return None
    return datetime.strptime(value, QUERY_TIME_FORMAT).replace(tzinfo=UTC)


def created(log: Log) -> datetime | None:
    try:
        moment = datetime.fromisoformat(str(log.get("created_at")).replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def whole_second(log: Log) -> str:
    moment = created(log)
    return moment.replace(microsecond=0).isoformat() if moment else ""


def created_within(log: Log, since: datetime | None, until: datetime | None) -> bool:
    moment = created(log)
    if moment is None:
        return since is None and until is None
    return (since is None or moment >= since) and (until is None or moment <= until)
