"""Run failures become alerts: a JSONL record under the data home, and a webhook POST when configured."""

import dagster as dg

from ops_pipelines import keys, settings


def alerts_path():
    return settings.data_home() / "alerts" / "run_failures.jsonl"


def record_run_failure(context: dg.RunFailureSensorContext) -> None:
    """Every failed run of this code location is recorded in `alerts/run_failures.jsonl` (run id,
    job, partition, failed steps, error) and posted to OPS_PIPELINES_ALERT_WEBHOOK_URL when set,
    with retries; a webhook that stays down is recorded there too (host and reason) and logged."""
    import time

    from ops_pipelines.lib.platform.alerts import (
        append_alert,
        delivery_failure,
        failure_alert,
        post_alert,
        redact,
        webhook_url,
    )
    from ops_pipelines.lib.secrets import configured_secrets

    run = context.dagster_run
    steps = [e.step_key for e in context.get_step_failure_events() if e.step_key]
    alert = failure_alert(
        run_id=run.run_id,
        job=run.job_name,
        partition=run.tags.get(keys.PARTITION),
        failed_steps=steps,
        error=_error_summary(context),
        failed_at=_failed_at(context),
        secrets=configured_secrets(),
    )
    append_alert(alerts_path(), alert)
    # Read per evaluation, not at load: the URL is a secret of the deployment, never logged in full.
    url = webhook_url()
    if url is None:
        context.log.info(f"run {run.run_id} failed; alert recorded in {alerts_path()}")
        return
    delivery = post_alert(url, alert)
    if delivery.delivered:
        context.log.info(f"run {run.run_id} failure alert: {delivery.outcome} (attempt {delivery.attempts})")
        return
    # Never raised: the cursor moves on, so a dead webhook does not make the daemon re-send old failures.
    append_alert(alerts_path(), delivery_failure(alert, url, delivery, time.time()))
    context.log.warning(f"run {run.run_id} failure alert NOT delivered to {redact(url)}: {delivery.outcome}; "
                        f"recorded in {alerts_path()}")


run_failure_sensor = dg.run_failure_sensor(
    name="run_failure_sensor", default_status=dg.DefaultSensorStatus.RUNNING, minimum_interval_seconds=30,
    description=" ".join(record_run_failure.__doc__.split()),
)(record_run_failure)


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
