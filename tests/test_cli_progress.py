"""The day-by-day progress of `demo` and `run`: a bar that redraws in place on a terminal, plain lines
otherwise; and the summary's one-line explanations (cut at word boundaries, never mid-word)."""

import io

import dagster as dg

from ops_pipelines.cli.demo import failure_line, shorten
from ops_pipelines.daily_runs import DayOutcome, Progress


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def outcome(day: str, status: str = "SUCCESS", **kw) -> DayOutcome:
    return DayOutcome(day=day, run_id="r-" + day, status=status, seconds=12.0, **kw)


def test_without_a_terminal_each_day_is_one_plain_line():
    out = io.StringIO()
    bar = Progress(2, out)
    bar.running("running 2026-03-02")
    bar.day_done(outcome("2026-03-02"))
    bar.day_done(outcome("2026-03-03", "FAILURE", error="ingest: bad file"))
    bar.close()
    assert out.getvalue().splitlines() == ["day  1/2 2026-03-02 success in 12s",
                                           "day  2/2 2026-03-03 failure in 12s; ingest: bad file"]
    assert "\r" not in out.getvalue()


def test_on_a_terminal_the_bar_redraws_in_place_and_keeps_each_day_line():
    out = Terminal()
    bar = Progress(3, out)
    bar.running("running 2026-03-02")
    bar.day_done(outcome("2026-03-02", retraining="ctr_logreg (bootstrap, success)"))
    bar.grow(1)  # a later day re-run after the range
    bar.close()
    text = out.getvalue()
    assert "\r" in text  # redrawn, not appended
    assert "day  1/3 2026-03-02 success in 12s; retraining: ctr_logreg (bootstrap, success)" in text
    assert "1/4 days" in text and "running 2026-03-02" in text


def test_shortened_text_ends_at_a_word_boundary():
    text = "compare with its most recent deploy and roll back if the regression started with it"
    short = shorten(text, 40)
    assert len(short) <= 40 and short.endswith(" ...")
    assert all(word in text.split() for word in short.removesuffix(" ...").split())


def test_a_failed_check_is_explained_by_what_its_metadata_names():
    line = failure_line("2026-03-03", dg.AssetCheckSeverity.WARN,
                        {"breaches": dg.MetadataValue.md("- support-v1 on sage-large: hallucinated_rate 0.1378 > 0.08")},
                        "Production prompt versions stay within every guardrail limit.")
    assert line == "(warning) 2026-03-03: breaches: support-v1 on sage-large: hallucinated_rate 0.1378 > 0.08"
    numbers = failure_line("2026-03-04", dg.AssetCheckSeverity.ERROR, {"bad_share": dg.MetadataValue.float(0.25)}, None)
    assert numbers == "(error) 2026-03-04: bad_share 0.25"
    assert failure_line("2026-03-05", None, {}, "Rows stay accounted for.") == "(error) 2026-03-05: Rows stay accounted for."
