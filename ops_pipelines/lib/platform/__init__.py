"""Platform logic without Dagster: our own runs as telemetry, run-failure alerts."""
