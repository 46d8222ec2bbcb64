"""MLOps input: events of the recommendation models we monitor."""

from ops_pipelines.factories.ingestion import ingestion_asset

model_events = ingestion_asset(
    "model_events",
    group="mlops",
    description="Recommendation impressions and clicks with user, item, category and context features.",
)
