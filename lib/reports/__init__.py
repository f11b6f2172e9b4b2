"""Audit reports over the lake, run by DuckDB here and by Athena in the cloud from the same SQL.

sql/        the reports, controls (sql/controls) and shared relations (sql/relations): SQL only
declaration what a declaration holds (SQL file, title, period, parameters, chart, columns)
catalog     the reports and shared relations, declared
controls    the controls, declared, and the choice among them
parameters  the SQL tokens ({since}, {rpo_hours}, ...), their defaults and literals
compose     which relations a report reads (the chosen controls composed into resource_compliance
            and control_list), and so which parameters it takes
engine      DuckDB sessions over the lake's pyarrow datasets
coverage    where each period is proven complete, per project (discovery's and verify's state);
            coverage_text says it in words and as data
values      units (durations, rates) for people; raw values for scripts
text        table, csv and json output
html/       the HTML page and the audit pack's index
pack        the audit pack: files, manifest, hashes
athena      the template's generated Glue tables and named queries
"""
