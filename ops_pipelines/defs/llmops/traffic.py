"""How the prompts and answers themselves change: the day's LLM traffic against the week before."""

import dagster as dg

from ops_pipelines.defs.partitions import daily_partitions
from ops_pipelines.defs.report_policy import checked

# The reference window: the mapping loads the 7 days before the partition with it (what exists of them).
REFERENCE_DAYS = 7


class TrafficDriftConfig(dg.Config):
    """Where the HTML reports go (empty: `<data home>/reports`, beside drift_report's) and for which groups:
    `drifted` (default) writes one for a group whose verdict is drift, `all` for every group with a verdict,
    `none` skips them. Evidently's report costs about 2.5 s a group, the better part of the asset's time, and
    the day's numbers are in the table and the metadata either way."""

    reports_dir: str = ""
    html_report: str = "drifted"


@dg.asset(
    partitions_def=daily_partitions,
    group_name="llmops", owners=["team:llmops"],
    kinds={"evidently", "scikit-learn", "pandas"},
    ins={"llm_traces": dg.AssetIn(partition_mapping=dg.TimeWindowPartitionMapping(start_offset=-REFERENCE_DAYS, end_offset=0))},
)
def llm_traffic_drift(context: dg.AssetExecutionContext, config: TrafficDriftConfig, llm_traces):
    """Per app and prompt version: did the day's prompts and answers drift from the 7 days before?
    Lengths, language, question type, refusal and PII rates, out-of-vocabulary share and the topic
    mix (TF-IDF topics; a new topic is named by its words), with Evidently's text report per drifted group."""
    from pathlib import Path

    from ops_pipelines import settings
    from ops_pipelines.lib.llmops.traffic_drift import traffic_drift

    checked(config.html_report)
    day = context.partition_key
    result = traffic_drift(llm_traces, day, reference_days=REFERENCE_DAYS)
    table = result.table
    reports = Path(config.reports_dir) if config.reports_dir else settings.data_home() / "reports"
    paths = write_reports(result, reports / "llm_traffic_drift" / day, drifted_only=config.html_report == "drifted") \
        if config.html_report != "none" else {}
    metadata = {f"{r.app}/{r.prompt_version}/{k}": v for r in table.itertuples() for k, v in group_metadata(r, paths).items()}
    new_topics = [t for t in table["new_topic"] if t] if len(table) else []
    return dg.Output(table, metadata={
        "dagster/row_count": len(table),
        "groups": len(table),
        "groups_drifted": int(table["drifted"].sum()) if len(table) else 0,
        "drifted": bool(table["drifted"].any()) if len(table) else False,
        "new_topic": new_topics[0] if new_topics else "",
        "summary": dg.MetadataValue.md(summary_table(table)),
        **metadata,
    })


def write_reports(result, folder, drifted_only: bool = False) -> dict:
    """One Evidently HTML per group that got a verdict (that drifted, with `drifted_only`); {(app, prompt_version): path}."""
    from ops_pipelines.lib.llmops.traffic_report import save_traffic_report

    paths = {}
    for r in result.table.itertuples():
        if r.note or (drifted_only and not r.drifted):
            continue
        rows = result.rows[(result.rows["app"] == r.app) & (result.rows["prompt_version"] == r.prompt_version)]
        name = "".join(c if c.isalnum() or c in "-_." else "_" for c in f"{r.app}__{r.prompt_version}")
        paths[(r.app, r.prompt_version)] = save_traffic_report(rows, folder / f"{name}.html")
    return paths


def group_metadata(r, paths: dict) -> dict:
    """The numbers the UI plots over days for one group (NaN ones left out: Dagster shows them as text)."""
    import math

    values = {"drifted": bool(r.drifted), "topic_drifted": bool(r.topic_drifted), "topic_score": r.topic_score,
              "descriptor_drift_share": r.descriptor_drift_share, "question_oov": r.question_oov,
              "answer_oov": r.answer_oov, "refusal_rate": r.refusal_rate, "question_pii_rate": r.question_pii_rate,
              "answer_pii_rate": r.answer_pii_rate, "current_rows": int(r.current_rows)}
    out = {k: (float(v) if not isinstance(v, (bool, int)) else v) for k, v in values.items()
           if isinstance(v, (bool, int)) or (v is not None and not math.isnan(v))}
    if r.new_topic:
        out["new_topic"] = r.new_topic
    if r.note:
        out["note"] = r.note
    if (r.app, r.prompt_version) in paths:
        out["report"] = dg.MetadataValue.path(str(paths[(r.app, r.prompt_version)]))
    return out


def summary_table(table) -> str:
    from ops_pipelines.lib.markdown import table as md_table

    rows = []
    for r in table.itertuples():
        score = "-" if r.topic_score != r.topic_score else f"{r.topic_score:.3f}"
        share = "-" if r.descriptor_drift_share != r.descriptor_drift_share else f"{r.descriptor_drift_share:.2f}"
        verdict = r.note or ("yes" if r.drifted else "no")
        rows.append([r.app, r.prompt_version, r.current_rows, score, share, r.new_topic or "-", verdict])
    return md_table(["app", "prompt version", "traces", "topic score", "descriptors drifted", "new topic", "drifted"], rows,
                    empty="no traces on this day")
