"""Shared by every layer: errors, settings, time budgets and logging, the schema, IDs, times."""
