"""A day's partitions are due at the configured hour of the next day (06:00 UTC unless set)."""

import datetime as dt

import pytest

from ops_pipelines.lib.platform.freshness import HOUR_ENV, deadline, deadline_cron, deadline_hour, freshness_line


def test_the_deadline_is_the_hour_of_the_next_utc_day():
    assert deadline_hour({}) == 6 and deadline_cron(6) == "0 6 * * *"
    assert deadline("2026-03-31", 6) == dt.datetime(2026, 4, 1, 6, tzinfo=dt.UTC)
    assert deadline_hour({HOUR_ENV: "9"}) == 9
    for bad in ("24", "-1", "six"):
        with pytest.raises(ValueError, match=HOUR_ENV):
            deadline_hour({HOUR_ENV: bad})


def test_the_report_line_names_the_deadline_and_the_check():
    line = freshness_line("2026-03-02", 6)
    assert "due by 2026-03-03 06:00 UTC" in line and "freshness_check" in line
