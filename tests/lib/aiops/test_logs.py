"""Log templates (masking, stable ids, pickle-free state) and log anomalies (bursts, new templates)."""

import re
import zipfile

import numpy as np
import pandas as pd
import pytest

from ops_pipelines.lib.aiops.log_templates import (
    LogTemplateMiner,
    daily_templates,
    load_miner,
    mine_logs,
    save_miner,
)
from ops_pipelines.lib.aiops.logs import (
    COLUMNS,
    load_detector_state,
    save_detector_state,
    score_logs,
    template_counts,
)

START = pd.Timestamp("2026-03-02", tz="UTC")
TABLES = np.array(["orders", "users"], dtype=object)

# name -> (service, level, lines per minute at the daily peak, message renderer)
NORMAL = {
    "access": ("api", "INFO", 4.0, lambda r, n: [f"GET /api/items/{i} 200 {ms}ms request_id={h}" for i, ms, h in
                                                 zip(r.integers(1, 999, n), r.integers(3, 900, n), _hex(r, n))]),
    "cache": ("api", "DEBUG", 1.5, lambda r, n: [f"cache hit key=item:{k} ttl={t}s" for k, t in
                                                 zip(r.integers(1, 99999, n), r.integers(60, 3600, n))]),
    "slow": ("db", "WARN", 0.3, lambda r, n: [f"slow query took {ms}ms on table {t}" for ms, t in
                                              zip(r.integers(500, 3000, n), r.choice(TABLES, n))]),
    "conn": ("db", "INFO", 2.0, lambda r, n: [f"connection from {_ip(r)} accepted" for _ in range(n)]),
    "timeout": ("api", "ERROR", 0.04, lambda r, n: [f"request {_uuid(r)} failed: upstream timeout after {ms}ms"
                                                    for ms in r.integers(1000, 5000, n)]),
}
# statements never seen in normal traffic (ERROR, service api)
NOVEL = {
    "disk": lambda r, n: [f"disk quota exceeded on volume vol-{v}, {p}% used" for v, p in
                          zip(r.integers(1, 9, n), r.integers(95, 100, n))],
    "quorum": lambda r, n: [f"replica db-{v} lost quorum after {k} missed heartbeats" for v, k in
                            zip(r.integers(1, 4, n), r.integers(3, 9, n))],
}


def _hex(r, n):
    return [f"{v:016x}" for v in r.integers(0, 2**62, n)]


def _ip(r):
    return "10." + ".".join(str(v) for v in r.integers(1, 255, 3))


def _uuid(r):
    h = f"{int(r.integers(0, 2**62)):016x}{int(r.integers(0, 2**62)):016x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:32]}"


def _lines(rng, minutes: np.ndarray, per_minute: np.ndarray, service: str, level: str, render) -> pd.DataFrame:
    counts = rng.poisson(per_minute)
    at = np.repeat(minutes, counts)
    ts = START + pd.to_timedelta(at * 60 + rng.uniform(0, 60, len(at)), unit="s")
    return pd.DataFrame({"timestamp": ts, "service": service, "host": f"{service}-1", "level": level,
                         "message": render(rng, len(at))})


def synthetic_logs(day: int, seed: int = 0, bursts=(), novel=None) -> pd.DataFrame:
    """One day (0 = 2026-03-02) of normal traffic with a daily cycle, plus injected extras.

    bursts: (template name, first minute of day, minutes, lines per minute) of extra lines.
    novel: (NOVEL name, minute of day): a never-seen ERROR statement from then on, 3 lines/min for 10 min.
    """
    rng = np.random.default_rng([seed, day])
    minutes = np.arange(day * 1440, (day + 1) * 1440)
    cycle = 0.35 + 0.65 * np.sin(np.pi * (minutes % 1440) / 1440) ** 2  # quiet nights, busy afternoons
    parts = [_lines(rng, minutes, rate * cycle, svc, lvl, fn) for svc, lvl, rate, fn in NORMAL.values()]
    for name, first, length, rate in bursts:
        svc, lvl, _, fn = NORMAL[name]
        span = np.arange(first, first + length) + day * 1440
        parts.append(_lines(rng, span, np.full(length, float(rate)), svc, lvl, fn))
    if novel is not None:
        span = np.arange(novel[1], novel[1] + 10) + day * 1440
        parts.append(_lines(rng, span, np.full(10, 3.0), "api", "ERROR", NOVEL[novel[0]]))
    return pd.concat(parts, ignore_index=True).sort_values("timestamp", kind="stable", ignore_index=True)


def run_days(frames, tmp_path):
    """Mine and score day by day, saving and reloading both states between days."""
    miner = detector = None
    mined_days, scored_days = [], []
    for i, frame in enumerate(frames):
        mined, miner = mine_logs(frame, miner)
        scored, detector = score_logs(mined, detector)
        save_miner(miner, tmp_path / f"miner-{i}.zip")
        save_detector_state(detector, tmp_path / f"detector-{i}.zip")
        miner, detector = load_miner(tmp_path / f"miner-{i}.zip"), load_detector_state(tmp_path / f"detector-{i}.zip")
        mined_days.append(mined)
        scored_days.append(scored)
    return mined_days, pd.concat(scored_days, ignore_index=True)


def test_masking_collapses_variable_fields_into_one_template():
    miner = LogTemplateMiner()
    masked = miner.mask("user u123456 from 10.1.2.3:8080 took 250ms id=9f86d081884c7d65 "
                        "trace 123e4567-e89b-12d3-a456-426614174000 retries 3 ptr 0x7ffd")
    for mask in ("<ID>", "<IP>", "<DURATION>", "<HEX>", "<UUID>", "<NUM>"):
        assert mask in masked
    assert not re.search(r"\d", masked)  # no variable digit survives
    assert miner.mask("GET /api/v1/products 200").startswith("GET /api/v1/products ")  # paths stay words
    rng = np.random.default_rng(1)
    frame = pd.concat([_lines(rng, np.arange(30), np.full(30, 3.0), svc, lvl, fn).assign(statement=name)
                       for name, (svc, lvl, _, fn) in NORMAL.items()], ignore_index=True)
    mined, _ = mine_logs(frame)
    # one template per statement, and no statement split over several templates
    assert mined.lines.groupby("statement")["template_id"].nunique().eq(1).all()
    assert mined.lines["template_id"].nunique() == len(NORMAL)
    assert not mined.templates["template"].str.contains(r"\d").any()


def test_the_same_text_at_another_level_is_another_template():
    frame = pd.DataFrame({"timestamp": pd.date_range(START, periods=4, freq="s"), "service": "api",
                          "level": ["INFO", "INFO", "ERROR", "ERROR"],
                          "message": [f"GET /cart {s} 12ms" for s in (200, 204, 500, 503)]})
    mined, _ = mine_logs(frame)
    ids = mined.lines["template_id"].to_numpy()
    assert ids[0] == ids[1] and ids[2] == ids[3] and ids[0] != ids[2]
    assert set(mined.templates["level"]) == {"INFO", "ERROR"}


def test_template_ids_day_by_day_equal_one_pass_and_state_is_reproducible(tmp_path):
    days = [synthetic_logs(0), synthetic_logs(1, novel=("disk", 600))]
    slow = days[1].index[days[1]["message"].str.startswith("slow query")][::3]
    days[1].loc[slow, "message"] = days[1].loc[slow, "message"].str.replace("slow query", "slow scan")
    mined_days, scored = run_days(days, tmp_path)
    whole, whole_miner = mine_logs(pd.concat(days, ignore_index=True))
    by_day = np.concatenate([m.lines["template_id"].to_numpy() for m in mined_days])
    assert np.array_equal(by_day, whole.lines["template_id"].to_numpy())
    assert whole.templates.equals(mined_days[-1].templates)
    save_miner(whole_miner, tmp_path / "whole.zip")
    assert (tmp_path / "whole.zip").read_bytes() == (tmp_path / "miner-1.zip").read_bytes()
    whole_scored, whole_detector = score_logs(whole)
    cols = ["timestamp", "service", "template_id", "count", "baseline", "score", "kind"]
    assert scored[cols].equals(whole_scored[cols])
    save_detector_state(whole_detector, tmp_path / "whole-detector.zip")
    assert (tmp_path / "whole-detector.zip").read_bytes() == (tmp_path / "detector-1.zip").read_bytes()
    # The same input gives the same bytes, and the state is plain JSON (no jsonpickle objects).
    _, again = mine_logs(days[0])
    save_miner(again, tmp_path / "again.zip")
    assert (tmp_path / "again.zip").read_bytes() == (tmp_path / "miner-0.zip").read_bytes()
    with zipfile.ZipFile(tmp_path / "again.zip") as zf:
        assert zf.namelist() == ["miner.json"] and b"py/" not in zf.read("miner.json")


def test_an_error_burst_is_flagged_and_normal_traffic_is_not(tmp_path):
    burst = ("timeout", 600, 20, 12)  # 10:00-10:19 on day 3, 12 lines/min of a rare ERROR
    _, scored = run_days([synthetic_logs(0), synthetic_logs(1), synthetic_logs(2, bursts=[burst])], tmp_path)
    flagged = scored[scored["is_anomaly"]]
    lo = START + pd.Timedelta(days=2, minutes=600)
    inside = (flagged["timestamp"] >= lo) & (flagged["timestamp"] < lo + pd.Timedelta(minutes=20))
    assert inside.sum() >= 15 and (flagged.loc[inside, "kind"] == "burst").all()
    assert set(flagged.loc[inside, "level"]) == {"ERROR"} and set(flagged.loc[inside, "service"]) == {"api"}
    assert not flagged[~inside].size  # two days of normal traffic (after warm-up): nothing flagged
    assert scored["score"].between(0, 1).all()
    assert (scored.loc[~scored["is_anomaly"], "score"] < 0.5).all()


def test_a_daily_job_is_learned_but_the_same_burst_at_another_hour_is_flagged(tmp_path):
    nightly = ("slow", 120, 30, 20)  # 02:00-02:29 every day: seasonal, not an incident
    frames = [synthetic_logs(d, bursts=[nightly] + ([("slow", 840, 30, 20)] if d == 2 else [])) for d in range(3)]
    _, scored = run_days(frames, tmp_path)
    flagged = scored[scored["is_anomaly"]]
    minute_of_day = flagged["timestamp"].dt.hour * 60 + flagged["timestamp"].dt.minute
    assert minute_of_day.between(840, 869).sum() >= 10
    assert not flagged[~minute_of_day.between(840, 869)].size


def test_a_new_template_after_warm_up_is_flagged_once(tmp_path):
    frames = [synthetic_logs(0, novel=("disk", 300)), synthetic_logs(1), synthetic_logs(2, novel=("quorum", 700))]
    mined, scored = run_days(frames, tmp_path)
    new = scored[scored["kind"] == "new_template"]
    assert len(new) == 1 and new["is_anomaly"].all() and (new["score"] == 1.0).all()
    first = START + pd.Timedelta(days=2, minutes=700)
    assert first <= new["timestamp"].iloc[0] < first + pd.Timedelta(minutes=3)
    assert new["template"].iloc[0].startswith("replica <ID> lost quorum")
    # the statement first seen on day 1 (warm-up) is known history, not new on day 1
    assert not scored[scored["timestamp"] < START + pd.Timedelta(days=1)]["is_anomaly"].any()
    table = daily_templates(mined[2])
    assert table.loc[table["is_new"], "template"].tolist() == [new["template"].iloc[0]]
    assert table["count"].sum() == len(mined[2].lines)


def test_counts_per_minute_and_template(tmp_path):
    mined, _ = mine_logs(synthetic_logs(0))
    counts = template_counts(mined.lines)
    assert counts["count"].sum() == len(mined.lines)
    one = mined.lines[(mined.lines["minute"] == counts["minute"].iloc[0]) & (mined.lines["service"] == counts["service"].iloc[0])
                      & (mined.lines["template_id"] == counts["template_id"].iloc[0])]
    assert len(one) == counts["count"].iloc[0]
    assert not counts.duplicated(["minute", "service", "template_id"]).any()


@pytest.mark.parametrize("frame", [pd.DataFrame(), synthetic_logs(0).iloc[:0]])
def test_empty_input(frame, tmp_path):
    mined, miner = mine_logs(frame)
    assert mined.lines.empty and mined.skipped == 0 and miner.history_start is None
    scored, state = score_logs(mined)
    assert scored.empty and list(scored.columns) == COLUMNS and state.last_minute is None
    assert daily_templates(mined).empty
    save_miner(miner, tmp_path / "m.zip")
    assert load_miner(tmp_path / "m.zip").templates().empty


def test_malformed_rows_are_skipped_and_counted_missing_columns_raise():
    frame = synthetic_logs(0).iloc[:200].copy()
    frame.loc[frame.index[:3], "level"] = np.nan
    frame.loc[frame.index[3:5], "message"] = None
    frame.loc[frame.index[5], "timestamp"] = pd.NaT
    frame.loc[frame.index[6], "level"] = "warning"  # an alias, normalised: not malformed
    mined, _ = mine_logs(frame)
    assert mined.skipped == 6 and len(mined.lines) == 194
    assert "WARN" in set(mined.templates["level"])
    with pytest.raises(ValueError, match="message"):
        mine_logs(frame.drop(columns="message"))


def test_scoring_must_move_forward_in_time():
    day1, _ = mine_logs(synthetic_logs(1))
    _, state = score_logs(day1)
    day0, _ = mine_logs(synthetic_logs(0))
    with pytest.raises(ValueError, match="forward in time"):
        score_logs(day0, state)
