"""The sample world through ingestion: every injected bad row is quarantined with its reason."""

import datetime as dt
import json
from collections import Counter

import pandas as pd
import pytest

from ops_pipelines.lib.ingest.landing import KINDS
from ops_pipelines.lib.sim import simulate_world
from tests.lib.ingest.accounted import ingest_partition  # also asserts every row is accounted for

DAYS = 3
START = dt.date(2026, 3, 2)


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("world")
    simulate_world(root, START, DAYS, seed=11)
    truth = json.loads((root / "ground_truth" / "bad_rows.json").read_text())["files"]
    results = {
        (kind, day): ingest_partition(kind, root, day, now=pd.Timestamp("2026-06-01T00:00:00Z"))
        for kind in KINDS
        for day in (str(START + dt.timedelta(days=i)) for i in range(DAYS))
    }
    return truth, results


def test_quarantine_matches_the_injected_bad_rows_per_file_and_reason(world):
    truth, results = world
    expected = Counter()
    for path, info in truth.items():
        for reason, count in info["bad"].items():
            if reason != "exact_duplicate":
                expected[(path, reason)] += count
    found = Counter()
    for result in results.values():
        found.update(zip(result.quarantine["source_file"], result.quarantine["reason"]))
    assert found == expected


def test_exact_duplicates_are_dropped_and_counted(world):
    truth, results = world
    for (kind, day), result in results.items():
        injected = sum(info["bad"].get("exact_duplicate", 0) for path, info in truth.items() if path.startswith(f"{kind}/{day}/"))
        assert result.exact_duplicates == injected, (kind, day)


def test_every_row_is_accounted_for(world):
    truth, results = world
    for (kind, day), result in results.items():
        written = sum(info["rows"] for path, info in truth.items() if path.startswith(f"{kind}/{day}/"))
        assert result.rows_seen == result.rows_read == written, (kind, day)
        assert result.accounted_for and not result.file_errors
        per_file = result.accounts.set_index("source_file")["rows_read"].to_dict()
        assert per_file == {p: info["rows"] for p, info in truth.items() if p.startswith(f"{kind}/{day}/")}
