"""MLOps domain logic: model specs, dataset versions, validation, drift, training and registry."""
