"""The daily partitions start where the landing zone's data starts (any year), end with a sample world's
last day, and follow OPS_PIPELINES_PARTITION_START / _END when set."""

import datetime as dt
import json
import os
import subprocess
import sys

import pytest

from ops_pipelines.lib.partition_range import END_ENV, START_ENV, landed_days, partition_range

FALLBACK = dt.date(2026, 3, 2)


def land(root, kind: str, *days: str) -> None:
    for day in days:
        (root / kind / day).mkdir(parents=True, exist_ok=True)
        (root / kind / day / "part.csv").write_text("x\n")


def test_the_first_landed_day_starts_the_partitions_whatever_its_year(tmp_path):
    land(tmp_path, "metrics", "2019-05-02", "2019-05-03")
    land(tmp_path, "logs", "2019-05-01")
    (tmp_path / "logs" / "not-a-day").mkdir()
    assert landed_days(tmp_path) == ["2019-05-01", "2019-05-02", "2019-05-03"]
    assert partition_range(tmp_path, {}, FALLBACK) == ("2019-05-01", None)  # open: nightly runs need yesterday


def test_an_empty_landing_zone_starts_at_the_fallback(tmp_path):
    assert partition_range(tmp_path / "missing", {}, FALLBACK) == ("2026-03-02", None)


def test_a_sample_world_ends_the_partitions_on_its_last_day(tmp_path):
    land(tmp_path, "metrics", "2026-03-02", "2026-03-03", "2026-03-04")
    (tmp_path / "ground_truth").mkdir()
    (tmp_path / "ground_truth" / "world.json").write_text(json.dumps({"start": "2026-03-02", "days": 3}))
    assert partition_range(tmp_path, {}, FALLBACK) == ("2026-03-02", "2026-03-05")
    land(tmp_path, "logs", "2026-03-09")  # real files after the world: the range stays open for them
    assert partition_range(tmp_path, {}, FALLBACK) == ("2026-03-02", None)


def test_configured_days_win_and_a_bad_one_names_its_variable(tmp_path):
    land(tmp_path, "metrics", "2026-03-02")
    env = {START_ENV: "2023-12-30", END_ENV: "2024-01-02"}
    assert partition_range(tmp_path, env, FALLBACK) == ("2023-12-30", "2024-01-03")
    with pytest.raises(ValueError, match=START_ENV):
        partition_range(tmp_path, {START_ENV: "last monday"}, FALLBACK)
    with pytest.raises(ValueError, match=END_ENV):
        partition_range(tmp_path, {START_ENV: "2024-01-05", END_ENV: "2024-01-02"}, FALLBACK)


def test_the_code_location_takes_data_from_before_2024(tmp_path):
    land(tmp_path / "landing", "metrics", "2019-05-01", "2019-05-02")
    env = {**os.environ, "OPS_PIPELINES_HOME": str(tmp_path)}
    env.pop(START_ENV, None)
    env.pop(END_ENV, None)
    code = ("from ops_pipelines.definitions import defs; p = defs.get_job_def('daily_job').partitions_def; "
            "print(p.get_first_partition_key(), p.has_partition_key('2019-05-01'), p.has_partition_key('2019-04-30'))")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.split()[-3:] == ["2019-05-01", "True", "False"]


def test_the_fallback_is_the_sample_worlds_first_day():
    from ops_pipelines.defs.partitions import SAMPLE_WORLD_START
    from ops_pipelines.lib.sim import DEFAULT_START

    assert SAMPLE_WORLD_START == DEFAULT_START
