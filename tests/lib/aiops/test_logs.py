"""Log anomalies per line: critical lines at any rate, bursts against each template's learned rate,
INFO never on its own, traceable verdicts, and state carried across days equal to one pass."""

import numpy as np
import pandas as pd
import pytest

from ops_pipelines.lib.aiops.log_templates import load_miner, mine_logs, save_miner
from ops_pipelines.lib.aiops.logs import (
    COLUMNS,
    KINDS,
    LogDetectorParams,
    load_detector_state,
    save_detector_state,
    score_logs,
)
from tests.lib.aiops.log_data import START, at_minutes, synthetic_logs


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


def on_day(scored, day):
    return scored[(scored["timestamp"] >= START + pd.Timedelta(days=day))
                  & (scored["timestamp"] < START + pd.Timedelta(days=day + 1))]


def test_normal_traffic_with_a_routine_error_trickle_raises_nothing(tmp_path):
    _, scored = run_days([synthetic_logs(d) for d in range(3)], tmp_path)
    frequent = scored[scored["message"].str.startswith("payment provider call failed")]
    assert len(on_day(frequent, 2)) > 500  # about one ERROR line a minute, every day
    assert not scored["is_anomaly"].any() and not on_day(scored, 2)["in_burst"].any()
    assert set(scored["kind"]) <= set(KINDS) and scored["score"].between(0, 1).all()


def test_a_critical_template_is_an_alert_at_any_rate(tmp_path):
    # one line every three hours: far below any burst threshold, and on the warm-up day too
    rare = [at_minutes(d, [100, 280, 460], "storage", "FATAL",
                       [f"storage node sn-{d}{m} halted: controller firmware fault" for m in range(3)]) for d in range(3)]
    frames = [pd.concat([synthetic_logs(d), rare[d]], ignore_index=True) for d in range(3)]
    _, scored = run_days(frames, tmp_path)
    fatal = scored[scored["service"] == "storage"]
    assert len(fatal) == 9 and fatal["template_id"].nunique() == 1
    assert fatal["is_anomaly"].all() and (fatal["kind"] == "critical").all() and (fatal["score"] == 1.0).all()
    assert fatal["reason"].str.contains("alert at any rate").all()
    assert (fatal["level"] == "CRITICAL").all()  # FATAL is read as CRITICAL
    assert scored["is_anomaly"].sum() == 9  # and nothing else


def test_an_error_burst_alerts_at_its_onset_and_its_lines_are_marked(tmp_path):
    burst = ("timeout", 600, 20, 12)  # 10:00-10:19 on day 2, 12 lines/min of a rare ERROR
    _, scored = run_days([synthetic_logs(0), synthetic_logs(1), synthetic_logs(2, bursts=[burst])], tmp_path)
    lo = START + pd.Timedelta(days=2, minutes=600)
    inside = scored["timestamp"].between(lo, lo + pd.Timedelta(minutes=20))
    timeout = scored["message"].str.contains("upstream timeout")
    alerts = scored[scored["is_anomaly"]]
    assert len(alerts) and inside[alerts.index].all() and timeout[alerts.index].all()
    assert (alerts["kind"] == "burst").all() and alerts["reason"].str.startswith("burst").all()
    assert alerts["timestamp"].min() < lo + pd.Timedelta(minutes=2)  # onset within the first minute or two
    assert len(alerts) == 1  # one alert per burst, not one per line
    assert scored.loc[inside & timeout, "in_burst"].mean() > 0.9  # every line while it lasts is evidence
    assert alerts["count"].iloc[0] >= 7 and alerts["baseline"].iloc[0] < 1
    assert not scored.loc[~inside, "in_burst"].any()


def test_the_frequent_error_trickle_is_learned_but_its_burst_alerts(tmp_path):
    burst = ("retry", 900, 15, 8)  # 15:00-15:14 on day 2: eight a minute where about one is normal
    _, scored = run_days([synthetic_logs(0), synthetic_logs(1), synthetic_logs(2, bursts=[burst])], tmp_path)
    alerts = scored[scored["is_anomaly"]]
    lo = START + pd.Timedelta(days=2, minutes=900)
    assert len(alerts) == 1 and alerts["message"].str.startswith("payment provider call failed").all()
    assert lo <= alerts["timestamp"].iloc[0] < lo + pd.Timedelta(minutes=3)
    assert alerts["baseline"].iloc[0] > 3  # judged against its learned rate, not against a never-seen prior


def test_a_never_seen_info_line_is_not_an_alert_on_its_own(tmp_path):
    novel = [("quorum", "INFO", 700, 10, 20)]  # a never-seen statement, even 20 lines a minute
    _, scored = run_days([synthetic_logs(0), synthetic_logs(1, novel=novel)], tmp_path)
    new = scored[scored["message"].str.startswith("replica")]
    assert len(new) > 100 and not new["is_anomaly"].any() and not new["in_burst"].any()
    assert (new["kind"] == "level").all() and new["reason"].str.contains("not an alert on its own").all()
    # the same statement as a never-seen ERROR burst is an alert
    _, scored = run_days([synthetic_logs(0), synthetic_logs(1, novel=[("quorum", "ERROR", 700, 10, 20)])],
                         tmp_path / "error")
    assert scored.loc[scored["message"].str.startswith("replica"), "is_anomaly"].any()


def test_dump_fields_and_caller_errors_are_not_alerts_on_their_own(tmp_path):
    extra = pd.concat([
        at_minutes(1, [300], "node", "FATAL", ["storage node sn-7 halted: controller firmware fault"]),
        at_minutes(1, [301, 302, 303], "node", "FATAL", ["instruction pointer: 0x0040ab12", "cache enable.......1",
                                                         "r1=0x00000000 r2=0x0000ff00"]),
        at_minutes(1, [500], "node", "FATAL", ["Error loading /home/u/job.bin: No such file or directory"]),
        # the same caller error twenty times in ten minutes: judged as an ERROR, so its burst alerts
        at_minutes(1, np.repeat(np.arange(900, 910), 2), "node", "FATAL",
                   [f"open /scratch/u{k}/in.dat failed: Permission denied" for k in range(20)]),
    ], ignore_index=True)
    _, scored = run_days([synthetic_logs(0), pd.concat([synthetic_logs(1), extra], ignore_index=True)], tmp_path)
    node = scored[scored["service"] == "node"].reset_index(drop=True)
    assert node["kind"].tolist()[:5] == ["critical", "dump_field", "dump_field", "dump_field", "burst"]
    assert node["is_anomaly"].tolist()[:5] == [True, False, False, False, False]
    assert node["reason"].iloc[4].startswith("CRITICAL caller error, judged as ERROR")
    denied = node.iloc[5:]
    assert denied["is_anomaly"].sum() == 1 and denied["in_burst"].sum() >= 10  # one alert per burst
    assert denied.loc[denied["is_anomaly"], "reason"].str.contains("caller error, judged as ERROR: burst").all()


def test_a_daily_job_is_learned_but_the_same_burst_at_another_hour_is_flagged(tmp_path):
    nightly = ("slow", 120, 30, 20)  # 02:00-02:29 every day: seasonal, not an incident
    frames = [synthetic_logs(d, bursts=[nightly] + ([("slow", 840, 30, 20)] if d == 4 else [])) for d in range(5)]
    _, scored = run_days(frames, tmp_path)
    alerts = scored[scored["is_anomaly"]]
    day = (alerts["timestamp"] - START).dt.days
    minute_of_day = alerts["timestamp"].dt.hour * 60 + alerts["timestamp"].dt.minute
    assert not alerts[day >= 3].pipe(lambda a: a[a["timestamp"].dt.hour == 2]).size  # learned after 2 days
    assert minute_of_day[day == 4].between(840, 869).any()  # the same burst in the afternoon is news
    assert alerts[day == 4]["message"].str.startswith("slow").all()


def test_rows_are_lines_with_their_template_id(tmp_path):
    mined_days, scored = run_days([synthetic_logs(0, novel=[("disk", "ERROR", 300, 10, 3)])], tmp_path)
    mined = mined_days[0]
    assert list(scored.columns) == COLUMNS and len(scored) == len(mined.lines)
    assert np.array_equal(scored["template_id"].to_numpy(), mined.lines["template_id"].to_numpy())
    assert scored["message"].tolist() == mined.lines["message"].tolist()
    assert scored["timestamp"].is_monotonic_increasing
    texts = mined.templates.set_index("template_id")["template"]
    assert (scored["template"] == texts.reindex(scored["template_id"]).to_numpy()).all()
    assert (scored["reason"].str.len() > 0).all()


def test_state_carried_day_by_day_equals_one_pass(tmp_path):
    frames = [synthetic_logs(0), synthetic_logs(1, bursts=[("timeout", 300, 15, 10)]),
              synthetic_logs(2, novel=[("disk", "ERROR", 600, 10, 3)], bursts=[("slow", 60, 20, 15)])]
    mined_days, scored = run_days(frames, tmp_path)
    whole, _ = mine_logs(pd.concat(frames, ignore_index=True))
    one_pass, state = score_logs(whole)
    assert scored.equals(one_pass)
    assert scored["is_anomaly"].sum() >= 2  # the comparison covers alerts, not only quiet lines
    save_detector_state(state, tmp_path / "whole.zip")
    assert (tmp_path / "whole.zip").read_bytes() == (tmp_path / "detector-2.zip").read_bytes()
    # a day split at any line scores the same as the whole day
    day = mine_logs(frames[0])[0]
    half = len(day.lines) // 2
    first, s1 = score_logs(type(day)(day.lines.iloc[:half].reset_index(drop=True), day.templates, day.history_start, 0))
    second, _ = score_logs(type(day)(day.lines.iloc[half:].reset_index(drop=True), day.templates, day.history_start, 0), s1)
    assert pd.concat([first, second], ignore_index=True).equals(score_logs(day)[0])


@pytest.mark.parametrize("frame", [pd.DataFrame(), synthetic_logs(0).iloc[:0]])
def test_empty_input(frame, tmp_path):
    mined, _ = mine_logs(frame)
    scored, state = score_logs(mined)
    assert scored.empty and list(scored.columns) == COLUMNS and state.last_line_ns is None
    save_detector_state(state, tmp_path / "s.zip")
    assert load_detector_state(tmp_path / "s.zip").keys == []


def test_scoring_must_move_forward_in_time():
    day1, _ = mine_logs(synthetic_logs(1))
    _, state = score_logs(day1)
    day0, _ = mine_logs(synthetic_logs(0))
    with pytest.raises(ValueError, match="forward in time"):
        score_logs(day0, state)


def test_state_written_with_other_slots_is_refused(tmp_path):
    _, state = score_logs(mine_logs(synthetic_logs(0))[0])
    save_detector_state(state, tmp_path / "s.zip")
    with pytest.raises(ValueError, match="slot"):
        load_detector_state(tmp_path / "s.zip", LogDetectorParams(slot_minutes=60))
