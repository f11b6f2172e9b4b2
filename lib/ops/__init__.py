"""Operator tools: the CLI and the long-running jobs it starts (backfill, ...)."""
