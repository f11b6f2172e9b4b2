"""Report results as self-contained HTML: tables, inline SVG charts, the audit pack's index.

Pages have no scripts and load nothing (no fonts, images or stylesheets from URLs), so they can
be archived next to an audit and opened offline. Charts carry `data-*` attributes (chart, series,
label, value; the heatmap's resource, day and counts) so tests and other tools can check the drawn
numbers without reading pixels.

    markup    escaping, attributes and SVG primitives
    charts    a report's declared chart (declaration.ChartSpec) -> categories and series
    bars      bar charts drawn as SVG
    heatmap   the adherence grid (resource x day) drawn as SVG
    page      the page frame, tables and report sections (the html format of `report`)
    style     the stylesheet every page inlines
    summary   the audit pack's index: executive summary first, then the evidence
"""
