"""Rudeness on a sample world whose normal answers did not set the threshold (seed 11; seed 7 did)."""

import datetime as dt

import pandas as pd
import pytest

from ops_pipelines.lib.ingest.landing import ingest_partition
from ops_pipelines.lib.llmops.scores import score_traces
from ops_pipelines.lib.sim import simulate_world

START = dt.date(2026, 3, 2)


@pytest.fixture(scope="module")
def scored(tmp_path_factory):
    root = tmp_path_factory.mktemp("rude_world")
    simulate_world(root, START, 2, seed=11)
    traces = pd.concat([ingest_partition("llm_traces", root, str(START + dt.timedelta(days=i))).rows
                        for i in range(2)], ignore_index=True)
    labels = pd.read_json(root / "ground_truth" / "llm_labels.jsonl", lines=True)
    scores = score_traces(traces, {}, {})
    return scores[scores["status"] == "ok"].merge(labels, on="trace_id", suffixes=("", "_true")), traces


def test_rude_answers_vary_and_are_labelled(scored):
    both, traces = scored
    rude = both[both["rude_true"]]
    assert set(rude["rude_kind"]) == {"curt", "condescending", "blaming", "sarcastic", "dismissive"}
    answers = traces.set_index("trace_id").loc[rude["trace_id"], "answer"]
    assert answers.nunique() > 25  # not one template: many phrasings on many answers
    assert both.loc[~both["rude_true"], "rude_kind"].isna().all()


def test_most_rude_answers_flagged_and_almost_no_false_flags(scored):
    both, _ = scored
    rude = both[both["rude_true"]]
    normal = both[~both["rude_true"] & ~both["toxic_true"]]  # insults are rude too, and toxicity's
    assert len(rude) >= 30 and len(normal) > 2000
    assert rude["rude"].astype(bool).mean() >= 0.80
    assert normal["rude"].astype(bool).mean() <= 0.01
    # rudeness is not toxicity: most rude answers carry no insult the toxicity model sees
    assert rude["toxic"].astype(bool).mean() < 0.2
