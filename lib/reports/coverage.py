"""What a report can vouch for: where in its period the lake is proven complete, per project.

The evidence is in the lake's `_state/` folder (lib.ingest.coverage reads and merges it): the
spans discovery listed whole (from `listed_from` to the watermark, and each earlier span) and
the periods `verify` proved. Anything else in a period is not proven, whatever the lake holds:

- NOT_LISTED: nothing proves it and discovery has moved past it (before its listing began, a
  gap, or a project with no state at all);
- NOT_YET_LISTED: after discovery's watermark. When the watermark is current (at most CURRENT
  old) discovery is still listing it: that is not a gap, and the words say so.

A state file that cannot be read (corrupt, or naming a time later than now) proves nothing for
its project and is named in a note. The state is read once per run (`read_lake_state`); the
coverage of each period is computed from it (`LakeState.over`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from lib.core.errors import OplogLakeError
from lib.core.settings import LakeLocation
from lib.ingest.coverage import (
    DISCOVERY,
    VERIFY,
    Proofs,
    ProvenSpan,
    VerifyProofs,
    project_coverage,
)
from lib.ingest.watermark import ProjectState, Span, Watermarks
from lib.lake.storage import open_store

LAKE_START = datetime(1, 1, 1, tzinfo=UTC)  # a period without a start: from the lake's first task
CURRENT = timedelta(
    hours=1
)  # DiscoveryLagAlarmSeconds' default: a watermark this recent is current
NOT_LISTED, NOT_YET_LISTED = "not listed", "not yet listed"
STATED, NO_STATE, UNREADABLE = "stated", "none", "unreadable"


@dataclass(frozen=True)
class Evidence:
    """One project's state files as read: None where a file is absent or could not be read."""

    project_id: str
    state: ProjectState | None
    proofs: Proofs | None
    readable: bool = True


@dataclass(frozen=True)
class Gap:
    """A part of the period that nothing proves complete, and why."""

    start: datetime
    end: datetime
    reason: str  # NOT_LISTED or NOT_YET_LISTED


@dataclass(frozen=True)
class ProjectCoverage:
    """One project over one period: the proven spans (cut to the period) and the gaps."""

    project_id: str
    status: str  # STATED, NO_STATE (tasks in the lake, no state file) or UNREADABLE
    proven: tuple[ProvenSpan, ...]
    gaps: tuple[Gap, ...]
    watermark: datetime | None = None
    continues: bool = False  # the watermark is current: discovery is listing what follows it
    proven_from: datetime | None = None  # where the earliest proven span begins, in any period

    @property
    def complete(self) -> bool:
        return self.status == STATED and not self.gaps

    @property
    def sources(self) -> tuple[str, ...]:
        return tuple(sorted({source for span in self.proven for source in span.sources}))


@dataclass(frozen=True)
class LakeCoverage:
    """Every project's coverage of one period [start, end); start None: from the lake's start."""

    start: datetime | None
    end: datetime
    now: datetime
    projects: tuple[ProjectCoverage, ...]
    notes: tuple[str, ...] = ()

    @property
    def complete(self) -> bool:
        return bool(self.projects) and all(p.complete for p in self.projects)

    @property
    def period(self) -> tuple[datetime, datetime]:
        return (self.start or LAKE_START, self.end)


@dataclass(frozen=True)
class LakeState:
    """The lake's discovery and verify state, per project, as read at `now`."""

    now: datetime
    projects: tuple[Evidence, ...] = ()
    notes: tuple[str, ...] = ()

    def spans(self) -> list[tuple[str, str, datetime, datetime]]:
        """(project, source, start, end) of every span proven, unmerged, naive UTC: the
        `proof_spans` relation the coverage report reads."""
        rows = []
        for evidence in self.projects:
            listed = evidence.state.listed() if evidence.state else ()
            proofs = evidence.proofs.proven if evidence.proofs else ()
            pieces = [(DISCOVERY, s.start, s.end) for s in listed]
            pieces += [(VERIFY, p.start, p.end) for p in proofs]
            rows += [(evidence.project_id, source, _naive(a), _naive(b)) for source, a, b in pieces]
        return rows

    def watermarks(self) -> list[tuple[str, datetime | None]]:
        """(project, watermark) of every project whose state could be read."""
        return [
            (e.project_id, e.state.watermark if e.state else None)
            for e in self.projects
            if e.readable
        ]

    def over(self, start: datetime | None, end: datetime, seen: Iterable[str]) -> LakeCoverage:
        """The coverage of [start, end) for every project with state and every project `seen`
        (holding tasks in the period) without any."""
        end = max(end, start or end)  # a period that has not begun is empty, not reversed
        known = {e.project_id for e in self.projects}
        covered = [project_over(e, start or LAKE_START, end, self.now) for e in self.projects]
        covered += [
            ProjectCoverage(p, NO_STATE, (), _gaps([Span(start or LAKE_START, end)], None))
            for p in sorted(set(seen) - known)
        ]
        covered.sort(key=lambda p: p.project_id)
        return LakeCoverage(start, end, self.now, tuple(covered), self.notes)


def project_over(
    evidence: Evidence, start: datetime, end: datetime, now: datetime
) -> ProjectCoverage:
    """Pure: one project's proven spans and gaps within [start, end)."""
    if not evidence.readable:
        gaps = _gaps([Span(start, end)], None)
        return ProjectCoverage(evidence.project_id, UNREADABLE, (), gaps)
    whole = project_coverage(evidence.project_id, evidence.state, evidence.proofs, (start, end))
    inside = tuple(
        ProvenSpan(max(span.start, start), min(span.end, end), span.sources)
        for span in whole.proven
        if span.start < end and span.end > start
    )
    watermark = evidence.state.watermark if evidence.state else None
    return ProjectCoverage(
        evidence.project_id,
        STATED,
        inside,
        _gaps(whole.not_proven, watermark),
        watermark,
        continues=watermark is not None and now - watermark <= CURRENT,
        proven_from=whole.proven[0].start if whole.proven else None,
    )


def _gaps(not_proven: Iterable[Span], watermark: datetime | None) -> tuple[Gap, ...]:
    """The unproven spans cut at the watermark: before it not listed, after it not yet listed."""
    gaps: list[Gap] = []
    for span in not_proven:
        if span.start >= span.end:
            continue
        if watermark is None or watermark <= span.start:
            reason = NOT_LISTED if watermark is None else NOT_YET_LISTED
            gaps.append(Gap(span.start, span.end, reason))
        elif watermark >= span.end:
            gaps.append(Gap(span.start, span.end, NOT_LISTED))
        else:
            gaps += [
                Gap(span.start, watermark, NOT_LISTED),
                Gap(watermark, span.end, NOT_YET_LISTED),
            ]
    return tuple(gaps)


def read_lake_state(lake: LakeLocation, now: datetime) -> LakeState:
    """Every project's discovery state and verify proofs; a note for each file that cannot be
    read (its project then proves nothing) or when the state cannot be listed at all."""
    try:
        store = open_store(lake)
        watermarks, proofs = Watermarks(store), VerifyProofs(store)
        projects = sorted({*watermarks.projects(), *proofs.projects()})
    except (OplogLakeError, OSError) as exc:
        return LakeState(now, (), (f"the discovery and verify state could not be listed: {exc}",))
    found: list[Evidence] = []
    notes: list[str] = []
    for project_id in projects:
        try:
            state = watermarks.read(project_id, now)
            found.append(Evidence(project_id, state, proofs.read(project_id, now)))
        except (OplogLakeError, OSError) as exc:
            notes.append(f"{exc}; nothing is claimed complete for project {project_id}")
            found.append(Evidence(project_id, None, None, readable=False))
    return LakeState(now, tuple(found), tuple(notes))


def _naive(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(tzinfo=None)
