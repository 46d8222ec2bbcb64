"""The LLM judge against a scripted OpenAI-compatible server on 127.0.0.1: parsing, retries,
timeouts, cache, credentials and malformed input."""

import json
import math
import socket

import numpy as np
import pandas as pd
import pytest

from ops_pipelines.lib.llmops import judge
from ops_pipelines.lib.llmops.judge import JudgeConfig, judge_traces, parse_judgement
from tests.lib.llmops.judge_server import DEFAULT_SCORE, JudgeServer

KEY = "sk-test-9f3c2a7e-do-not-store"


@pytest.fixture
def server():
    with JudgeServer() as srv:
        yield srv


@pytest.fixture(autouse=True)
def waits(monkeypatch):
    """Record back-off waits instead of sleeping (no timing in tests); the key is in the environment."""
    recorded: list[float] = []
    monkeypatch.setattr(judge, "_sleep", recorded.append)
    monkeypatch.setenv("OPS_LLM_JUDGE_API_KEY", KEY)
    return recorded


def config(server, tmp_path, **kw) -> JudgeConfig:
    return JudgeConfig(**{"base_url": server.url, "model": "judge-model", "cache_dir": tmp_path / "cache",
                          "timeout_s": 5.0, "max_retries": 2, "backoff_s": 0.25, **kw})


def frame(*answers, ids=None) -> pd.DataFrame:
    ids = ids or [f"t{i}" for i in range(len(answers))]
    return pd.DataFrame({"trace_id": ids, "question": ["How do I reset my password?"] * len(answers),
                         "contexts": [["Passwords are reset from the account page."]] * len(answers),
                         "answer": list(answers)})


def by_id(result: pd.DataFrame) -> dict:
    return result.set_index("trace_id").to_dict("index")


def test_scores_are_parsed_from_plain_fenced_and_prose_replies(server, tmp_path):
    rows = frame("Use the account page. [score:0.9/0.7/good]",
                 "[scenario:fenced] Call support. [score:0.4/0.8/hallucinated]",
                 "[scenario:prose] It is sunny. [score:0.95/0.1/irrelevant]")
    out = by_id(judge_traces(rows, config(server, tmp_path)))
    expected = {"t0": (0.9, 0.7, "good"), "t1": (0.4, 0.8, "hallucinated"), "t2": (0.95, 0.1, "irrelevant")}
    for trace, (g, r, v) in expected.items():
        assert (out[trace]["judge_groundedness"], out[trace]["judge_relevance"], out[trace]["judge_verdict"]) == (g, r, v)
        assert out[trace]["judge_error"] is None and not out[trace]["judge_cached"]
        assert out[trace]["judge_reason"].startswith("scripted")
    assert server.count == 3 and {r["path"] for r in server.requests} == {"/v1/chat/completions"}
    sent = server.requests[0]["body"]
    assert sent["model"] == "judge-model" and sent["temperature"] == 0
    assert judge.JUDGE_PROMPT_VERSION in sent["messages"][0]["content"]


@pytest.mark.parametrize("answer", ["[scenario:garbage]", "[scenario:nan]", "[scenario:wordscore]", "[scenario:notchat]",
                                    "out of range [score:1.7/0.5/good]", "unknown verdict [score:0.5/0.5/maybe]"])
def test_an_unusable_reply_is_an_error_on_its_row_never_a_score(server, tmp_path, answer):
    out = judge_traces(frame(answer, "fine"), config(server, tmp_path))
    bad, good = out.iloc[0], out.iloc[1]
    assert bad["judge_error"].startswith("invalid response")
    assert math.isnan(bad["judge_groundedness"]) and math.isnan(bad["judge_relevance"]) and bad["judge_verdict"] is None
    assert good["judge_error"] is None and good["judge_groundedness"] == DEFAULT_SCORE[0]
    assert len(list((tmp_path / "cache").glob("*.json"))) == 1  # only the good row is cached


def test_a_500_is_retried_with_backoff_and_then_succeeds(server, tmp_path, waits):
    out = judge_traces(frame("[scenario:flaky] [score:0.3/0.9/hallucinated]"), config(server, tmp_path))
    assert out.loc[0, "judge_error"] is None and out.loc[0, "judge_groundedness"] == 0.3
    assert server.per_scenario["flaky"] == 2 and waits == [0.25]


def test_a_429_waits_as_long_as_retry_after_says(server, tmp_path, waits):
    out = judge_traces(frame("[scenario:ratelimit]"), config(server, tmp_path))
    assert out.loc[0, "judge_error"] is None and out.loc[0, "judge_verdict"] == DEFAULT_SCORE[2]
    assert server.per_scenario["ratelimit"] == 2 and waits == [2.0]


def test_a_persistent_5xx_gives_up_after_max_retries(server, tmp_path, waits):
    out = judge_traces(frame("[scenario:down]"), config(server, tmp_path, max_retries=3))
    assert out.loc[0, "judge_error"].startswith("http 503") and "4 attempts" in out.loc[0, "judge_error"]
    assert server.per_scenario["down"] == 4 and waits == [0.25, 0.5, 1.0]
    assert math.isnan(out.loc[0, "judge_groundedness"])


def test_a_slow_reply_times_out_is_retried_and_then_recorded(server, tmp_path):
    out = judge_traces(frame("[scenario:slow]", "fine"), config(server, tmp_path, timeout_s=0.2, max_retries=1))
    assert out.loc[0, "judge_error"].startswith("timeout") and math.isnan(out.loc[0, "judge_groundedness"])
    assert server.per_scenario["slow"] == 2
    assert out.loc[1, "judge_error"] is None


def test_a_401_is_not_retried_and_the_echoed_key_is_scrubbed(server, tmp_path, waits):
    out = judge_traces(frame("[scenario:unauthorized]"), config(server, tmp_path))
    assert out.loc[0, "judge_error"].startswith("http 401")
    assert server.per_scenario["unauthorized"] == 1 and waits == []
    assert KEY not in out.loc[0, "judge_error"] and "***" in out.loc[0, "judge_error"]


def _pieces(secret: str, size: int = 8) -> set[str]:
    return {secret[i:i + size] for i in range(len(secret) - size + 1)}


def test_a_key_echoed_in_a_200_reply_or_a_5xx_body_is_scrubbed_everywhere(server, tmp_path, waits, caplog):
    """Defect 8: the 401 path was scrubbed, a 200 reply's raw body was not (and cuts at 120 or 200
    characters could leave part of the key)."""
    rows = frame("[scenario:echonotchat]", "[scenario:echoreason] [score:0.7/0.6/good]", "[scenario:echotext]",
                 "[scenario:echo500]", "[scenario:unauthorized]")
    with caplog.at_level("DEBUG", logger="ops_pipelines.lib.llmops.judge"):
        out = judge_traces(rows, config(server, tmp_path))
        again = judge_traces(rows, config(server, tmp_path))  # the reason comes from the cache this time
    errors = out["judge_error"].tolist()
    assert errors[0].startswith("invalid response: not a chat completion")
    assert errors[1] is None and out.loc[1, "judge_reason"] == "checked with credential ***"
    assert again.loc[1, "judge_cached"] and again.loc[1, "judge_reason"] == "checked with credential ***"
    assert errors[2].startswith("invalid response: no JSON object") and "***" in errors[2]
    assert errors[3].startswith("http 500") and errors[4].startswith("http 401")
    stored = [str(v) for frame_ in (out, again) for v in frame_.to_numpy().ravel()]
    stored += [f.read_text() for f in (tmp_path / "cache").glob("*.json")] + [caplog.text]
    text = "\n".join(stored)
    assert KEY not in text and not any(piece in text for piece in _pieces(KEY)), text


def test_a_key_in_an_old_cache_entry_is_scrubbed_on_the_way_out(server, tmp_path):
    judge_traces(frame("a"), config(server, tmp_path))
    [entry] = (tmp_path / "cache").glob("*.json")
    record = json.loads(entry.read_text())
    entry.write_text(json.dumps({**record, "reason": f"old entry with {KEY}"}))
    out = judge_traces(frame("a"), config(server, tmp_path))
    assert out.loc[0, "judge_cached"] and out.loc[0, "judge_reason"] == "old entry with ***"


def test_an_unreachable_endpoint_is_an_error_not_a_crash(tmp_path, waits):
    with socket.socket() as sock:  # a loopback port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    cfg = JudgeConfig(base_url=f"http://127.0.0.1:{port}/v1", model="m", cache_dir=tmp_path, max_retries=1, backoff_s=0.1)
    out = judge_traces(frame("fine"), cfg)
    assert out.loc[0, "judge_error"].startswith("connection error") and waits == [0.1]


def test_a_cache_hit_makes_no_request_and_errors_are_not_cached(server, tmp_path):
    rows = frame("a [score:0.2/0.3/hallucinated]", "b", "[scenario:garbage]", None)
    first = judge_traces(rows, config(server, tmp_path))
    assert server.count == 3
    second = judge_traces(rows, config(server, tmp_path))
    assert server.count == 4 and server.per_scenario["garbage"] == 2  # only the failed row is asked again
    assert second["judge_cached"].tolist() == [True, True, False, False]
    cols = ["judge_groundedness", "judge_relevance", "judge_verdict", "judge_reason"]
    pd.testing.assert_frame_equal(first.loc[:1, cols], second.loc[:1, cols])


def test_the_key_goes_in_the_authorization_header_and_nowhere_in_the_cache(server, tmp_path):
    judge_traces(frame("a", "b"), config(server, tmp_path))
    assert {r["headers"]["Authorization"] for r in server.requests} == {f"Bearer {KEY}"}
    files = list((tmp_path / "cache").rglob("*"))
    assert len([f for f in files if f.suffix == ".json"]) == 2
    assert not any(KEY.encode() in f.read_bytes() for f in files if f.is_file())


def test_without_a_key_in_the_environment_no_authorization_header_is_sent(server, tmp_path, monkeypatch):
    monkeypatch.delenv("OPS_LLM_JUDGE_API_KEY")
    judge_traces(frame("a"), config(server, tmp_path))
    assert "Authorization" not in server.requests[0]["headers"]


@pytest.mark.parametrize("change", ["model", "answer", "context", "trace_id", "prompt"])
def test_the_cache_key_covers_model_prompt_trace_and_content(server, tmp_path, monkeypatch, change):
    rows = frame("the answer")
    judge_traces(rows, config(server, tmp_path))
    cfg = config(server, tmp_path, model="other-model") if change == "model" else config(server, tmp_path)
    if change == "answer":
        rows = frame("another answer")
    elif change == "context":
        rows = rows.assign(contexts=[["Passwords never expire."]])
    elif change == "trace_id":
        rows = frame("the answer", ids=["t9"])
    elif change == "prompt":
        monkeypatch.setattr(judge, "PROMPT_HASH", "0" * 64)
    judge_traces(rows, cfg)
    assert server.count == 2


def test_cache_files_are_deterministic_and_leave_no_temp_files(server, tmp_path):
    rows = frame("a [score:0.5/0.5/good]", "b")
    judge_traces(rows, config(server, tmp_path / "one"))
    judge_traces(rows, config(server, tmp_path / "two"))
    one = {p.name: p.read_bytes() for p in (tmp_path / "one" / "cache").iterdir()}
    two = {p.name: p.read_bytes() for p in (tmp_path / "two" / "cache").iterdir()}
    assert one == two and len(one) == 2 and not any(name.startswith(".tmp") for name in one)


def test_a_damaged_cache_entry_is_a_miss_and_is_rewritten(server, tmp_path):
    rows = frame("a [score:0.1/0.2/hallucinated]")
    judge_traces(rows, config(server, tmp_path))
    (entry,) = (tmp_path / "cache").glob("*.json")
    entry.write_text('{"groundedness": 0.1, "relev')
    out = judge_traces(rows, config(server, tmp_path))
    assert server.count == 2 and not out.loc[0, "judge_cached"]
    assert json.loads(entry.read_text())["groundedness"] == 0.1
    entry.write_text(json.dumps({**json.loads(entry.read_text()), "groundedness": 7}))  # hand-edited, out of range
    out = judge_traces(rows, config(server, tmp_path))
    assert server.count == 3 and out.loc[0, "judge_groundedness"] == 0.1


def test_empty_input_makes_no_request_and_keeps_the_columns(server, tmp_path):
    for rows in (pd.DataFrame(), frame().iloc[:0]):
        out = judge_traces(rows, config(server, tmp_path))
        assert out.empty and list(out.columns) == judge.COLUMNS
    assert server.count == 0


def test_rows_without_a_usable_answer_are_skipped_without_a_request(server, tmp_path):
    out = judge_traces(frame(None, np.nan, "", "   ", 3.5, math.inf), config(server, tmp_path))
    assert out["judge_error"].eq("skipped: no answer").all() and out["judge_groundedness"].isna().all()
    assert server.count == 0


def test_duplicates_are_asked_once_and_output_follows_input_order(server, tmp_path):
    rows = frame("x [score:0.1/0.1/hallucinated]", "y [score:0.2/0.2/good]", "z [score:0.3/0.3/good]",
                 "x [score:0.1/0.1/hallucinated]", ids=["a", "b", "c", "a"])
    out = judge_traces(rows, config(server, tmp_path, max_concurrency=3))
    assert server.count == 3
    assert out["trace_id"].tolist() == ["a", "b", "c", "a"]
    assert out["judge_groundedness"].tolist() == [0.1, 0.2, 0.3, 0.1]
    shuffled = judge_traces(rows.iloc[[2, 0, 3, 1]].set_index(pd.Index([9, 3, 7, 1])), config(server, tmp_path / "2"))
    assert shuffled["trace_id"].tolist() == ["c", "a", "a", "b"]
    assert shuffled["judge_groundedness"].tolist() == [0.3, 0.1, 0.1, 0.2]


def test_pii_is_redacted_before_anything_leaves_the_machine(server, tmp_path):
    rows = pd.DataFrame({"trace_id": ["p"], "question": ["I am jane.doe@example.com, where is my order?"],
                         "context": ["Customer card 4111 1111 1111 1111 on file."],
                         "answer": ["Jane, your order ships today; we will call +49 30 1234567."]})
    judge_traces(rows, config(server, tmp_path))
    sent = json.dumps(server.requests[0]["body"])
    for secret in ("jane.doe@example.com", "4111 1111 1111 1111", "+49 30 1234567"):
        assert secret not in sent
    assert "[REDACTED:email]" in sent and "[REDACTED:card]" in sent and "[REDACTED:phone]" in sent


@pytest.mark.parametrize("contexts, shown", [
    (["first passage", None, np.nan, "second passage"], ["first passage\n---\nsecond passage"]),
    (np.array(["from parquet"], dtype=object), ["from parquet"]),
    ("one string", ["one string"]),
    (None, ["CONTEXT:\n(none)"]),
    (float("nan"), ["CONTEXT:\n(none)"]),
])
def test_contexts_in_any_stored_shape_reach_the_prompt(server, tmp_path, contexts, shown):
    rows = pd.DataFrame({"trace_id": ["c"], "question": [None], "contexts": [contexts], "answer": ["ok"]})
    out = judge_traces(rows, config(server, tmp_path))
    user = server.requests[0]["body"]["messages"][1]["content"]
    assert all(s in user for s in shown) and out.loc[0, "judge_error"] is None


def test_a_long_context_is_truncated(server, tmp_path):
    rows = frame("ok").assign(contexts=[["word " * 10_000]])
    judge_traces(rows, config(server, tmp_path))
    user = server.requests[0]["body"]["messages"][1]["content"]
    assert "[context truncated]" in user and len(user) < 13_000


@pytest.mark.parametrize("reply, expected", [
    ('{"groundedness": 1, "relevance": 0, "verdict": "Refusal", "reason": "declined"}', (1.0, 0.0, "refusal")),
    ('```\n{"groundedness": "0.5", "relevance": 0.25, "verdict": "good"}\n```', (0.5, 0.25, "good")),
    ('note {"a": 1} then {"groundedness": 0.2, "relevance": 0.9, "verdict": "hallucinated", "reason": 7}',
     (0.2, 0.9, "hallucinated")),
])
def test_parse_judgement_accepts_lenient_but_complete_replies(reply, expected):
    parsed = parse_judgement(reply)
    assert (parsed["groundedness"], parsed["relevance"], parsed["verdict"]) == expected


@pytest.mark.parametrize("reply", [None, "", "   ", "[1, 2]", '{"groundedness": 0.5, "relevance": 0.5}',
                                   '{"groundedness": -0.1, "relevance": 0.5, "verdict": "good"}',
                                   '{"groundedness": Infinity, "relevance": 0.5, "verdict": "good"}',
                                   '{"groundedness": true, "relevance": 0.5, "verdict": "good"}',
                                   '{"groundedness": 0.5, "relevance": 0.5, "verdict": null}'])
def test_parse_judgement_rejects_incomplete_or_invalid_replies(reply):
    with pytest.raises((ValueError, TypeError)):
        parse_judgement(reply)


def test_retry_delay_prefers_retry_after_and_caps_it():
    assert judge.retry_delay(0, "3", 0.5) == 3.0
    assert judge.retry_delay(2, None, 0.5) == 2.0
    assert judge.retry_delay(1, "soon", 0.5) == 1.0  # unparseable: back-off
    assert judge.retry_delay(0, "86400", 0.5) == judge.MAX_RETRY_AFTER_S
    assert judge.retry_delay(0, "Wed, 21 Oct 2015 07:28:00 GMT", 0.5) == 0.0  # a date in the past: retry now


def test_from_env_needs_an_endpoint_and_model(monkeypatch):
    monkeypatch.delenv("OPS_LLM_JUDGE_BASE_URL", raising=False)
    monkeypatch.delenv("OPS_LLM_JUDGE_MODEL", raising=False)
    with pytest.raises(ValueError, match="OPS_LLM_JUDGE_BASE_URL"):
        JudgeConfig.from_env()
    monkeypatch.setenv("OPS_LLM_JUDGE_BASE_URL", "http://127.0.0.1:1/v1")
    monkeypatch.setenv("OPS_LLM_JUDGE_MODEL", "m")
    assert JudgeConfig.from_env(timeout_s=3).model == "m" and JudgeConfig.from_env(model="x").model == "x"


def test_merge_refuses_misaligned_results_and_summary_counts(server, tmp_path):
    rows = frame("a", "[scenario:garbage]", None, "[scenario:unauthorized]")
    judged = judge_traces(rows, config(server, tmp_path))
    scores = pd.DataFrame({"trace_id": rows["trace_id"], "groundedness": [1.0, 0.5, np.nan, 0.2]})
    merged = judge.merge_judged(scores, judged)
    assert list(merged.columns) == ["trace_id", "groundedness", *judge.COLUMNS[1:]]
    with pytest.raises(ValueError, match="aligned"):
        judge.merge_judged(scores.iloc[::-1], judged)
    summary = judge.judge_summary(judged)
    assert (summary["judged"], summary["judge_skipped"], summary["judge_errors"]) == (1, 1, 2)
    assert summary["judge_errors_by_kind"] == {"http 401": 1, "invalid response": 1}
    assert summary["judge_groundedness_mean"] == DEFAULT_SCORE[0]


def test_cli_llm_eval_with_judge_adds_judge_fields_and_caches_under_the_data_home(server, tmp_path, monkeypatch):
    from ops_pipelines.cli import main

    monkeypatch.setenv("OPS_LLM_JUDGE_BASE_URL", server.url)
    monkeypatch.setenv("OPS_LLM_JUDGE_MODEL", "cli-model")
    monkeypatch.setenv("OPS_PIPELINES_HOME", str(tmp_path / "home"))
    source, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    rows = [{"question": "Where is my order?", "context": "Orders ship in 2 days.", "answer": "In 2 days. [score:0.7/0.9/good]"},
            {"trace_id": "x", "question": "q", "context": ["c"], "answer": ""}]
    source.write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert main(["llm-eval", str(source), "--output", str(out)]) == 0
    assert server.count == 0 and "judge_verdict" not in json.loads(out.read_text().splitlines()[0])
    assert main(["llm-eval", str(source), "--output", str(out), "--judge"]) == 0
    first, second = map(json.loads, out.read_text().splitlines())
    assert (first["judge_groundedness"], first["judge_relevance"], first["judge_verdict"]) == (0.7, 0.9, "good")
    assert first["judge_error"] is None and second["judge_error"] == "skipped: no answer"
    assert server.count == 1 and server.requests[0]["body"]["model"] == "cli-model"
    assert len(list((tmp_path / "home" / "judge_cache").glob("*.json"))) == 1
