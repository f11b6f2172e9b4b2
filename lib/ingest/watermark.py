"""Discovery's durable state: per project, what was listed, how far, and who is working on it.

One small JSON document per project at `_state/discover/{project_id}.json` in the lake, on one
line (Athena reads it as a JSON line):

    {"watermark": ISO 8601 UTC,      every task created before it is in the lake
     "listed_from": ISO 8601 UTC,    where the listing that reached the watermark began
     "earlier_listed": [{"from", "to"}, ...],  spans listed before a gap (see below)
     "first_attempt_at": ISO 8601 UTC,         when a pass first worked on the project
     "last_run": {"started_at", "ended_at", "outcome", "error", "listed", "new_rows"},
     "lease": {"owner", "until"},    the pass working on it now, until when at most
     "updated_at": ISO 8601 UTC}

Every change is a compare-and-swap on the store (S3 conditional writes, a locked rename locally),
so two passes can never overwrite each other unseen; the watermark only ever moves forward and is
never later than now. A state that names a later watermark is refused, never used or rewritten.
Members this version does not know are kept as they are.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, TypeVar

from lib.core.errors import SinkError
from lib.core.ids import is_valid_id
from lib.core.times import CLOCK_ALLOWANCE, format_utc, parse_utc
from lib.lake.storage import ObjectStore

D = TypeVar("D")

STATE_PREFIX = "_state/discover/"


@dataclass(frozen=True)
class Lease:
    owner: str
    until: datetime


@dataclass(frozen=True)
class Span:
    """Tasks created from `start` up to (not including) `end`."""

    start: datetime
    end: datetime


@dataclass(frozen=True)
class LastRun:
    """How the last pass that held the project ended."""

    started_at: datetime
    ended_at: datetime
    outcome: str  # a ProjectRun's stopped_by
    error: str | None = None
    listed: int = 0
    new_rows: int = 0


@dataclass(frozen=True)
class ProjectState:
    """The state of one project as read, with the store version a change must name."""

    watermark: datetime | None = None
    listed_from: datetime | None = None
    earlier_listed: tuple[Span, ...] = ()
    lease: Lease | None = None
    first_attempt_at: datetime | None = None
    last_run: LastRun | None = None
    version: str | None = None  # None: no state written yet
    unknown: Mapping[str, Any] = field(default_factory=dict)  # kept as found

    def held_by_other(self, owner: str, now: datetime) -> bool:
        return self.lease is not None and self.lease.owner != owner and self.lease.until > now

    def listed(self) -> tuple[Span, ...]:
        """Every span discovery listed whole: the earlier ones, and the one up to the watermark."""
        start, end = self.listed_from, self.watermark
        if start is None or end is None or start >= end:
            return self.earlier_listed
        return (*self.earlier_listed, Span(start, end))

    def to_json(self, now: datetime) -> bytes:
        document: dict[str, Any] = {**self.unknown, "updated_at": format_utc(now)}
        for name in ("watermark", "listed_from", "first_attempt_at"):
            value = getattr(self, name)
            if value is not None:
                document[name] = format_utc(value)
        if self.earlier_listed:
            document["earlier_listed"] = [
                {"from": format_utc(span.start), "to": format_utc(span.end)}
                for span in self.earlier_listed
            ]
        if self.lease is not None:
            document["lease"] = {"owner": self.lease.owner, "until": format_utc(self.lease.until)}
        if self.last_run is not None:
            document["last_run"] = run_json(self.last_run)
        return json.dumps(document, sort_keys=True).encode()

    @classmethod
    def from_json(cls, data: bytes, version: str | None) -> ProjectState:
        """The state a document holds; ValueError, KeyError or TypeError when it is not one."""
        document = json.loads(data)
        if not isinstance(document, dict):
            raise TypeError("not a JSON object")
        lease, run = document.get("lease"), document.get("last_run")
        known = {"updated_at", "watermark", "listed_from", "first_attempt_at"}
        known |= {"earlier_listed", "lease", "last_run"}
        return cls(
            watermark=_moment(document.get("watermark")),
            listed_from=_moment(document.get("listed_from")),
            earlier_listed=tuple(
                Span(parse_utc(span["from"]), parse_utc(span["to"]))
                for span in document.get("earlier_listed") or ()
            ),
            lease=Lease(str(lease["owner"]), parse_utc(lease["until"])) if lease else None,
            first_attempt_at=_moment(document.get("first_attempt_at")),
            last_run=_run(run) if run else None,
            version=version,
            unknown={k: v for k, v in document.items() if k not in known},
        )


def _moment(value: Any) -> datetime | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise TypeError(f"{value!r} is not a time")
    return parse_utc(value)


def run_json(run: LastRun) -> dict[str, Any]:
    """A last run as the state file and `discover --status` write it."""
    return {
        "started_at": format_utc(run.started_at),
        "ended_at": format_utc(run.ended_at),
        "outcome": run.outcome,
        "error": run.error,
        "listed": run.listed,
        "new_rows": run.new_rows,
    }


def _run(document: Mapping[str, Any]) -> LastRun:
    return LastRun(
        parse_utc(document["started_at"]),
        parse_utc(document["ended_at"]),
        str(document["outcome"]),
        None if document.get("error") is None else str(document["error"]),
        int(document.get("listed") or 0),
        int(document.get("new_rows") or 0),
    )


class StateUnreadable(SinkError):
    """A state document exists but is not one this product wrote, or names a time to come."""


def state_key(project_id: str) -> str:
    if not is_valid_id(project_id):
        raise ValueError(f"refusing state for project {project_id!r}")
    return f"{STATE_PREFIX}{project_id}.json"


def check_not_future(what: str, moment: datetime | None, now: datetime) -> None:
    """Refuse a time that only a wrong clock or a hand-edited file can give."""
    if moment is not None and moment > now + CLOCK_ALLOWANCE:
        raise StateUnreadable(
            f"{what} names {format_utc(moment)}, later than now ({format_utc(now)}): refused, "
            "since it would call tasks still to come listed; correct or remove it"
        )


def read_document(
    store: ObjectStore,
    key: str,
    parse: Callable[[bytes, str | None], D],
    name: str,
    remedy: str,
) -> D | None:
    """A state document parsed with its store version (None when there is none);
    StateUnreadable, naming it and saying what to do, when it is not one this product wrote."""
    found = store.read_versioned(key)
    if found is None:
        return None
    try:
        return parse(found.data, found.version)
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise StateUnreadable(f"{name} cannot be read ({exc}): {remedy}") from None


class Watermarks:
    """Reads and changes the per-project state documents of one lake."""

    def __init__(self, store: ObjectStore) -> None:
        self.store = store

    def read(self, project_id: str, now: datetime) -> ProjectState:
        """The project's state (empty when there is none); StateUnreadable, naming the file,
        when it cannot be read or names a watermark later than now."""
        key = state_key(project_id)
        state = read_document(
            self.store,
            key,
            ProjectState.from_json,
            f"the discovery state {key} in {self.store.uri}",
            "remove it to start the project again from DISCOVER_START",
        )
        if state is None:
            return ProjectState()
        check_not_future(f"the discovery state {key} in {self.store.uri}", state.watermark, now)
        return state

    def swap(
        self, project_id: str, seen: ProjectState, new: ProjectState, now: datetime
    ) -> ProjectState | None:
        """Write `new` if the state is still `seen`; the state written, or None when another
        pass changed it first. A watermark is never written below the one seen, nor later than
        now."""
        if seen.watermark is not None and (new.watermark is None or new.watermark < seen.watermark):
            new = replace(new, watermark=seen.watermark)
        check_not_future(f"a new watermark for {state_key(project_id)}", new.watermark, now)
        version = self.store.put_if(state_key(project_id), new.to_json(now), seen.version)
        return None if version is None else replace(new, version=version)

    def projects(self) -> list[str]:
        """The projects that have a state document, sorted."""
        names = [key.rsplit("/", 1)[-1] for key in self.store.list(STATE_PREFIX)]
        return sorted(
            name.removesuffix(".json")
            for name in names
            if name.endswith(".json") and is_valid_id(name.removesuffix(".json"))
        )
