"""The pages' one stylesheet, inlined in every page: screen, phone (tables as labelled cards) and
print (A4, no row split across pages, wide tables as cards). Kept in Python so the wheel carries it
like any module.

Header cells break only between words (html/markup.py `header_label` marks where), so a column is
at least as wide as its longest header word; other cells wrap at spaces and hyphens and split a
long word only when nothing else fits (overflow-wrap: break-word, which, unlike `anywhere`, does
not let a table squeeze a column to a few characters); moments and days never wrap.
"""

from lib.reports.html.heatmap import state_style

STYLE = """
:root { color-scheme: light; --ok: #2e7d32; --bad: #c62828; --unknown: #8a6d00; --muted: #555; }
* { box-sizing: border-box; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, Helvetica, Arial, sans-serif;
  color: #1a1a1a; background: #fff; max-width: 1200px; margin: 1.5rem auto; padding: 0 1rem;
  overflow-wrap: break-word; }
h1 { font-size: 1.6rem; margin: 0 0 .25rem; }
h2 { font-size: 1.25rem; margin: 2.25rem 0 .25rem; border-bottom: 2px solid #ddd; }
h3 { font-size: 1.05rem; margin: 1.25rem 0 .25rem; }
.meta, .description, .note { color: var(--muted); margin: 0 0 .75rem; }
.note { color: var(--unknown); }
.coverage p { margin: 0 0 .35rem; overflow-wrap: anywhere; }
.coverage[data-coverage="0"] { border-left: 4px solid var(--unknown); padding-left: .5rem; }
dl.scope { display: grid; grid-template-columns: max-content 1fr; gap: .1rem .75rem;
  margin: 0 0 1rem; font-size: 13px; }
dl.scope dt { color: var(--muted); }
dl.scope dd { margin: 0; overflow-wrap: anywhere; }
nav ul { padding-left: 1.25rem; }
code { font-family: ui-monospace, Menlo, Consolas, monospace; font-size: .95em;
  overflow-wrap: anywhere; }
svg.chart { display: block; width: 100%; max-width: 960px; height: auto; margin: .5rem 0 1rem; }
svg.chart text { font-size: 12px; fill: #333; font-family: inherit; }
svg.chart .axis-title { fill: #555; }
svg.chart line.axis { stroke: #333; stroke-width: 1; }
svg.chart line.grid { stroke: #e3e3e3; stroke-width: 1; }
.table-wrap { overflow-x: auto; margin-bottom: .5rem; }
table { border-collapse: collapse; width: 100%; font-size: 13px; }
caption { caption-side: bottom; text-align: left; color: #666; padding-top: .25rem; }
th, td { border: 1px solid #ccc; padding: 3px 6px; text-align: left; vertical-align: top; }
td { overflow-wrap: break-word; }
th { overflow-wrap: normal; word-break: keep-all; hyphens: none; }
th .word, td.when, .item code, td.ids code, h3 code { white-space: nowrap; }
thead th { background: #f0f0f0; }
tbody tr:nth-child(even) { background: #fafafa; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
td.ids { font-family: ui-monospace, Menlo, Consolas, monospace; font-size: 12px; }
td.ids code { font-size: inherit; }
p.status { margin: .5rem 0 .15rem; font-weight: 600; }
ul.groups { list-style: none; margin: 0 0 .5rem; padding: 0; border-top: 1px solid #ddd;
  font-size: 13px; }
ul.groups li { padding: 2px 6px; border-bottom: 1px solid #ddd; }
ul.groups li:nth-child(even) { background: #fafafa; }
ul.groups .reason { font-weight: 600; }
.item code, .more { color: var(--muted); }
.counts, .files { margin: 0 0 .5rem; }
.empty { font-style: italic; color: #666; }
.mark { font-weight: 700; white-space: nowrap; }
.mark.COMPLIANT { color: var(--ok); }
.mark.NON_COMPLIANT { color: var(--bad); }
.mark.INSUFFICIENT_DATA { color: var(--unknown); }
.tiles { display: grid; grid-template-columns: repeat(auto-fill, minmax(150px, 1fr)); gap: .6rem;
  margin: .75rem 0 1rem; padding: 0; list-style: none; }
.tile { border: 1px solid #ccc; border-left: 6px solid #888; border-radius: 4px;
  padding: .45rem .6rem; break-inside: avoid; }
.tile.pass { border-left-color: var(--ok); }
.tile.fail { border-left-color: var(--bad); }
.tile.unknown { border-left-color: var(--unknown); }
.tile .value { display: block; font-size: 1.35rem; font-weight: 700; }
.tile .label { display: block; color: var(--muted); font-size: 12px; }

/* Phones: tables become one card per row, each cell labelled with its column. */
@media (max-width: 640px) {
  body { margin: .75rem auto; padding: 0 .6rem; }
  h1 { font-size: 1.3rem; }
  .table-wrap table, .table-wrap tbody, .table-wrap tr, .table-wrap td { display: block;
    width: 100%; }
  .table-wrap thead { display: none; }
  .table-wrap th { display: block; }
  .table-wrap tr { border: 1px solid #ccc; margin-bottom: .5rem; }
  .table-wrap td { position: relative; padding-left: 38%; min-height: 1.6em; border: none;
    border-bottom: 1px solid #eee; text-align: left; white-space: normal; }
  .table-wrap td::before { content: attr(data-label); position: absolute; left: 6px; width: 34%;
    font-size: 12px; color: var(--muted); overflow-wrap: anywhere; }
  .figure-wrap { overflow-x: auto; }
  .figure-wrap svg.heatmap { width: 720px; max-width: none; }
  .table-wrap caption { display: block; }
}

/* Print: A4 pages, no scrolling boxes, no row split across pages, wide tables as cards. */
@page { size: A4; margin: 14mm 12mm; }
@media print {
  body { margin: 0; max-width: none; padding: 0; font-size: 10px; }
  nav { display: none; }
  * { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
  .table-wrap { overflow: visible; }
  table { font-size: 9px; }
  td.ids { font-size: 9px; }
  th, td { padding: 1px 4px; }
  h2 { margin-top: 1.25rem; }
  h3 { margin-top: .75rem; }
  h2, h3 { break-after: avoid; }
  svg.chart, .tile, tr, dl.scope { break-inside: avoid; }
  ul.groups { font-size: 9px; }
  thead { display: table-header-group; }
  .table-wrap.wide table, .table-wrap.wide tbody, .table-wrap.wide tr, .table-wrap.wide td {
    display: block; width: 100%; }
  .table-wrap.wide thead { display: none; }
  .table-wrap.wide tr { border: 1px solid #ccc; margin-bottom: 4px; display: grid;
    grid-template-columns: repeat(4, minmax(0, 1fr)); }
  .table-wrap.wide td { border: none; }
  .table-wrap.wide td::before { content: attr(data-label); display: block; font-size: 8px;
    color: var(--muted); }
}
"""
STYLE += state_style() + "\n"
