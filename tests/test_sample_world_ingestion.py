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


def test_a_damaged_world_stores_every_row_a_clean_copy_stores_but_the_damaged_line(tmp_path):
    """Issue 12: one invalid byte in one metrics line, a file with a Latin-1 name and a symlink to a
    file outside the landing zone, next to a clean copy of the same 2-day world."""
    import os
    import shutil

    clean, damaged = tmp_path / "clean", tmp_path / "damaged"
    simulate_world(clean, START, 2, seed=11)
    shutil.copytree(clean, damaged, symlinks=True)
    day = str(START)
    path = damaged / "metrics" / day / "metrics.csv"
    lines = path.read_bytes().split(b"\n")
    target = next(i for i in range(1000, len(lines)) if lines.count(lines[i]) == 1 and b",api-gateway," in lines[i])
    gone = lines[target].decode().split(",")
    lines[target] = lines[target].replace(b",api-gateway,", b",api-gatew\xe9y,")
    path.write_bytes(b"\n".join(lines))
    with open(os.path.join(os.fsencode(damaged / "logs" / day), b"journal-caf\xe9.log"), "wb") as fh:
        fh.write(b"2026-03-02T00:00:05Z WARN [legacy-erp] erp-1 batch 17 slow\n")
    secret = tmp_path / "outside.csv"
    secret.write_text("timestamp,service,metric,value,host\n2026-03-02T10:00:00Z,SECRET-CONTENT,rps,1,h1\n")
    (damaged / "metrics" / day / "linked.csv").symlink_to(secret)

    now = pd.Timestamp("2026-06-01T00:00:00Z")
    for kind in KINDS:
        for d in (day, str(START + dt.timedelta(days=1))):
            a = ingest_partition(kind, clean, d, now=now)
            b = ingest_partition(kind, damaged, d, now=now)
            added = Counter(b.quarantine["reason"]) - Counter(a.quarantine["reason"])
            assert "SECRET-CONTENT" not in b.rows.astype(str).to_csv() + b.quarantine.astype(str).to_csv()
            if (kind, d) == ("metrics", day):
                missing = a.rows.merge(b.rows, how="left", indicator=True).query("_merge == 'left_only'")
                assert len(b.rows) == len(a.rows) - 1 and len(missing) == 1
                row = missing.iloc[0]
                assert (row["service"], row["metric"], row["value"]) == (gone[1], gone[2], float(gone[3]))
                assert added == Counter({"invalid_utf8": 1, "symlink_outside_landing_zone": 1})
                assert b.quarantine[b.quarantine["reason"] == "invalid_utf8"]["line"].tolist() == [target + 1]
            elif (kind, d) == ("logs", day):
                assert b.rows.equals(a.rows) and added == Counter({"unreadable_file_name": 1})
            else:
                assert b.rows.equals(a.rows) and not added
