"""How the prompts and answers themselves change: the day's LLM traffic against the week before."""

import dagster as dg

from ops_pipelines.defs.partitions import daily_partitions

# The reference window: the mapping loads the 7 days before the partition with it (what exists of them).
REFERENCE_DAYS = 7


@dg.asset(
    partitions_def=daily_partitions,
    group_name="llmops", owners=["team:llmops"],
    kinds={"scikit-learn", "pandas"},
    ins={"llm_traces": dg.AssetIn(partition_mapping=dg.TimeWindowPartitionMapping(start_offset=-REFERENCE_DAYS, end_offset=0))},
)
def llm_traffic_drift(context: dg.AssetExecutionContext, llm_traces):
    """Per app and prompt version: did the day's prompts and answers drift from the 7 days before?
    Lengths, language, question type, refusal and PII rates, out-of-vocabulary share and the topic
    mix (TF-IDF topics; a new topic is named by its words). Evidently's text report per drifted group is
    llm_traffic_drift_html's."""
    from ops_pipelines.lib.llmops.traffic_drift import traffic_drift

    result = traffic_drift(llm_traces, context.partition_key, reference_days=REFERENCE_DAYS)
    table = result.table
    metadata = {f"{r.app}/{r.prompt_version}/{k}": v for r in table.itertuples() for k, v in group_metadata(r).items()}
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


def group_metadata(r) -> dict:
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
