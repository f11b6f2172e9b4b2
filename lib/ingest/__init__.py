"""Ingestion: message bodies -> task references -> fetched logs -> rows, and who is acknowledged."""
