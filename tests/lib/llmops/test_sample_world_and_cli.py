"""Scores on the sample world against the simulator's per-trace labels, and the llm-eval CLI."""

import datetime as dt
import json
from pathlib import Path

import pandas as pd
import pytest

from ops_pipelines.cli.llm_eval import ASSETS, llm_eval
from ops_pipelines.lib.ingest.landing import ingest_partition
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
    assert llm_eval(src, dst).scored == 3
    out = [json.loads(line) for line in dst.read_text().splitlines()]
    assert [o["id"] for o in out] == [1, 2, 3]
    for o in out:
        assert {"groundedness", "relevance", "toxicity", "rudeness", "rude", "pii_found", "refusal"} <= o.keys()
    assert out[0]["groundedness"] > out[1]["groundedness"]
    assert out[0]["rouge_l"] > 0 and out[1]["rouge_l"] is None
    assert out[1]["pii_found"] and out[1]["pii_kinds"] == ["email"]
    assert "anna.schmidt3" not in dst.read_text()
    assert out[2]["refusal"] and not out[2]["hallucinated"]


GOOD = {"question": "How long is the return window?", "context": "Items can be returned within 30 days of delivery.",
        "answer": "You can return items within 30 days of delivery."}


def _messy_file(path: Path) -> Path:
    lines = [json.dumps({**GOOD, "id": 1}),
             '{"id": 2, "question": "broken',  # a malformed line (cut export)
             json.dumps({"id": 3, "question": GOOD["question"], "answer": GOOD["answer"]}),  # no context
             json.dumps({**GOOD, "id": 4, "answer": ""}),  # an empty answer
             "",
             json.dumps({**GOOD, "id": 5, "context": [], "answer": "You can return items within 90 days."}),
             json.dumps({**GOOD, "id": 6, "answer": "Returns are accepted for 90 days after delivery."})]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_llm_eval_on_a_messy_export_scores_good_rows_and_reports_the_rest(tmp_path: Path, capsys):
    from ops_pipelines.cli import main

    src, dst = _messy_file(tmp_path / "in.jsonl"), tmp_path / "out.jsonl"
    assert main(["llm-eval", str(src), "--output", str(dst)]) == 0
    err = capsys.readouterr().err
    assert f"{src}:2: invalid JSON" in err and "Traceback" not in err
    out = {o["id"]: o for o in map(json.loads, dst.read_text().splitlines())}
    assert sorted(out) == [1, 3, 4, 5, 6]
    assert out[1]["groundedness"] >= 0.75 and out[1]["hallucinated"] is False
    assert out[6]["hallucinated"] is True  # the good rows are really scored, not defaulted
    for no_context in (out[3], out[5]):  # a missing key and an empty list alike
        assert no_context["groundedness"] is None and no_context["groundedness_method"] == "no_context"
        assert no_context["hallucinated"] is None and no_context["relevance"] > 0
    assert out[4]["relevance"] == 0.0 and out[4]["toxic"] is False and out[4]["hallucinated"] is None
    rejects = [json.loads(line) for line in (tmp_path / "out.rejects.jsonl").read_text().splitlines()]
    assert [(r["line"], r["reason"].split(" (")[0]) for r in rejects] == [(2, "invalid JSON")]
    assert rejects[0]["raw"].startswith('{"id": 2')


def test_llm_eval_exit_codes_and_one_line_errors(tmp_path: Path, capsys):
    from ops_pipelines.cli import main

    bad = tmp_path / "bad.jsonl"
    bad.write_text('not json\n[1, 2]\n{"question": "q", "context": "c"}\n{"answer": 5}\n{"answer": "a", "context": ["c", 1]}\n')
    assert main(["llm-eval", str(bad), "--output", str(tmp_path / "o.jsonl")]) == 1  # nothing scored
    err = capsys.readouterr().err.splitlines()
    assert [line.split(": ", 1)[0] for line in err] == [f"{bad}:{n}" for n in range(1, 6)]
    assert "no `answer` field" in err[2] and "`answer` must be a string" in err[3] and "list of strings" in err[4]
    for argv, message in [([str(tmp_path / "missing.jsonl"), "--output", str(tmp_path / "o.jsonl")], "does not exist"),
                          ([str(bad), "--output", str(bad)], "is the input file"),
                          ([str(bad), "--output", str(tmp_path)], "is a folder"),
                          ([str(tmp_path), "--output", str(tmp_path / "o.jsonl")], "not a file")]:
        assert main(["llm-eval", *argv]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and err.startswith("error: ") and message in err
    good = tmp_path / "good.jsonl"
    good.write_text(json.dumps(GOOD) + "\n")
    assert main(["llm-eval", str(good), "--output", str(tmp_path / "o.jsonl")]) == 0
    assert not (tmp_path / "o.rejects.jsonl").exists()  # the earlier run's rejects do not linger


def test_llm_eval_as_a_process_prints_no_traceback(tmp_path: Path):
    import subprocess
    import sys

    src = _messy_file(tmp_path / "in.jsonl")
    for args, code in [([str(src), "--output", str(tmp_path / "o.jsonl")], 0), ([str(tmp_path / "nope.jsonl"), "--output", "o.jsonl"], 2)]:
        proc = subprocess.run([sys.executable, "-m", "ops_pipelines.cli", "llm-eval", *args], capture_output=True, text=True)
        assert proc.returncode == code and "Traceback" not in proc.stderr, proc.stderr


def test_trace_ingestion_keeps_context_less_and_empty_answer_traces_and_quarantines_bad_lines(tmp_path: Path):
    from ops_pipelines.lib.llmops.quality import quality_daily

    base = {"trace_id": "t1", "timestamp": "2026-03-02T10:00:00Z", "app": "support", "model": "m", "prompt_template_id": "p",
            "prompt_version": "v1", "question": GOOD["question"], "contexts": [GOOD["context"]], "answer": GOOD["answer"],
            "latency_ms": 120, "input_tokens": 10, "output_tokens": 5, "status": "ok"}
    no_context = {k: v for k, v in base.items() if k != "contexts"}
    lines = [json.dumps(base), '{"trace_id": "t2", "question": "cut off', json.dumps({**no_context, "trace_id": "t3"}),
             json.dumps({**base, "trace_id": "t4", "answer": ""}),
             json.dumps({**base, "trace_id": "t5", "answer": "You can return items within 90 days of delivery."})]
    folder = tmp_path / "llm_traces" / "2026-03-02"
    folder.mkdir(parents=True)
    (folder / "traces.jsonl").write_text("\n".join(lines) + "\n")
    result = ingest_partition("llm_traces", tmp_path, "2026-03-02", now=pd.Timestamp("2026-03-10", tz="UTC"))
    assert result.quarantine["line"].tolist() == [2] and result.quarantine["reason"].tolist() == ["unparseable_row"]
    assert sorted(result.rows["trace_id"]) == ["t1", "t3", "t4", "t5"]
    scores = score_traces(result.rows, load_prices(ASSETS / "prices.json"), load_templates(ASSETS / "prompt_templates.json"))
    by_id = scores.set_index("trace_id")
    assert by_id.loc["t3", "groundedness_method"] == "no_context" and pd.isna(by_id.loc["t3", "hallucinated"])
    assert by_id.loc["t4", "relevance"] == 0.0 and pd.isna(by_id.loc["t4", "hallucinated"])
    assert not by_id.loc["t1", "hallucinated"] and by_id.loc["t5", "hallucinated"]
    quality = quality_daily(scores)
    # 1 hallucinated of the 2 traces with a verdict: the context-less and the empty answer are not counted as grounded
    assert quality["judged"].tolist() == [2] and quality["hallucinated_rate"].tolist() == [0.5]
