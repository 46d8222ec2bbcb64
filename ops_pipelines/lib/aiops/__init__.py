"""AIOps domain logic: anomaly detection and its evaluation (Dagster-free)."""
