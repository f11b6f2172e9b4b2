"""Backfill: put past tasks in the lake (or on the queue), resumably, without adding duplicates.

Two sources: a time window listed through ListOpLogs (`lib.ingest.listing`, slice by slice), or
a file of IDs (one message body per line) fetched through the same pipeline as queue messages.
Two sinks: the lake, skipping every row whose (`id`, `updated_at`) it already holds, or the queue
(`--enqueue`). Progress is kept in a small JSON checkpoint (`checkpoint.py`) after every durable
step; the window and the parts are in `job.py` and `runners.py`, their assembly in `command.py`.
"""
