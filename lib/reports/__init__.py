"""Audit reports over the lake: the SQL catalog, Athena generation, the HTML page."""
