"""Audit reports over the lake, run by DuckDB here and by Athena in the cloud from the same SQL.

sql/        the reports, controls (sql/controls) and shared relations (sql/relations)
catalog     what the .sql files declare: title, window, chart
parameters  the SQL tokens ({since}, {rpo_hours}, ...), their defaults and literals
controls    the chosen controls composed into resource_compliance and control_list
compose     which relations a report reads, and so which parameters it takes
engine      DuckDB sessions over the lake's pyarrow datasets
watermarks  the discovery state (_state/discover) that coverage reports
values      units (durations, rates) for people; raw values for scripts
text        table, csv and json output
html/       the HTML page and the audit pack's index
pack        the audit pack: files, manifest, hashes
athena      the template's generated Glue tables and named queries
"""
