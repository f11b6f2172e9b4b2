"""Where the lake is proven complete, per project: the evidence behind every "complete".

Two kinds of evidence live in the lake's `_state/` folder:

- discovery's state, `_state/discover/{project_id}.json` (`lib.ingest.watermark`): every task
  created from `listed_from` up to the watermark (and in each `earlier_listed` span) was listed
  and durably written;
- verify's proofs, `_state/verify/{project_id}.json`: periods `verify` compared with the API's
  own list and found complete, merged where they overlap or touch, on one line:
  `{"proven": [{"from": ISO 8601 UTC, "to": ISO 8601 UTC, "proven_at": ISO 8601 UTC}, ...],
  "updated_at": ISO 8601 UTC}`. `proven_at` is when the oldest verification a merged span rests
  on ran. It is changed by compare-and-swap, like the watermark.

`project_coverage` (pure) turns both into the proven spans and, for a period, the parts of it that
nothing proves. `read_coverage` and `read_all_coverage` read the files through the ObjectStore.
Every span is half-open: from `start` (included) up to `end` (not included).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from lib.core.errors import OplogLakeError
from lib.core.ids import is_valid_id
from lib.core.times import format_utc, parse_utc
from lib.ingest.watermark import (
    STATE_PREFIX,
    ProjectState,
    Span,
    StateUnreadable,
    Watermarks,
    check_not_future,
    read_document,
)
from lib.lake.storage import ObjectStore

VERIFY_PREFIX = "_state/verify/"
SWAP_ATTEMPTS = 5
DISCOVERY, VERIFY = "discovery", "verify"


@dataclass(frozen=True)
class Proof:
    """A period verify found complete (tasks created from `start` up to `end`)."""

    start: datetime
    end: datetime
    proven_at: datetime


@dataclass(frozen=True)
class Proofs:
    """One project's verify proofs as read, with the store version a change must name."""

    proven: tuple[Proof, ...] = ()
    version: str | None = None
    unknown: Mapping[str, Any] = field(default_factory=dict)

    def adding(self, proof: Proof) -> Proofs:
        return replace(self, proven=merge_proofs((*self.proven, proof)))

    def to_json(self, now: datetime) -> bytes:
        document = {
            **self.unknown,
            "proven": [
                {
                    "from": format_utc(p.start),
                    "to": format_utc(p.end),
                    "proven_at": format_utc(p.proven_at),
                }
                for p in self.proven
            ],
            "updated_at": format_utc(now),
        }
        return json.dumps(document, sort_keys=True).encode()

    @classmethod
    def from_json(cls, data: bytes, version: str | None) -> Proofs:
        document = json.loads(data)
        if not isinstance(document, dict):
            raise TypeError("not a JSON object")
        proven = tuple(
            Proof(parse_utc(p["from"]), parse_utc(p["to"]), parse_utc(p["proven_at"]))
            for p in document.get("proven") or ()
        )
        unknown = {k: v for k, v in document.items() if k not in ("proven", "updated_at")}
        return cls(merge_proofs(proven), version, unknown)


def merge_proofs(proofs: Iterable[Proof]) -> tuple[Proof, ...]:
    """Proofs sorted, those that overlap or touch merged; a merged one keeps the earliest
    `proven_at` (the age of the oldest evidence inside it)."""
    merged: list[Proof] = []
    for proof in sorted(proofs, key=lambda p: (p.start, p.end)):
        if proof.start >= proof.end:
            continue
        if merged and proof.start <= merged[-1].end:
            last = merged[-1]
            merged[-1] = Proof(
                last.start, max(last.end, proof.end), min(last.proven_at, proof.proven_at)
            )
        else:
            merged.append(proof)
    return tuple(merged)


@dataclass(frozen=True)
class ProvenSpan:
    """A span the lake is proven complete in, and what proves it (`discovery`, `verify`)."""

    start: datetime
    end: datetime
    sources: tuple[str, ...]


@dataclass(frozen=True)
class Coverage:
    """A project's proven spans, and the parts of the period asked that nothing proves."""

    project_id: str
    proven: tuple[ProvenSpan, ...]
    not_proven: tuple[Span, ...] = ()

    @property
    def complete(self) -> bool:
        """Every part of the period asked is proven (vacuously true when none was asked)."""
        return not self.not_proven


def project_coverage(
    project_id: str,
    state: ProjectState | None,
    proofs: Proofs | None,
    period: tuple[datetime, datetime] | None = None,
) -> Coverage:
    """Pure: the spans discovery listed and verify proved, merged (sorted, disjoint), and for
    `period` = (start, end) the parts of it outside every one of them."""
    pieces = [(span.start, span.end, DISCOVERY) for span in (state.listed() if state else ())]
    pieces += [(p.start, p.end, VERIFY) for p in (proofs.proven if proofs else ())]
    proven: list[ProvenSpan] = []
    for start, end, source in sorted(pieces):
        if start >= end:
            continue
        if proven and start <= proven[-1].end:
            last = proven[-1]
            sources = tuple(sorted({*last.sources, source}))
            proven[-1] = ProvenSpan(last.start, max(last.end, end), sources)
        else:
            proven.append(ProvenSpan(start, end, (source,)))
    gaps = unproven(proven, *period) if period is not None else ()
    return Coverage(project_id, tuple(proven), gaps)


def unproven(
    proven: Iterable[ProvenSpan | Span], start: datetime, end: datetime
) -> tuple[Span, ...]:
    """Pure: the parts of [start, end) outside the given (sorted, disjoint) spans."""
    gaps: list[Span] = []
    cursor = start
    for span in sorted(proven, key=lambda s: s.start):
        if span.end <= cursor:
            continue
        if span.start >= end:
            break
        if span.start > cursor:
            gaps.append(Span(cursor, span.start))
        cursor = max(cursor, span.end)
    if cursor < end:
        gaps.append(Span(cursor, end))
    return tuple(gaps)


def verify_key(project_id: str) -> str:
    if not is_valid_id(project_id):
        raise ValueError(f"refusing state for project {project_id!r}")
    return f"{VERIFY_PREFIX}{project_id}.json"


class VerifyProofs:
    """Reads and extends the verify proofs of one lake."""

    def __init__(self, store: ObjectStore) -> None:
        self.store = store

    def read(self, project_id: str, now: datetime) -> Proofs:
        """The project's proofs (none when there is no file); StateUnreadable, naming the file,
        when it cannot be read or proves a time still to come."""
        key = verify_key(project_id)
        proofs = read_document(
            self.store,
            key,
            Proofs.from_json,
            f"the verify proofs {key} in {self.store.uri}",
            "remove it and run verify again for the periods it held",
        )
        if proofs is None:
            return Proofs()
        last = proofs.proven[-1].end if proofs.proven else None
        check_not_future(f"the verify proofs {key} in {self.store.uri}", last, now)
        return proofs

    def record(self, project_id: str, proof: Proof, now: datetime) -> Proofs:
        """Add a proof (merged with the others), by compare-and-swap, retried when another run
        wrote in between."""
        check_not_future(f"a proof for {verify_key(project_id)}", proof.end, now)
        for _ in range(SWAP_ATTEMPTS):
            seen = self.read(project_id, now)
            wanted = seen.adding(proof)
            version = self.store.put_if(verify_key(project_id), wanted.to_json(now), seen.version)
            if version is not None:
                return replace(wanted, version=version)
        raise StateUnreadable(
            f"{verify_key(project_id)} kept changing under {SWAP_ATTEMPTS} attempts to add a proof"
        )

    def projects(self) -> list[str]:
        return _projects(self.store, VERIFY_PREFIX)


def read_coverage(
    store: ObjectStore,
    project_id: str,
    now: datetime,
    period: tuple[datetime, datetime] | None = None,
) -> Coverage:
    """One project's coverage from its state files; StateUnreadable (a SinkError) names a file
    that cannot be read or that names a time later than now."""
    state = Watermarks(store).read(project_id, now)
    proofs = VerifyProofs(store).read(project_id, now)
    return project_coverage(project_id, state, proofs, period)


def read_all_coverage(
    store: ObjectStore, now: datetime, period: tuple[datetime, datetime] | None = None
) -> tuple[dict[str, Coverage], list[str]]:
    """The coverage of every project that has a state file, and one note per project whose
    files could not be read (that project proves nothing)."""
    projects = sorted({*_projects(store, STATE_PREFIX), *_projects(store, VERIFY_PREFIX)})
    found: dict[str, Coverage] = {}
    notes: list[str] = []
    for project_id in projects:
        try:
            found[project_id] = read_coverage(store, project_id, now, period)
        except (OplogLakeError, OSError) as exc:
            notes.append(str(exc))
            found[project_id] = project_coverage(project_id, None, None, period)
    return found, notes


def _projects(store: ObjectStore, prefix: str) -> list[str]:
    names = [key.rsplit("/", 1)[-1] for key in store.list(prefix)]
    return sorted(
        name.removesuffix(".json")
        for name in names
        if name.endswith(".json") and is_valid_id(name.removesuffix(".json"))
    )
