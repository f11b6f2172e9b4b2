"""Escaped HTML and SVG pieces shared by the charts and the pages."""

from __future__ import annotations

import html
import re
from typing import Any

from lib.reports.values import format_float, id_list, short_id

FONT_PX = 7  # rough width of one 12px character, to size margins without measuring text
# Characters that reorder the text around them (U+202E makes "gpj.exe" read "exe.jpg"): a name
# holding one is shown with the character named, never with it applied.
BIDI_CONTROLS = re.compile("[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def visible(text: str) -> str:
    """Bidirectional controls replaced by their visible names: "a\u202eb" -> "a<U+202E>b"."""
    return BIDI_CONTROLS.sub(lambda m: f"<U+{ord(m[0]):04X}>", text)


def escape(text: str, quote: bool = True) -> str:
    """Text for HTML and SVG: markup escaped and bidirectional controls shown, not applied."""
    return html.escape(visible(text), quote=quote)


def attrs(**values: Any) -> str:
    """Escaped attributes; a trailing underscore allows `class_`, data_x becomes data-x."""
    parts = []
    for key, value in values.items():
        name = key.rstrip("_").replace("_", "-")
        parts.append(f'{name}="{escape(str(value), quote=True)}"')
    return " ".join(parts)


def header_label(column: str) -> str:
    """A column's name for a table header, breaking only between words: at a space or after an
    underscore (`<wbr>`), never inside a word; a hyphenated word is kept whole."""
    words = []
    for word in column.split(" "):
        text = "_<wbr>".join(escape(piece) for piece in word.split("_"))
        words.append(f'<span class="word">{text}</span>' if "-" in word else text)
    return " ".join(words)


def id_code(identifier: str) -> str:
    """An ID shortened for reading, whole in its tooltip (and in the CSV and JSON)."""
    short = short_id(identifier)
    if short == identifier:
        return f"<code>{escape(identifier)}</code>"
    return f"<code {attrs(title=identifier)}>{escape(short)}</code>"


def id_codes(text: str | None, shown: int | None = None) -> str:
    """A comma-separated list of IDs, each shortened; past `shown`, a count whose tooltip holds
    the rest."""
    ids = id_list(text)
    parts = [id_code(identifier) for identifier in ids[:shown]]
    rest = ids[shown:] if shown is not None else []
    if rest:
        parts.append(
            f"<span {attrs(class_='more', title=', '.join(rest))}>+{len(rest)} more</span>"
        )
    return ", ".join(parts)


def px(value: float) -> str:
    """SVG coordinates rounded to 2 decimals: short markup, no float noise."""
    return format_float(round(value, 2))


def svg_text(x: float, y: float, text: str, **extra: Any) -> str:
    return f"<text {attrs(x=px(x), y=px(y), **extra)}>{escape(text)}</text>"


def svg_line(x1: float, y1: float, x2: float, y2: float, class_: str) -> str:
    return f"<line {attrs(x1=px(x1), y1=px(y1), x2=px(x2), y2=px(y2), class_=class_)} />"


def shorten(label: str, limit: int) -> str:
    return label if len(label) <= limit else label[: limit - 1] + "…"


def slug(name: str) -> str:
    return re.sub(r"[^a-z0-9-]+", "-", name.lower()).strip("-") or "report"


def svg_document(
    name: str,
    title: str,
    size: tuple[float, float],
    parts: list[str],
    *,
    part: int = 0,
    kind: str = "chart",
    **extra: Any,
) -> str:
    """The <svg> element; no xmlns needed inline in HTML, which keeps the page URL-free.
    `part` tells apart the pieces of a figure drawn as several (their title ids differ)."""
    width, height = size
    title_id = f"chart-{slug(name)}-title" + (f"-{part}" if part else "")
    opening = attrs(
        data_chart=name,
        class_=kind,
        role="img",
        aria_labelledby=title_id,
        viewBox=f"0 0 {px(width)} {px(height)}",
        width=px(width),
        height=px(height),
        **extra,
    )
    return (
        f"<svg {opening}><title {attrs(id=title_id)}>{escape(title)}</title>"
        + "".join(parts)
        + "</svg>"
    )
