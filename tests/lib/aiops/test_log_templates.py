"""Log templates (masking, level-independent templates, stable ids, pickle-free state), the wording
rules (severity ranks, dump fields, caller errors) and the Loghub-style scores."""

import re
import zipfile

import numpy as np
import pandas as pd
import pytest

from ops_pipelines.lib.aiops.log_eval import grouping_accuracy, line_scores, per_level
from ops_pipelines.lib.aiops.log_rules import (
    CRITICAL,
    DEBUG,
    ERROR,
    INFO,
    WARN,
    is_caller_error,
    is_dump_field,
    most_severe,
    severity,
)
from ops_pipelines.lib.aiops.log_templates import (
    LogTemplateMiner,
    daily_templates,
    load_miner,
    mine_logs,
    save_miner,
)
from tests.lib.aiops.log_data import NORMAL, START, lines, synthetic_logs


def test_masking_collapses_variable_fields_into_one_template():
    miner = LogTemplateMiner()
    masked = miner.mask("user u123456 from 10.1.2.3:8080 took 250ms id=9f86d081884c7d65 "
                        "trace 123e4567-e89b-12d3-a456-426614174000 retries 3 ptr 0x7ffd")
    for mask in ("<ID>", "<IP>", "<DURATION>", "<HEX>", "<UUID>", "<NUM>"):
        assert mask in masked
    assert not re.search(r"\d", masked)  # no variable digit survives
    assert miner.mask("GET /api/v1/products 200").startswith("GET /api/v1/products ")  # paths stay words
    rng = np.random.default_rng(1)
    frame = pd.concat([lines(rng, np.arange(30), np.full(30, 3.0), svc, lvl, fn).assign(statement=name)
                       for name, (svc, lvl, _, fn) in NORMAL.items()], ignore_index=True)
    mined, _ = mine_logs(frame)
    # one template per statement, and no statement split over several templates
    assert mined.lines.groupby("statement")["template_id"].nunique().eq(1).all()
    assert mined.lines["template_id"].nunique() == len(NORMAL)
    assert not mined.templates["template"].str.contains(r"\d").any()


def test_one_event_is_one_template_whatever_its_level():
    frame = pd.DataFrame({"timestamp": pd.date_range(START, periods=5, freq="s"), "service": "api",
                          "level": ["INFO", "INFO", "ERROR", "warning", "ERROR"],
                          "message": [f"GET /cart {s} 12ms" for s in (200, 204, 500, 429, 503)]})
    mined, _ = mine_logs(frame)
    assert mined.lines["template_id"].nunique() == 1
    assert mined.lines["level"].tolist() == ["INFO", "INFO", "ERROR", "WARN", "ERROR"]  # kept per line
    assert mined.templates["level"].tolist() == ["ERROR"]  # the template keeps its most severe level
    assert mined.templates["template"].iloc[0] == "GET /cart <NUM> <DURATION>"  # no level in the text


def test_template_ids_day_by_day_equal_one_pass_and_state_is_reproducible(tmp_path):
    days = [synthetic_logs(0), synthetic_logs(1, novel=[("disk", "ERROR", 600, 10, 3)])]
    slow = days[1].index[days[1]["message"].str.startswith("slow query")][::3]
    days[1].loc[slow, "message"] = days[1].loc[slow, "message"].str.replace("slow query", "slow scan")
    miner, by_day = None, []
    for i, frame in enumerate(days):
        mined, miner = mine_logs(frame, miner)
        save_miner(miner, tmp_path / f"miner-{i}.zip")
        miner = load_miner(tmp_path / f"miner-{i}.zip")
        by_day.append(mined)
    whole, whole_miner = mine_logs(pd.concat(days, ignore_index=True))
    ids = np.concatenate([m.lines["template_id"].to_numpy() for m in by_day])
    assert np.array_equal(ids, whole.lines["template_id"].to_numpy())
    assert whole.templates.equals(by_day[-1].templates)
    save_miner(whole_miner, tmp_path / "whole.zip")
    assert (tmp_path / "whole.zip").read_bytes() == (tmp_path / "miner-1.zip").read_bytes()
    _, again = mine_logs(days[0])
    save_miner(again, tmp_path / "again.zip")
    assert (tmp_path / "again.zip").read_bytes() == (tmp_path / "miner-0.zip").read_bytes()
    with zipfile.ZipFile(tmp_path / "again.zip") as zf:
        assert zf.namelist() == ["miner.json"] and b"py/" not in zf.read("miner.json")
    table = daily_templates(by_day[1])
    assert table["count"].sum() == len(by_day[1].lines)
    assert table.loc[table["is_new"], "template"].tolist() == ["disk quota exceeded on volume <ID>, <NUM>% used"]


def test_state_of_another_miner_version_is_refused(tmp_path):
    _, miner = mine_logs(synthetic_logs(0).iloc[:50])
    doc = miner.to_bytes().replace(b'"format":2', b'"format":1')
    with pytest.raises(ValueError, match="another miner version"):
        LogTemplateMiner.from_bytes(doc)


@pytest.mark.parametrize("frame", [pd.DataFrame(), synthetic_logs(0).iloc[:0]])
def test_empty_input(frame, tmp_path):
    mined, miner = mine_logs(frame)
    assert mined.lines.empty and mined.skipped == 0 and miner.history_start is None
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
    assert "WARN" in set(mined.lines["level"])
    with pytest.raises(ValueError, match="message"):
        mine_logs(frame.drop(columns="message"))


def test_severity_ranks_level_names_from_many_systems():
    names = ["trace", "DEBUG", "INFO", "notice", "WARN", "WARNING", "ERROR", "SEVERE", "FAILURE", "FATAL",
             "CRITICAL", "emerg", "chatty"]
    assert severity(names).tolist() == [DEBUG, DEBUG, INFO, INFO, WARN, WARN, ERROR, ERROR, ERROR, CRITICAL,
                                        CRITICAL, CRITICAL, INFO]
    assert most_severe(["INFO", "ERROR", "WARN", "SEVERE"]) == "ERROR"


def test_dump_fields_are_name_and_value_lines_and_events_are_not():
    dump = ["cache enable.....................1", "instruction pointer: 0x0040ab12", "Link Register : 0x1ff0",
            "r1=0x00000000 r2=0x0000ff00", "general purpose registers:", "0x0000 0x1234 0xdead0000",
            "stack depth (0=none,1=full)......0"]
    events = ["storage node sn-4 halted: controller firmware fault", "kernel panic - not syncing: Attempted to kill init!",
              "rts: kernel terminated for reason 1004", "data TLB error interrupt", "retrying in 5",
              "disk sda failed: I/O error", "lost connection to 10.0.0.7:5432", "mount FAILED : io11 : block_id : location"]
    assert is_dump_field(pd.Series(dump)).all()
    assert not is_dump_field(pd.Series(events)).any()


def test_caller_errors_are_errno_texts_of_a_bad_request_not_system_faults():
    caller = ["Error loading /home/u/app: invalid or missing program image, No such file or directory",
              "open(/etc/app.conf) failed: Permission denied", "mmap: Invalid argument", "bind: Operation not permitted"]
    system = ["write /data/wal: Input/output error", "fork failed: Cannot allocate memory",
              "read from peer: Connection reset by peer", "waitpid: No child processes", "write: No space left on device"]
    assert is_caller_error(pd.Series(caller)).all()
    assert not is_caller_error(pd.Series(system)).any()


def test_grouping_accuracy_counts_a_group_right_only_when_it_is_exactly_matched():
    truth = ["a", "a", "b", "b", "c", "d", "d"]
    # a: exact; b: split in two (both lines wrong); c and d merged into one group (all three wrong)
    predicted = [1, 1, 2, 3, 4, 4, 4]
    assert grouping_accuracy(truth, predicted) == pytest.approx(2 / 7)
    assert grouping_accuracy(truth, truth) == 1.0
    assert grouping_accuracy(truth, ["x"] * 7) == 0.0
    with pytest.raises(ValueError):
        grouping_accuracy(truth, predicted[:-1])


def test_line_scores_and_per_level():
    predicted = [True, True, False, False, True]
    actual = [True, False, True, False, True]
    s = line_scores(predicted, actual)
    assert (s["tp"], s["fp"], s["fn"]) == (2, 1, 1)
    assert s["precision"] == pytest.approx(2 / 3, abs=1e-4) and s["f1"] == pytest.approx(2 / 3, abs=1e-4)
    levels = per_level(["CRITICAL", "INFO", "CRITICAL", "INFO", "CRITICAL"], predicted, actual)
    assert levels["CRITICAL"]["tp"] == 2 and levels["CRITICAL"]["fn"] == 1 and levels["INFO"]["fp"] == 1
    assert line_scores([False, False], [False, True])["precision"] == 0.0


def test_mining_twice_in_one_process_gives_the_same_lines_and_mines_once(tmp_path, monkeypatch):
    import pandas as pd

    from ops_pipelines.lib.aiops import log_templates as lt

    logs = pd.DataFrame({"timestamp": pd.date_range("2026-03-02", periods=6, freq="min", tz="UTC"),
                         "service": ["a"] * 6, "level": ["INFO"] * 6,
                         "message": [f"user {i} logged in from 10.0.0.{i}" for i in range(6)]})
    first, miner = lt.mine_logs_from(logs, None)
    state = tmp_path / "state.zip"
    lt.save_miner(miner, state)
    calls = []
    real = lt.mine_logs
    monkeypatch.setattr(lt, "mine_logs", lambda *a, **k: calls.append(1) or real(*a, **k))
    later = logs.assign(timestamp=logs["timestamp"] + pd.Timedelta(days=1))
    a, _ = lt.mine_logs_from(later, state)
    a.lines["template_id"] = -1  # the caller's copy: the cached result is not changed by it
    b, _ = lt.mine_logs_from(later, state)
    assert calls == [1]
    expected, _ = real(later, lt.load_miner(state))
    pd.testing.assert_frame_equal(b.lines, expected.lines)
    assert b.lines["template_id"].nunique() == 1 and (b.lines["template_id"] == first.lines["template_id"].iloc[0]).all()
    lt.mine_logs_from(later.iloc[:3], state)  # other input: mined anew
    assert calls == [1, 1]
