"""Reading environment variables exactly: the helpers `lib.core.settings` parses them with.

An empty value is unset. Any other value must be exactly what was meant: a stray space, newline or
control character is refused with one sentence naming the variable, never trimmed away.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from lib.core.errors import ConfigError
from lib.core.ids import ID_PATTERN, ID_RULE
from lib.core.times import parse_day_or_moment

TRUE_WORDS = ("true", "1", "yes", "on")
FALSE_WORDS = ("false", "0", "no", "off")


class Environ:
    """The environment as the settings read it."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self._env = env

    def get(self, name: str) -> str | None:
        value = self._env.get(name, "")
        if not value:
            return None
        if not is_exact(value):
            raise ConfigError(
                f"{name} has a leading or trailing space, a newline or another control "
                "character: remove it (values are used exactly as given)."
            )
        return value

    def number(
        self, name: str, default: Any, kind: Callable[[str], int | float], low: float, high: float
    ) -> Any:
        raw = self.get(name)
        if raw is None:
            return default
        try:
            value: float | None = kind(raw)
        except ValueError:
            value = None
        if value is None or not low <= value <= high:
            raise ConfigError(
                f"{name} must be a number from {show(low)} to {show(high)}, got {raw!r}."
            )
        return value

    def id_list(self, name: str) -> tuple[str, ...]:
        """A comma-separated list of project IDs, each checked like one ID (no spaces)."""
        value = self.get(name)
        if value is None:
            return ()
        items = value.split(",")
        bad = [item for item in items if not ID_PATTERN.fullmatch(item)]
        if bad:
            raise ConfigError(
                f"{name} must be IDs of {ID_RULE} separated by commas, got {bad[0]!r}."
            )
        return tuple(dict.fromkeys(items))

    def moment(self, name: str) -> datetime | None:
        value = self.get(name)
        if value is None:
            return None
        try:
            return parse_day_or_moment(value)
        except ValueError:
            raise ConfigError(
                f"{name} must be an ISO 8601 date or UTC datetime, got {value!r}."
            ) from None

    def matching(self, name: str, shape: re.Pattern[str], what: str) -> str | None:
        """A free-text value of a known shape (a URL, a name or an ARN), or None when unset."""
        value = self.get(name)
        if value is not None and not shape.fullmatch(value):
            raise ConfigError(f"{name} must be {what}, got {value!r}.")
        return value

    def optional_id(self, name: str) -> str | None:
        value = self.get(name)
        if value is not None and not ID_PATTERN.fullmatch(value):
            raise ConfigError(f"{name} must be {ID_RULE}, got {value!r}.")
        return value

    def secure_url(self, name: str, default: str | None, also: str = "") -> str:
        """An https:// URL, or plain http:// on loopback (a local fake or proxy; anywhere else it
        would expose credentials)."""
        value = (self.get(name) or default or "").rstrip("/")
        parts = urlsplit(value)
        if parts.hostname and (
            parts.scheme == "https" or (parts.scheme == "http" and is_loopback(parts.hostname))
        ):
            return value
        choices = f"an https:// URL {also}".strip()
        raise ConfigError(f"{name} must be {choices}, got {value!r}.")

    def flag(self, name: str) -> bool:
        value = (self.get(name) or "false").lower()
        if value not in TRUE_WORDS + FALSE_WORDS:
            raise ConfigError(f"{name} must be true or false, got {value!r}.")
        return value in TRUE_WORDS

    def choices(
        self, name: str, default: tuple[str, ...], allowed: tuple[str, ...]
    ) -> tuple[str, ...]:
        """A comma-separated list of allowed words (repeats dropped, order kept)."""
        value = self.get(name)
        if value is None:
            return default
        items = value.split(",")
        bad = [item for item in items if item not in allowed]
        if bad:
            raise ConfigError(
                f"{name} must be some of {', '.join(allowed)} separated by commas, got {bad[0]!r}."
            )
        return tuple(dict.fromkeys(items))

    def choice(self, name: str, default: str, choices: tuple[str, ...]) -> str:
        value = self.get(name) or default
        if value not in choices:
            raise ConfigError(f"{name} must be one of {', '.join(choices)}, got {value!r}.")
        return value


def is_exact(value: str) -> bool:
    """Non-empty, with no surrounding space and no control character: usable exactly as given."""
    return (
        bool(value)
        and value == value.strip()
        and not any(ord(c) < 32 or ord(c) == 127 for c in value)
    )


def show(number: float) -> str:
    return str(int(number)) if float(number).is_integer() else str(number)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
