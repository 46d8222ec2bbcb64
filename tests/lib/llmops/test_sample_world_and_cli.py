"""Scores on the sample world against the simulator's per-trace labels, and the llm-eval CLI."""

import datetime as dt
import json
from pathlib import Path

import pandas as pd
import pytest

from ops_pipelines.lib.ingest.landing import ingest_partition
from ops_pipelines.lib.llmops.cli_eval import ASSETS, llm_eval
from ops_pipelines.lib.llmops.cost import load_prices
from ops_pipelines.lib.llmops.format import load_templates
from ops_pipelines.lib.llmops.pii import find_pii
from ops_pipelines.lib.llmops.scores import score_traces
from ops_pipelines.lib.sim import simulate_world

START = dt.date(2026, 3, 2)


@pytest.fixture(scope="module")
def scored(tmp_path_factory):
    root = tmp_path_factory.mktemp("llm_world")
    simulate_world(root, START, 2, seed=7)
    traces = pd.concat([ingest_partition("llm_traces", root, str(START + dt.timedelta(days=i))).rows
                        for i in range(2)], ignore_index=True)
    scores = score_traces(traces, load_prices(ASSETS / "prices.json"), load_templates(ASSETS / "prompt_templates.json"))
    labels = pd.read_json(root / "ground_truth" / "llm_labels.jsonl", lines=True)
    world = json.loads((root / "ground_truth" / "world.json").read_text())["llm_app"]
    return scores, labels, world, traces


@pytest.mark.parametrize(("measured", "truth"), [("hallucinated", "hallucinated"), ("toxic", "toxic"),
                                                  ("pii_found", "pii_leak"), ("refusal", "refusal"), ("rude", "rude")])
def test_rates_within_two_points_of_ground_truth(scored, measured, truth):
    scores, labels, _, _ = scored
    ok = scores[scores["status"] == "ok"].merge(labels, on="trace_id", suffixes=("", "_true"))
    assert len(ok) > 2000
    true_col = truth if truth != measured else f"{truth}_true"
    got, want = ok[measured].astype(bool).mean(), ok[true_col].astype(bool).mean()
    assert abs(got - want) <= 0.02, (measured, got, want)


def test_pii_kinds_match_and_stored_answers_are_clean(scored):
    scores, labels, _, _ = scored
    both = scores.merge(labels, on="trace_id", suffixes=("", "_true"))
    leaks = both[both["pii_leak"]]
    assert len(leaks) > 10
    assert [set(k) for k in leaks["pii_kinds"]] == [set(k) for k in leaks["pii_kinds_true"]]
    assert not any(find_pii(a) for a in scores["answer_redacted"].dropna())


def test_cost_uses_the_world_prices(scored):
    scores, _, world, _ = scored
    exact = scores[~scores["tokens_estimated"]].head(50)
    for row in exact.itertuples():
        p = world["models"][row.model]
        want = (row.input_tokens * p["price_per_1k_input"] + row.output_tokens * p["price_per_1k_output"]) / 1000
        assert row.cost_usd == pytest.approx(want)
    assert scores["cost_usd"].notna().all()
    assert 0 < scores["tokens_estimated"].mean() < 0.1


def test_no_answer_rows_get_null_quality(scored):
    scores, _, _, _ = scored
    failed = scores[scores["status"] != "ok"]
    assert len(failed) > 0
    assert failed["groundedness"].isna().all() and failed["hallucinated"].isna().all()


def test_cli_adds_scores_and_never_writes_raw_pii(tmp_path: Path):
    rows = [
        {"question": "How long is the return window?", "context": "Items can be returned within 30 days of delivery.",
         "answer": "You can return items within 30 days of delivery.", "reference": "within 30 days of delivery",
         "id": 1},
        {"question": "How long is the return window?", "context": ["Items can be returned within 30 days."],
         "answer": "You can return items within 90 days. Write to anna.schmidt3@inbox.example.", "id": 2},
        {"question": "Can you insult me?", "context": [], "answer": "I'm sorry, I can't help with that.", "id": 3},
    ]
    src, dst = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    src.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    assert llm_eval(src, dst) == 3
    out = [json.loads(line) for line in dst.read_text().splitlines()]
    assert [o["id"] for o in out] == [1, 2, 3]
    for o in out:
        assert {"groundedness", "relevance", "toxicity", "rudeness", "rude", "pii_found", "refusal"} <= o.keys()
    assert out[0]["groundedness"] > out[1]["groundedness"]
    assert out[0]["rouge_l"] > 0 and out[1]["rouge_l"] is None
    assert out[1]["pii_found"] and out[1]["pii_kinds"] == ["email"]
    assert "anna.schmidt3" not in dst.read_text()
    assert out[2]["refusal"] and not out[2]["hallucinated"]
