"""Report results as self-contained HTML: tables, inline SVG charts, the audit pack's index.

Pages have no scripts and load nothing (no fonts, images or stylesheets from URLs), so they can
be archived next to an audit and opened offline. Charts carry `data-*` attributes (chart, series,
label, value; the heatmap's resource, day and state) so tests and other tools can check the drawn
numbers without reading pixels. Pages stay small enough to open at once and to print: long
tables show their first rows, exceptions are listed and the rest counted, IDs are shortened (the
whole ID in the tooltip); every row is in the CSV and JSON.

    markup    escaping, attributes and SVG primitives
    charts    a report's declared chart (declaration.ChartSpec) -> categories and series
    bars      bar charts drawn as SVG
    heatmap   the adherence grid (resource x day) drawn as SVG
    page      the page frame, tables and report sections (the html format of `report`)
    style     the stylesheet every page inlines
    exceptions  the controls' exceptions, grouped by reason, the compliant counted
    sections  a pack report's section of the index, and a page of its own for a figure
    summary   the audit pack's index: executive summary first, then the evidence
"""
