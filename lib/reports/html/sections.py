"""A report's section of the audit pack's index: its rows counted, the exceptions among them
listed, every row in its CSV and JSON beside the page and, for a report drawn as a figure (the
adherence grid), a page of its own that the index links to.

A Section is plain data (lib/reports/pack.py lists the pack's): adding a report to the pack is
adding one.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from lib.reports.html.markup import attrs, escape
from lib.reports.html.page import frame, render_figure, render_scope, render_table
from lib.reports.result import ReportResult

Row = dict[str, Any]
LISTED_LIMIT = 100  # exceptions listed per section; the rest counted (all in the CSV)


@dataclass(frozen=True)
class Section:
    """How the index shows one pack report: `count` names the group each row is counted in,
    `exception` picks the rows listed in full (described by `listed`, shown with `columns`, a
    space-separated list as report declarations write theirs), `figure_page` draws the report's
    figure on `<report>.html`."""

    report: str
    noun: str  # what the rows are, plural: "restores", "resource-days"
    count: Callable[[Row], str]
    exception: Callable[[Row], bool] | None = None
    listed: str = ""  # "restores that did not succeed"
    columns: str = ""  # "" = the report's own
    figure_page: bool = False
    where: str = "in the period"  # what the rows were counted over

    @property
    def page(self) -> str | None:
        return f"{self.report}.html" if self.figure_page else None

    def files(self) -> list[str]:
        """The pack files this section's report is written as."""
        names = [f"{self.report}.csv", f"{self.report}.json"]
        return names + ([self.page] if self.page else [])


def counts_line(section: Section, result: ReportResult) -> str:
    """ "864 restores in the period: 830 success, 34 failed." (largest group first)."""
    counts = Counter(section.count(row) for row in result.rows)
    if not counts:
        return f"No {section.noun} {section.where}."
    parts = ", ".join(
        f"{count} {name}" for name, count in sorted(counts.items(), key=lambda i: (-i[1], i[0]))
    )
    return f"{len(result.rows)} {section.noun} {section.where}: {parts}."


def file_links(section: Section) -> str:
    names = [f"{section.report}.csv", f"{section.report}.json"]
    links = ", ".join(f'<a href="{escape(name)}">{escape(name)}</a>' for name in names)
    return f'<p class="files">Every row, in this pack: {links}.</p>'


def listing(section: Section, result: ReportResult) -> str:
    if section.exception is None:
        return ""
    rows = [row for row in result.rows if section.exception(row)]
    if not rows:
        return f'<p class="empty">No {escape(section.listed)}.</p>'
    columns = section.columns.split() or result.columns
    hint = f"every row is in {section.report}.csv"
    return f"<p>{escape(section.listed.capitalize())}:</p>" + render_table(
        result, rows, columns=columns, rest=hint, limit=LISTED_LIMIT
    )


def render_report_section(section: Section, result: ReportResult) -> str:
    figure = ""
    if section.page:
        figure = (
            f'<p>Drawn as a figure on its own page: <a href="{escape(section.page)}">'
            f"{escape(section.page)}</a>.</p>"
        )
    return (
        f"<section {attrs(id='section-' + section.report, data_section=section.report)}>"
        f"<h2>{escape(result.title)}</h2>"
        f'<p class="description">{escape(result.description)}</p>'
        f"<p>{escape(counts_line(section, result))}</p>"
        + listing(section, result)
        + figure
        + file_links(section)
        + "</section>"
    )


def render_figure_page(result: ReportResult, *, lake: str, title: str) -> str:
    """A page of the pack holding one report's figure in full, linked back to the index."""
    body = (
        f"<header><h1>{escape(result.title)}</h1>"
        f'<p class="meta">{escape(title)}: <a href="index.html">back to the summary</a></p>'
        + render_scope(result, lake)
        + "</header>"
        f'<p class="description">{escape(result.description)}</p>'
        + (render_figure(result) or '<p class="empty">Nothing to draw.</p>')
    )
    return frame(f"{result.title}: {title}", body)
