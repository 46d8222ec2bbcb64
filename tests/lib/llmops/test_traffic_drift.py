"""LLM traffic drift: descriptors, OOV shares, new topics, and the sample world's topic shift."""

import json

import numpy as np
import pandas as pd
import pytest

from ops_pipelines.lib.ingest.landing import ingest_partition
from ops_pipelines.lib.llmops.language import language
from ops_pipelines.lib.llmops.topics import new_topic_labels, new_topics
from ops_pipelines.lib.llmops.traffic import descriptors, oov_shares, question_type, vocabulary_words
from ops_pipelines.lib.llmops.traffic_drift import traffic_drift
from ops_pipelines.lib.sim.config import load_config


@pytest.fixture(scope="module")
def shift_traces(topic_shift_world):
    root, shift, days = topic_shift_world
    frames = {day: ingest_partition("llm_traces", root, day).rows for day in days}
    return frames, shift, days


def window(frames, days, day, before=7, after=0):
    i = days.index(day)
    return pd.concat([frames[d] for d in days[max(0, i - before): i + 1 + after]], ignore_index=True)


def test_flags_the_topic_shift_on_its_day_and_on_none_of_the_five_days_before(shift_traces):
    frames, shift, days = shift_traces
    shift_day = shift["date"]
    checked = days[days.index(shift_day) - 5: days.index(shift_day) + 1]
    assert len(checked) == 6
    flagged = {}
    for day in checked:
        table = traffic_drift(window(frames, days, day), day).table
        assert len(table) == 2 and (table["note"] == "").all()  # both prompt versions got a verdict
        flagged[day] = bool(table["drifted"].any())
        if day == shift_day:
            named = table["new_topic"].tolist()
    assert flagged == {day: day == shift_day for day in checked}
    # The new topic is named by words of the launch questions that no regular topic uses.
    launch = {w for q in shift["questions"] for w in vocabulary_words(q)}
    regular = {w for e in load_config().section("llm_app")["knowledge_base"] for q in e["questions"]
               for w in vocabulary_words(q)}
    for name in named:
        words = name.split()
        assert words and set(words) <= launch and set(words) - regular, name


def test_a_day_is_judged_only_on_days_before_it(shift_traces):
    frames, shift, days = shift_traces
    day = days[days.index(shift["date"]) - 1]
    alone = traffic_drift(window(frames, days, day), day).table
    with_future = traffic_drift(window(frames, days, day, after=1), day).table  # the shift day added
    pd.testing.assert_frame_equal(alone, with_future)
    again = traffic_drift(window(frames, days, day).sample(frac=1.0, random_state=3), day).table
    pd.testing.assert_frame_equal(alone, again)  # row order does not matter either


def test_groups_without_enough_reference_get_a_note_not_a_verdict(shift_traces):
    frames, _, days = shift_traces
    table = traffic_drift(window(frames, days, days[1]), days[1]).table
    assert not table["drifted"].any()
    assert table["note"].str.contains("reference window too short").all()
    renamed = frames[days[5]].assign(prompt_version="support-v3")  # a version never seen before
    mixed = pd.concat([window(frames, days, days[4]), renamed], ignore_index=True)
    table = traffic_drift(mixed, days[5]).table.set_index("prompt_version")
    assert "too little traffic" in table.loc["support-v3", "note"] and not table.loc["support-v3", "drifted"]


def test_question_types_and_languages():
    assert [question_type(q) for q in ["How do I pay?", "Can I pay later?", "Please cancel ord-1", "My parcel is late.",
                                       "Order 5 status?", "", None]] == \
        ["how", "yes_no", "request", "statement", "other_question", "empty", "empty"]
    assert language("How long do I have to return an item I bought last week?") == "en"
    assert language("Wie lange habe ich Zeit, einen Artikel zurückzugeben?") == "de"
    assert language("Combien de temps ai-je pour retourner un article ?") == "fr"
    assert language("ok") == "und" and language("") == "und" and language(None) == "und"
    assert language("broken \ud800 text from an export, still English enough to tell") in ("en", "und")


def test_descriptors_leave_answer_columns_missing_without_an_answer():
    d = descriptors(["Where is my order?", "Mail me at anna@example.com"], ["I'm sorry, I can't help with that.", None])
    assert d["answer_words"].tolist()[0] == 7 and np.isnan(d["answer_words"].tolist()[1])
    assert d["refusal"].tolist()[0] is True and d["refusal"].isna().tolist() == [False, True]
    assert d["question_pii"].tolist() == [False, True] and d["answer_pii"].isna().tolist() == [False, True]


def test_oov_holds_out_each_reference_day_and_compares_the_day_with_as_many_days():
    reference = ["refund my order", "refund order", "track my parcel", "refund parcel"]
    ref_days = ["d1", "d1", "d2", "d3"]
    ref, cur = oov_shares(reference, ref_days, ["refund parcel", "homehub pairing"])
    # d1 vs d2+d3 vocabulary {track, my, parcel, refund}: "order" unseen in both d1 texts
    # d2 vs d1+d3 {refund, my, order, parcel}: "track"; d3 vs d1+d2: all seen
    assert ref.tolist() == pytest.approx([1 / 3, 1 / 2, 1 / 3, 0.0])
    # the day against the latest two reference days (d2, d3): {track, my, parcel, refund}
    assert cur.tolist() == pytest.approx([0.0, 1.0])
    nan_ref, nan_cur = oov_shares(reference[:2], ref_days[:2], ["x y"])
    assert np.isnan(nan_ref).all() and np.isnan(nan_cur).all()  # one reference day: nothing to hold out


def test_new_topics_need_many_prompts_sharing_new_words():
    rng = np.random.default_rng(0)
    base = ["Where is my parcel?", "How do I return shoes?", "Can I pay by card?", "When does the sale end?"]
    reference = [base[i] for i in rng.integers(0, 4, 800)]
    current = [base[i] for i in rng.integers(0, 4, 180)] + ["How do I pair the HomeHub plug?"] * 12 + \
              ["Why does my HomeHub bulb blink?"] * 10
    topics = new_topics(reference, current)
    assert len(topics) == 1 and topics[0][0] == "homehub" and {"plug", "bulb"} <= set(topics[0])
    assert new_topic_labels(["My HomeHub is offline", "Where is my parcel?"], topics)[1] is None
    assert new_topics(reference, current[:185] + ["How do I pair the HomeHub plug?"] * 4) == []  # too few prompts
    assert new_topics(reference, [base[i] for i in rng.integers(0, 4, 200)]) == []


def test_drift_result_is_plain_json_in_its_text_columns(shift_traces):
    frames, shift, days = shift_traces
    table = traffic_drift(window(frames, days, shift["date"]), shift["date"]).table
    for col in ("drifted_descriptors", "scores", "emerging_topics", "languages"):
        assert all(isinstance(json.loads(v), (list, dict)) for v in table[col])
    emerging = json.loads(table["emerging_topics"].iloc[0])
    assert emerging[0]["new"] and emerging[0]["share"] >= 0.03
