"""The one pattern every task ID and project ID must match, in full, before it is used anywhere."""

from __future__ import annotations

import re

ID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")
ID_RULE = "1-64 letters, digits, '_' or '-'"


def is_valid_id(value: object) -> bool:
    """True for a string that matches ID_PATTERN in full (`fullmatch`: no newline slips through)."""
    return isinstance(value, str) and ID_PATTERN.fullmatch(value) is not None
