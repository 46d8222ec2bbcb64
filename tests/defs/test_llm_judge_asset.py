"""`llm_eval_scores` with the optional LLM judge: on, it grades every answered trace against a local
OpenAI-compatible server and reuses its cache on a re-run; off, it contacts nothing and adds nothing."""

import json

import dagster as dg
import pandas as pd
import pytest

from ops_pipelines.defs.llmops.evaluation import llm_eval_scores
from ops_pipelines.defs.llmops.ingestion import llm_traces
from ops_pipelines.io.parquet import ParquetIOManager
from ops_pipelines.lib.llmops import judge
from ops_pipelines.resources.landing_zone import LandingZone
from ops_pipelines.resources.llm_judge import LLMJudge
from ops_pipelines.resources.llmops_config import LLMOpsConfig
from tests.conftest import DAY
from tests.lib.llmops.judge_server import JudgeServer

KEY = "sk-asset-test-key-1234"
SCORES = {"t1": (0.9, 0.8, "good"), "t2": (0.3, 0.7, "hallucinated"), "t3": (0.6, 0.1, "irrelevant")}


def _trace(trace_id: str, minute: int, answer: str | None, status: str = "ok") -> dict:
    return {"trace_id": trace_id, "timestamp": f"{DAY}T10:{minute:02d}:00Z", "app": "support", "model": "gpt-x",
            "prompt_template_id": "support", "prompt_version": "support-v1",
            "question": "How do I reset my password?", "contexts": ["Passwords are reset from the account page."],
            "answer": answer, "latency_ms": 800, "input_tokens": 120, "output_tokens": 30, "status": status}


@pytest.fixture
def traces(landing):
    rows = [_trace(t, i, f"Open the account page. [score:{g}/{r}/{v}]") for i, (t, (g, r, v)) in enumerate(SCORES.items())]
    rows.append(_trace("t4", 9, None, status="timeout"))
    landing.write("llm_traces", "traces.jsonl", "\n".join(json.dumps(r) for r in rows) + "\n")
    return landing


@pytest.fixture
def server(monkeypatch):
    monkeypatch.setenv("OPS_LLM_JUDGE_API_KEY", KEY)
    with JudgeServer() as srv:
        yield srv


def _run(traces, tmp_path, llm_judge: LLMJudge):
    resources = {"landing_zone": LandingZone(root=str(traces.root)), "io_manager": ParquetIOManager(base_dir=str(tmp_path / "s")),
                 "llmops_config": LLMOpsConfig(), "llm_judge": llm_judge}
    result = dg.materialize([llm_traces, llm_eval_scores], partition_key=DAY, resources=resources, raise_on_error=False)
    return result, tmp_path / "s" / "llm_eval_scores" / f"{DAY}.parquet"


def test_the_enabled_judge_grades_answered_traces_and_reuses_its_cache(traces, tmp_path, server):
    on = LLMJudge(enabled=True, base_url=server.url, model="judge-m", cache_dir=str(tmp_path / "cache"), backoff_s=0.0)
    result, path = _run(traces, tmp_path, on)
    assert result.success
    table = pd.read_parquet(path).set_index("trace_id")
    for trace, (g, r, v) in SCORES.items():
        assert tuple(table.loc[trace, ["judge_groundedness", "judge_relevance", "judge_verdict"]]) == (g, r, v)
    assert table.loc["t4", "judge_error"] == "skipped: no answer" and pd.isna(table.loc["t4", "judge_groundedness"])
    assert server.count == len(SCORES) and {r["headers"]["Authorization"] for r in server.requests} == {f"Bearer {KEY}"}
    meta = result.asset_materializations_for_node("llm_eval_scores")[0].metadata
    assert (meta["judged"].value, meta["judge_cached"].value, meta["judge_errors"].value) == (len(SCORES), 0, 0)
    assert meta["judge_model"].value == "judge-m" and meta["judge_prompt_version"].value == judge.JUDGE_PROMPT_VERSION
    assert not any(KEY in p.read_text() for p in (tmp_path / "cache").iterdir())

    again, _ = _run(traces, tmp_path, on)
    assert again.success and server.count == len(SCORES)  # every answer came from the cache
    meta = again.asset_materializations_for_node("llm_eval_scores")[0].metadata
    assert meta["judge_cached"].value == len(SCORES)
    pd.testing.assert_frame_equal(pd.read_parquet(path).set_index("trace_id"), table.assign(judge_cached=table["judge_error"].isna()))


def test_the_disabled_judge_contacts_nothing_and_changes_no_column(traces, tmp_path, server):
    off = LLMJudge(base_url=server.url, model="judge-m", cache_dir=str(tmp_path / "cache"))
    result, path = _run(traces, tmp_path, off)
    assert result.success and server.count == 0 and not (tmp_path / "cache").exists()
    table = pd.read_parquet(path)
    assert not [c for c in table.columns if c.startswith("judge")]
    assert "judged" not in result.asset_materializations_for_node("llm_eval_scores")[0].metadata


def test_judge_errors_are_per_row_and_do_not_fail_the_partition(traces, tmp_path, server, landing):
    landing.write("llm_traces", "more.jsonl", json.dumps(_trace("t5", 20, "[scenario:unauthorized]")) + "\n")
    on = LLMJudge(enabled=True, base_url=server.url, model="judge-m", cache_dir=str(tmp_path / "cache"), backoff_s=0.0)
    result, path = _run(traces, tmp_path, on)
    assert result.success
    table = pd.read_parquet(path).set_index("trace_id")
    assert table.loc["t5", "judge_error"].startswith("http 401") and KEY not in table.loc["t5", "judge_error"]
    assert table.loc["t1", "judge_groundedness"] == SCORES["t1"][0]
    meta = result.asset_materializations_for_node("llm_eval_scores")[0].metadata
    assert meta["judge_errors"].value == 1 and meta["judge_errors_by_kind"].value == {"http 401": 1}


def test_enabling_the_judge_without_an_endpoint_fails_with_the_variable_to_set(traces, tmp_path, monkeypatch):
    monkeypatch.delenv("OPS_LLM_JUDGE_BASE_URL", raising=False)
    monkeypatch.delenv("OPS_LLM_JUDGE_MODEL", raising=False)
    result, path = _run(traces, tmp_path, LLMJudge(enabled=True, cache_dir=str(tmp_path / "cache")))
    assert not result.success and not path.exists()
    failure = next(e for e in result.all_events if e.is_step_failure)
    assert "OPS_LLM_JUDGE_BASE_URL" in str(failure.step_failure_data.error)


def test_the_endpoint_can_come_from_the_environment(traces, tmp_path, server, monkeypatch):
    monkeypatch.setenv("OPS_LLM_JUDGE_BASE_URL", server.url)
    monkeypatch.setenv("OPS_LLM_JUDGE_MODEL", "env-model")
    monkeypatch.setenv("OPS_PIPELINES_HOME", str(tmp_path / "home"))
    result, _ = _run(traces, tmp_path, LLMJudge(enabled=True, backoff_s=0.0))
    assert result.success and server.count == len(SCORES)
    assert {r["body"]["model"] for r in server.requests} == {"env-model"}
    assert len(list((tmp_path / "home" / "judge_cache").glob("*.json"))) == len(SCORES)


def test_the_registered_judge_is_off_by_default(monkeypatch):
    from ops_pipelines.definitions import defs

    monkeypatch.delenv("OPS_LLM_JUDGE_ENABLED", raising=False)
    assert isinstance(defs.resources["llm_judge"], LLMJudge) and defs.resources["llm_judge"].enabled is False
    assert LLMJudge.from_env().enabled is False
    for value, enabled in (("1", True), ("TRUE", True), ("yes", True), ("0", False), ("no", False)):
        monkeypatch.setenv("OPS_LLM_JUDGE_ENABLED", value)
        assert LLMJudge.from_env().enabled is enabled
