"""Progress of long operator commands: a tqdm bar on a terminal, periodic log lines elsewhere.

A backfill can run for hours; on a terminal the operator wants rate and ETA at a glance, and in a
CI job or a redirected log they want one readable line every so often, not carriage returns.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable
from typing import Any, TextIO

from lib.core.runtime import log_event

LOG_EVERY_S = 10.0


class Progress:
    """Counts done units against a total that may grow as it becomes known."""

    def __init__(
        self,
        label: str,
        *,
        unit: str = "task",
        total: int | None = None,
        stream: TextIO | None = None,
        every_s: float = LOG_EVERY_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.label = label
        self.unit = unit
        self.total = total
        self.done = 0
        self.every_s = every_s
        self._clock = clock
        self._started = self._last_log = clock()
        self._bar = _bar(label, unit, total, stream or sys.stderr)

    def add_total(self, more: int) -> None:
        self.total = (self.total or 0) + more
        if self._bar is not None:
            self._bar.total = self.total
            self._bar.refresh()

    def update(self, count: int, **status: Any) -> None:
        self.done += count
        if self._bar is not None:
            self._bar.update(count)
            if status:
                self._bar.set_postfix(status, refresh=False)
            return
        now = self._clock()
        if now - self._last_log >= self.every_s:
            self._last_log = now
            self._log("progress", **status)

    def close(self, **status: Any) -> None:
        if self._bar is not None:
            self._bar.close()
        self._log("finished", **status)

    def rate(self) -> float:
        elapsed = self._clock() - self._started
        return self.done / elapsed if elapsed > 0 else 0.0

    def eta_s(self) -> float | None:
        rate = self.rate()
        if self.total is None or rate <= 0:
            return None
        return max(0.0, (self.total - self.done) / rate)

    def _log(self, what: str, **status: Any) -> None:
        eta = self.eta_s()
        log_event(
            logging.INFO,
            f"{self.label} {what}",
            done=self.done,
            total=self.total,
            unit=self.unit,
            rate_per_s=round(self.rate(), 1),
            eta_s=None if eta is None or what == "finished" else round(eta),
            elapsed_s=round(self._clock() - self._started, 1),
            **status,
        )


def _bar(label: str, unit: str, total: int | None, stream: TextIO) -> Any:
    """A tqdm bar when writing to a terminal and tqdm is installed, else None."""
    if not (hasattr(stream, "isatty") and stream.isatty()):
        return None
    try:
        from tqdm import tqdm
    except ImportError:
        return None
    return tqdm(total=total, desc=label, unit=unit, file=stream, dynamic_ncols=True, smoothing=0.1)
