"""Numeric flags, checked one way for every command: a number, finite, inside its range.

Every numeric flag is declared with `type=Number(...)`. A value outside the rule raises
FlagError, which argparse lets through (it words only ValueError, TypeError and
ArgumentTypeError itself), so `lib.ops.cli.main` prints one line naming the flag and exits 2,
as it does for every other refused request: `--target-mb inf`, `--older-than-days 100000000`
or `--rpo-hours nan` never reach the code that would overflow or divide by zero.
"""

from __future__ import annotations

import argparse
import math
from dataclasses import dataclass

from lib.core.ids import ID_RULE, is_valid_id


class FlagError(Exception):
    """A flag's value that no command can run with; the message names the flag. Not a
    ValueError, so that argparse does not reword it as "invalid value"."""


@dataclass(frozen=True)
class Number:
    """The rule of one numeric flag, usable as its argparse `type`."""

    flag: str  # as typed: --target-mb
    minimum: float = 0.0
    maximum: float = 1e9
    integer: bool = False
    above_minimum: bool = False  # the minimum itself is refused (a size, a length of time)

    def __call__(self, text: str) -> float:
        value = self._number(text)
        finite = self.integer or math.isfinite(value)  # a huge int is no float: never convert it
        if finite and value > self.maximum:
            raise FlagError(f"{self.flag} must be at most {_plain(self.maximum)}, got {text}")
        low = value <= self.minimum if self.above_minimum else value < self.minimum
        if not finite or low:
            bound = "above" if self.above_minimum else "of at least"
            raise FlagError(
                f"{self.flag} must be {self._kind} {bound} {_plain(self.minimum)} and at most "
                f"{_plain(self.maximum)}, got {text}"
            )
        return int(value) if self.integer else value

    @property
    def _kind(self) -> str:
        return "a whole number" if self.integer else "a number"

    def _number(self, text: str) -> float:
        try:
            return int(text) if self.integer else float(text)
        except ValueError:
            raise FlagError(f"{self.flag} takes {self._kind}, got {text!r}") from None


def _plain(value: float) -> str:
    """24, 0.5, 0.01, 1000000: a bound as the user would write it."""
    return str(int(value)) if value == int(value) else f"{value:.4g}"


def project_option(parser: argparse.ArgumentParser) -> None:
    """`--project ID`, repeatable, each checked against the ID rule before anything runs."""
    parser.add_argument(
        "--project", action="append", default=[], type=_project_id, help="a project ID"
    )


def _project_id(text: str) -> str:
    if not is_valid_id(text):
        raise FlagError(f"--project must be {ID_RULE}, got {text!r}")
    return text
