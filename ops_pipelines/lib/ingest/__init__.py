"""Validated ingestion of landing-zone files: typed rows, or quarantine rows with a reason.

Entry points: `landing.ingest_partition` (one kind and day), `landing.scan` (what is there).
"""
