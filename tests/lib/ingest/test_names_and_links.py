"""File names that are not UTF-8 and symlinks are refused with a reason, never a crash or a read."""

import os

import pytest

from ops_pipelines.lib.ingest.landing import partition_files, scan
from ops_pipelines.lib.ingest.quarantine import Reason
from tests.conftest import DAY, NOW
from tests.lib.ingest.accounted import ingest_partition

HEADER = "timestamp,service,metric,value,host\n"
GOOD = HEADER + "".join(f"2026-03-02T10:{m:02d}:00Z,api,rps,{m},h1\n" for m in range(20))
SECRET = "root:x:0:0:SECRET-CONTENT-41c7"


def write_bytes_name(folder, name: bytes, content: bytes) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    with open(os.path.join(os.fsencode(folder), name), "wb") as fh:
        fh.write(content)


def refused(result, reason):
    rows = result.quarantine[result.quarantine["reason"] == reason]
    assert len(rows) == 1, result.quarantine
    return rows.iloc[0]


def test_a_latin1_file_name_is_quarantined_and_the_rest_ingests(landing):
    landing.write("metrics", "good.csv", GOOD)
    day = landing.root / "metrics" / DAY
    write_bytes_name(day, b"caf\xe9.csv", (HEADER + "2026-03-02T11:00:00Z,api,rps,1,h1\n2026-03-02T11:01:00Z,api,rps,2,h1\n").encode())
    write_bytes_name(day / os.fsdecode(b"r\xe9gion"), b"m.csv", (HEADER + "2026-03-02T12:00:00Z,api,rps,1,h1\n").encode())
    result = ingest_partition("metrics", landing.root, DAY, now=NOW)
    assert len(result.rows) == 20
    names = result.quarantine[result.quarantine["reason"] == Reason.UNREADABLE_FILE_NAME]["source_file"].tolist()
    assert names == [f"metrics/{DAY}/caf\\xe9.csv", f"metrics/{DAY}/r\\xe9gion/m.csv"]
    accounts = result.accounts.set_index("source_file")
    assert accounts.loc[f"metrics/{DAY}/caf\\xe9.csv", "rows_quarantined"] == 2  # its line count, less the header
    assert {e.path for e in result.file_errors} == set(names)


def test_a_latin1_name_in_one_kind_does_not_stop_another(landing):
    write_bytes_name(landing.root / "logs" / DAY, b"\xff\xfe.jsonl", b"{}\n")
    landing.write("metrics", "good.csv", GOOD)
    assert len(ingest_partition("metrics", landing.root, DAY, now=NOW).rows) == 20
    logs = ingest_partition("logs", landing.root, DAY, now=NOW)
    assert refused(logs, Reason.UNREADABLE_FILE_NAME)["source_file"] == f"logs/{DAY}/\\xff\\xfe.jsonl"


def test_scan_lists_a_latin1_name_printably(landing):
    write_bytes_name(landing.root / "metrics" / DAY, b"caf\xe9.csv", GOOD.encode())
    files = list(scan(landing.root))
    assert [f.relpath for f in files] == [f"metrics/{DAY}/caf\\xe9.csv"]
    files[0].relpath.encode("utf-8")  # printable names encode


@pytest.fixture
def outside(tmp_path):
    """A folder next to the landing zone with a file whose content must never be read."""
    folder = tmp_path / "outside"
    folder.mkdir()
    (folder / "passwd").write_text(HEADER + f"{SECRET}\n")
    (folder / "data.csv").write_text(GOOD)
    return folder


def _no_secret(result):
    for frame in (result.quarantine, result.rows):
        assert SECRET not in frame.astype(str).to_csv()
    assert SECRET not in " ".join(e.problem for e in result.file_errors)


def test_a_symlink_out_of_the_landing_zone_is_refused_and_never_read(landing, outside):
    landing.write("metrics", "good.csv", GOOD)
    day = landing.root / "metrics" / DAY
    (day / "passwd.csv").symlink_to(outside / "passwd")
    (day / "relative.csv").symlink_to(os.path.relpath(outside / "data.csv", day))
    result = ingest_partition("metrics", landing.root, DAY, now=NOW)
    assert len(result.rows) == 20
    quarantined = result.quarantine[result.quarantine["reason"] == Reason.SYMLINK_OUTSIDE_LANDING_ZONE]
    assert quarantined["source_file"].tolist() == [f"metrics/{DAY}/passwd.csv", f"metrics/{DAY}/relative.csv"]
    assert str(outside) not in quarantined.to_csv()  # not even where it points
    _no_secret(result)


def test_symlinked_folders_out_of_the_zone_are_refused(landing, outside):
    landing.write("metrics", "good.csv", GOOD)
    (landing.root / "metrics" / DAY / "exports").symlink_to(outside, target_is_directory=True)
    (landing.root / "metrics" / "2026-03-03").symlink_to(outside, target_is_directory=True)
    result = ingest_partition("metrics", landing.root, DAY, now=NOW)
    assert refused(result, Reason.SYMLINK_OUTSIDE_LANDING_ZONE)["source_file"] == f"metrics/{DAY}/exports"
    assert len(result.rows) == 20
    _no_secret(result)
    whole_day = ingest_partition("metrics", landing.root, "2026-03-03", now=NOW)
    assert refused(whole_day, Reason.SYMLINK_OUTSIDE_LANDING_ZONE)["source_file"] == "metrics/2026-03-03"
    assert whole_day.rows.empty
    _no_secret(whole_day)


def test_a_symlink_inside_the_zone_is_followed(landing):
    staging = landing.root / "staging"
    staging.mkdir(parents=True)
    (staging / "export.csv").write_text(GOOD)
    (landing.root / "metrics" / DAY).mkdir(parents=True)
    (landing.root / "metrics" / DAY / "current.csv").symlink_to(staging / "export.csv")
    (landing.root / "metrics" / DAY / "more").symlink_to(staging, target_is_directory=True)
    result = ingest_partition("metrics", landing.root, DAY, now=NOW)
    assert len(result.rows) == 20 and result.exact_duplicates == 20  # the same file reached twice
    assert result.quarantine.empty


def test_a_link_loop_is_listed_once_and_a_broken_link_is_named(landing):
    landing.write("metrics", "good.csv", GOOD)
    day = landing.root / "metrics" / DAY
    (day / "loop").symlink_to(day, target_is_directory=True)
    (day / "gone.csv").symlink_to(day / "never-written.csv")
    os.mkfifo(day / "pipe.csv")  # opening it would block: it must never be opened
    names = [e.name for e in partition_files(landing.root, "metrics", DAY)]
    assert names == [f"metrics/{DAY}/gone.csv", f"metrics/{DAY}/good.csv", f"metrics/{DAY}/pipe.csv"]
    result = ingest_partition("metrics", landing.root, DAY, now=NOW)
    assert len(result.rows) == 20
    problems = {e.path: e.problem for e in result.file_errors}
    assert "broken symlink" in problems[f"metrics/{DAY}/gone.csv"]
    assert "not a regular file" in problems[f"metrics/{DAY}/pipe.csv"]
