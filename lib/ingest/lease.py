"""A pass's hold on one project: a lease of a few minutes, renewed while the pass works.

The lease lives in the project's state document (`lib.ingest.watermark`). It is taken for
`LEASE_TERM`, renewed before a request once half of it has gone (and with every watermark
written), and released when the pass ends, however it ends. A pass that is killed leaves a lease
that expires within `LEASE_TERM`, so the next scheduled pass is never blocked for longer. A pass
whose lease another pass took over (it was paused past its term) stops at once, writing nothing
more.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from lib.ingest.watermark import LastRun, Lease, ProjectState, Watermarks

LEASE_TERM = timedelta(minutes=5)
RENEW_AFTER = LEASE_TERM / 2


class LeaseLost(Exception):
    """Another pass took the project over: this pass stops without writing."""


@dataclass
class Taken:
    """The result of trying to take a project: the hold, or the lease that stood in the way."""

    held: HeldProject | None
    state: ProjectState  # as read (or as written, when taken)
    holder: Lease | None = None


@dataclass
class HeldProject:
    """The project's state while this pass holds its lease; every change goes through here."""

    watermarks: Watermarks
    project_id: str
    owner: str
    state: ProjectState
    clock: Callable[[], datetime]
    renewed_at: datetime

    @classmethod
    def take(
        cls, watermarks: Watermarks, project_id: str, owner: str, clock: Callable[[], datetime]
    ) -> Taken:
        now = clock()
        state = watermarks.read(project_id, now)
        if state.held_by_other(owner, now):
            return Taken(None, state, state.lease)
        wanted = replace(
            state,
            lease=Lease(owner, now + LEASE_TERM),
            first_attempt_at=state.first_attempt_at or now,
        )
        written = watermarks.swap(project_id, state, wanted, now)
        if written is None:  # another pass took it between our read and our write
            again = watermarks.read(project_id, clock())
            return Taken(None, again, again.lease)
        return Taken(cls(watermarks, project_id, owner, written, clock, now), written)

    def renew_if_due(self) -> None:
        """Renew the lease once half its term has gone; LeaseLost if another pass took over."""
        if self.clock() - self.renewed_at >= RENEW_AFTER:
            self.change(self.state)

    def change(self, wanted: ProjectState) -> ProjectState:
        """Write `wanted` (with the lease renewed); LeaseLost if another pass took over."""
        now = self.clock()
        written = self.watermarks.swap(
            self.project_id,
            self.state,
            replace(wanted, lease=Lease(self.owner, now + LEASE_TERM)),
            now,
        )
        if written is None:
            raise LeaseLost(f"another pass took project {self.project_id} over")
        self.state, self.renewed_at = written, now
        return written

    def release(self, last_run: LastRun) -> bool:
        """Record how the pass ended and give the lease up; False when another pass had taken
        the project over (its state is left alone)."""
        written = self.watermarks.swap(
            self.project_id,
            self.state,
            replace(self.state, lease=None, last_run=last_run),
            self.clock(),
        )
        if written is None:
            return False
        self.state = written
        return True
