"""Evidently's text report per drifted LLM traffic group, for people to open: its own asset, after llm_traffic_drift.

The verdicts are llm_traffic_drift's; a report costs about 2.5 s a group plus Evidently's import, so it is kept
off the path the next day waits on (the daily job computes it last; `ops-pipelines run` and the demo run it
beside the next day).
"""

import dagster as dg

from ops_pipelines.defs.llmops.traffic import REFERENCE_DAYS
from ops_pipelines.defs.partitions import daily_partitions
from ops_pipelines.defs.report_policy import checked


class TrafficReportConfig(dg.Config):
    """Where the reports go (empty: `<data home>/reports`, beside drift_report_html's) and for which groups:
    `drifted` (default) writes one for a group whose verdict is drift, `all` for every group with a verdict,
    `none` skips them."""

    reports_dir: str = ""
    html_report: str = "drifted"


@dg.asset(
    partitions_def=daily_partitions,
    group_name="llmops", owners=["team:llmops"],
    kinds={"evidently", "html"},
    ins={"llm_traces": dg.AssetIn(partition_mapping=dg.TimeWindowPartitionMapping(start_offset=-REFERENCE_DAYS, end_offset=0))},
    deps=["llm_traffic_drift"],
)
def llm_traffic_drift_html(context: dg.AssetExecutionContext, config: TrafficReportConfig, llm_traces):
    """One Evidently HTML per group llm_traffic_drift judged (that drifted, by default):
    `<reports>/llm_traffic_drift/<day>/<app>__<prompt version>.html`. One row per report written. The
    descriptors and topics are computed again, seeded, so they are the ones llm_traffic_drift judged."""
    from pathlib import Path

    import pandas as pd

    from ops_pipelines import settings
    from ops_pipelines.lib.llmops.traffic_drift import traffic_drift
    from ops_pipelines.lib.llmops.traffic_report import save_traffic_report

    policy = checked(config.html_report)
    day = context.partition_key
    folder = (Path(config.reports_dir) if config.reports_dir else settings.data_home() / "reports") / "llm_traffic_drift" / day
    written = []
    if policy != "none":
        result = traffic_drift(llm_traces, day, reference_days=REFERENCE_DAYS)
        for r in result.table.itertuples():
            if r.note or (policy == "drifted" and not r.drifted):
                continue
            rows = result.rows[(result.rows["app"] == r.app) & (result.rows["prompt_version"] == r.prompt_version)]
            name = "".join(c if c.isalnum() or c in "-_." else "_" for c in f"{r.app}__{r.prompt_version}")
            path = save_traffic_report(rows, folder / f"{name}.html")
            written.append({"app": r.app, "prompt_version": r.prompt_version, "day": day, "path": str(path)})
    out = pd.DataFrame(written, columns=["app", "prompt_version", "day", "path"])
    return dg.Output(out, metadata={"dagster/row_count": len(out), "policy": policy,
                                    **{f"{r['app']}/{r['prompt_version']}/report": dg.MetadataValue.path(r["path"])
                                       for r in written}})
