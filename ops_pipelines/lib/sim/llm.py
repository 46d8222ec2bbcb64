"""LLM traces of the customer-support assistant, with per-trace quality labels kept apart."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from .badrows import BadRowLedger, inject_jsonl, injection_counts
from .clock import MINUTES_PER_DAY, MS_PER_MINUTE, Day, Stream, day_rng, iso_from_ms
from .config import WorldConfig
from .effects import shape_values
from .incidents import Incident
from .llm_text import Topic, compile_kb, pii_value
from .logfields import hex_ids
from .writers import write_lines

PII_KINDS = ("email", "phone", "card", "iban", "ip")


def _shares(table: dict[str, dict[str, Any]]) -> tuple[list[str], np.ndarray]:
    names = list(table)
    p = np.array([float(table[n]["traffic_share"]) for n in names])
    return names, p / p.sum()


def simulate_traces(cfg: WorldConfig, seed: int, day: Day, incidents: list[Incident]) -> tuple[list[dict], list[dict]]:
    """(observable traces, ground-truth labels) for one day, in time order."""
    app = cfg.section("llm_app")
    rng = day_rng(seed, day.index, Stream.LLM)
    norm = float(np.mean(cfg.section("seasonality")["hourly_utc"])) * MINUTES_PER_DAY
    minutes = np.repeat(np.arange(MINUTES_PER_DAY), rng.poisson(float(app["traces_per_weekday"]) * day.load / norm))
    n = len(minutes)
    ts_ms = np.sort(day.start_ms + minutes.astype(np.int64) * MS_PER_MINUTE + rng.integers(0, MS_PER_MINUTE, n))
    abs_min = day.index * MINUTES_PER_DAY + (ts_ms - day.start_ms) // MS_PER_MINUTE
    lat_mult, tok_mult, timeout_p = np.ones(n), np.ones(n), np.full(n, float(app["timeout_rate"]))
    for inc in incidents:
        if inc.llm:
            s = shape_values("plateau", inc.start, inc.end, 0, abs_min)
            lat_mult *= 1.0 + (inc.llm.get("latency_mult", 1.0) - 1.0) * s
            tok_mult *= 1.0 + (inc.llm.get("output_tokens_mult", 1.0) - 1.0) * s
            timeout_p += inc.llm.get("timeout_rate", 0.0) * s

    versions, v_p = _shares(app["prompt_versions"])
    models, m_p = _shares(app["models"])
    version = rng.choice(len(versions), n, p=v_p)
    model = rng.choice(len(models), n, p=m_p)
    u = rng.random(n)
    status = np.where(u < app["error_rate"], "error", np.where(u < app["error_rate"] + timeout_p, "timeout", "ok"))
    ok = status == "ok"
    rate = {k: np.array([app["prompt_versions"][v][k] for v in versions])[version]
            for k in ("hallucination_rate", "toxic_rate", "pii_leak_rate", "refusal_rate")}
    refusal = ok & (rng.random(n) < rate["refusal_rate"])
    halluc = ok & ~refusal & (rng.random(n) < rate["hallucination_rate"])
    toxic = ok & ~refusal & (rng.random(n) < rate["toxic_rate"])
    pii = ok & ~refusal & (rng.random(n) < rate["pii_leak_rate"])
    rude, rude_pick = _rude_draws(app, seed, day, version, versions, ok & ~refusal & ~toxic)
    draws = {
        "swap": rng.random(n) < 0.7, "topic": rng.integers(0, 1 << 30, n), "pick": rng.integers(0, 1 << 30, (n, 8)),
        "extra": rng.random(n) < float(app["extra_fact_share"]), "reference": rng.random(n) < float(app["reference_share"]),
        "missing": rng.random(n), "noise": rng.standard_normal(n), "pii_kind": rng.integers(0, len(PII_KINDS), n),
    }
    topics = compile_kb(app["knowledge_base"])
    trace_ids = hex_ids(rng, n, 32)
    order_ids = rng.integers(10**7, 10**8, n)
    launch, asks_launch = topic_shift(app, seed, day, n)
    traces, labels = [], []
    for i in range(n):
        topic = launch if asks_launch[i] else topics[draws["topic"][i] % len(topics)]
        question, contexts, reference = _qa(topics, topic, draws["pick"][i], order_ids[i])
        answer, kind, pii_kinds = None, None, []
        if ok[i]:
            answer, kind = _answer(app, topic, draws["pick"][i], refusal[i], halluc[i], draws["swap"][i],
                                   draws["extra"][i], toxic[i], tok_mult[i] > 1.5, rude_pick[i] if rude[i] else None)
            if pii[i]:
                pii_kinds = [PII_KINDS[draws["pii_kind"][i]]]
                value = pii_value(pii_kinds[0], rng, app["pii_names"], app["pii_domains"])
                answer = f"{answer} {app['pii_sentences'][pii_kinds[0]].format(value=value)}"
        traces.append({"trace_id": trace_ids[i], "timestamp": "", "app": app["app"], "model": models[model[i]],
                       "prompt_template_id": app["prompt_template_id"], "prompt_version": versions[version[i]],
                       "question": question, "contexts": contexts, "answer": answer,
                       "reference_answer": reference if draws["reference"][i] else None})
        labels.append({"trace_id": trace_ids[i], "hallucinated": bool(halluc[i]), "hallucination_kind": kind,
                       "toxic": bool(toxic[i]), "pii_leak": bool(pii[i]), "pii_kinds": pii_kinds,
                       "refusal": bool(refusal[i]), "rude": bool(rude[i]), "rude_kind": rude_pick[i][0] or None})
    _add_usage(app, traces, version, versions, model, models, status, tok_mult, lat_mult, draws, rng)
    for trace, stamp, st in zip(traces, iso_from_ms(ts_ms), status):
        trace["timestamp"] = stamp
        trace["status"] = str(st)
    return traces, labels


def topic_shift(app: dict, seed: int, day: Day, n: int) -> tuple[Topic | None, np.ndarray]:
    """The launch topic and which of the day's `n` traces ask about it: none before the shift day,
    then `shares[k]` of the traffic on the k-th day after it (the last share holds). Drawn from a
    stream of its own, so every other draw of the day is the same with or without the shift."""
    spec = app.get("topic_shift")
    if not spec or day.index < int(spec["day_offset"]):
        return None, np.zeros(n, dtype=bool)
    shares = spec["shares"]
    share = float(shares[min(day.index - int(spec["day_offset"]), len(shares) - 1)])
    rng = day_rng(seed, day.index, Stream.LLM, 1)
    return compile_kb([spec["topic"]])[0], rng.random(n) < share


def _qa(topics: list[Topic], topic: Topic, pick: np.ndarray, order_id: int) -> tuple[str, list[str], str]:
    """Question, retrieved contexts (the topic's passages plus one distractor), reference answer."""
    question = topic.questions[pick[0] % len(topic.questions)].format(order_id=f"ord-{order_id}")
    if topic in topics:
        other = topics[(topics.index(topic) + 1 + pick[1] % (len(topics) - 1)) % len(topics)]
    else:  # the launch topic: any regular topic is a distractor
        other = topics[pick[1] % len(topics)]
    contexts = list(topic.passages)
    contexts.insert(pick[2] % (len(contexts) + 1), other.passages[pick[3] % len(other.passages)])
    return question, contexts, topic.answers[0]


def _rude_draws(app: dict, seed: int, day: Day, version: np.ndarray, versions: list[str],
                eligible: np.ndarray) -> tuple[np.ndarray, list[tuple[str, str, str]]]:
    """Which traces are rude (per prompt version's `rude_rate`) and the (kind, at, text) phrasing of
    each: a stream of its own, so every other draw of the day is the same as without rudeness."""
    rng = day_rng(seed, day.index, Stream.LLM, 2)
    phrasings = [(kind, p["at"], p["text"]) for kind, ps in sorted(app.get("rude_phrasings", {}).items()) for p in ps]
    p_rude = np.array([float(app["prompt_versions"][v].get("rude_rate", 0.0)) for v in versions])[version]
    rude = eligible & (rng.random(len(version)) < p_rude) & bool(phrasings)
    picks = rng.integers(0, max(1, len(phrasings)), len(version))
    return rude, [phrasings[k] if r else ("", "", "") for k, r in zip(picks, rude)]


def _answer(app: dict, topic: Topic, pick: np.ndarray, refusal: bool, halluc: bool, swap: bool, extra: bool,
            toxic: bool, verbose: bool, rude: tuple[str, str, str] | None = None) -> tuple[str, str | None]:
    if refusal:
        return app["refusals"][pick[4] % len(app["refusals"])], None
    kind = None
    index = pick[5] % len(topic.answers)
    body = topic.answers[index]
    if halluc and swap:
        index, body = topic.wrong_answers[pick[6] % len(topic.wrong_answers)]
        kind = "swapped_fact"
    if halluc and not swap:
        body, kind = f"{body} {topic.invented[pick[6] % len(topic.invented)]}", "invented_claim"
    elif extra:
        # A grounded extra sentence, so answer length alone does not give hallucinations away.
        body = f"{body} {topic.extra_for[index]}"
    if verbose:
        body = f"{body} {app['verbose_filler']} {' '.join(topic.passages)}"
    greeting = app["greetings"][pick[7] % len(app["greetings"])]
    closing = app["closings"][pick[4] % len(app["closings"])]
    if toxic:
        greeting = app["toxic_openers"][pick[5] % len(app["toxic_openers"])]
    if rude:  # a rude opener replaces the greeting, a rude closer the closing
        _, at, text = rude
        greeting, closing = (text, closing) if at == "start" else (greeting, text)
    return f"{greeting}{body}{closing}", kind


def _add_usage(app: dict, traces: list[dict], version: np.ndarray, versions: list[str], model: np.ndarray,
               models: list[str], status: np.ndarray, tok_mult: np.ndarray, lat_mult: np.ndarray,
               draws: dict[str, np.ndarray], rng: np.random.Generator) -> None:
    """Token counts from text length; latency from the model profile; ~3% rows lack one count."""
    tpw = float(app["tokens_per_word"])
    words_in = np.array([len(t["question"].split()) + sum(len(c.split()) for c in t["contexts"]) for t in traces])
    words_out = np.array([len(t["answer"].split()) if t["answer"] else 0 for t in traces])
    sys_tokens = np.array([app["prompt_versions"][v]["system_prompt_tokens"] for v in versions])[version]
    tokens_in = (sys_tokens + np.round(tpw * words_in)).astype(int)
    tokens_out = np.round(tpw * words_out * np.where(tok_mult > 1.5, 1.0, tok_mult)).astype(int)
    prof = {k: np.array([app["models"][m][k] for m in models])[model]
            for k in ("base_ms", "ms_per_output_token", "ms_per_input_token", "sigma")}
    latency = (prof["base_ms"] + prof["ms_per_output_token"] * tokens_out + prof["ms_per_input_token"] * tokens_in)
    latency = latency * np.exp(prof["sigma"] * draws["noise"]) * lat_mult
    latency = np.where(status == "timeout", float(app["timeout_ms"]), np.minimum(latency, float(app["timeout_ms"]) - 1))
    latency = np.where(status == "error", rng.uniform(150, 900, len(traces)), latency)
    share = float(app["missing_tokens_share"])
    for t, ti, to, lat, miss in zip(traces, tokens_in.tolist(), tokens_out.tolist(), latency.tolist(), draws["missing"]):
        t["input_tokens"] = None if miss < share / 2 else ti
        t["output_tokens"] = None if share / 2 <= miss < share else to
        t["latency_ms"] = int(round(lat))


def write_traces(out: Path, cfg: WorldConfig, seed: int, day: Day, traces: list[dict],
                 ledger: BadRowLedger) -> int:
    rng = day_rng(seed, day.index, Stream.BAD_ROWS, 4)
    lines = [json.dumps(t) for t in traces]
    counts = injection_counts(cfg.section("bad_rows")["llm_traces"], len(lines), rng)
    lines, bad = inject_jsonl(lines, lambda i: dict(traces[i]), rng, counts,
                              required=("trace_id", "timestamp", "question"), numeric_key="latency_ms")
    rel = f"llm_traces/{day.iso}/traces.jsonl"
    write_lines(out / rel, lines)
    ledger.record(rel, len(lines), bad)
    return len(lines)
