"""Run failures become alerts: a JSONL record under the data home, and a webhook POST when configured."""

import dagster as dg

from ops_pipelines import settings


def alerts_path():
    return settings.data_home() / "alerts" / "run_failures.jsonl"


@dg.run_failure_sensor(default_status=dg.DefaultSensorStatus.RUNNING, minimum_interval_seconds=30)
def run_failure_sensor(context: dg.RunFailureSensorContext):
    """Every failed run of this code location is recorded in `alerts/run_failures.jsonl` (run id,
    job, partition, failed steps, error) and posted to OPS_PIPELINES_ALERT_WEBHOOK_URL when set."""
    from ops_pipelines.lib.platform.alerts import (
        append_alert,
        failure_alert,
        post_alert,
        webhook_url,
    )

    run = context.dagster_run
    steps = [e.step_key for e in context.get_step_failure_events() if e.step_key]
    alert = failure_alert(
        run_id=run.run_id,
        job=run.job_name,
        partition=run.tags.get("dagster/partition"),
        failed_steps=steps,
        error=_error_summary(context),
        failed_at=_failed_at(context),
    )
    append_alert(alerts_path(), alert)
    # Read per evaluation, not at load: the URL is a secret of the deployment, never logged in full.
    url = webhook_url()
    if url is None:
        context.log.info(f"run {run.run_id} failed; alert recorded in {alerts_path()}")
        return
    delivered, outcome = post_alert(url, alert)
    (context.log.info if delivered else context.log.warning)(f"run {run.run_id} failure alert: {outcome}")


def _error_summary(context: dg.RunFailureSensorContext) -> str:
    # The first failed step's error says what broke; the run failure message only says that steps failed.
    for event in context.get_step_failure_events():
        error = event.step_failure_data.error
        while error is not None and error.cause is not None:
            error = error.cause  # Dagster wraps the user's exception: its message is the useful one
        if error is not None:
            return f"{event.step_key}: {error.message.strip()}"  # the message starts with the class name
    return context.failure_event.message or ""


def _failed_at(context: dg.RunFailureSensorContext) -> float:
    record = context.instance.get_run_record_by_id(context.dagster_run.run_id)
    return record.end_time if record is not None and record.end_time is not None else 0.0
