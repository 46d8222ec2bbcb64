"""The landing-zone sensor asks for one run per new or changed partition file set, once."""

import os

import dagster as dg

from ops_pipelines.defs.platform.landing import landing_zone_sensor
from ops_pipelines.resources.landing_zone import LandingZone

HEADER = "timestamp,service,metric,value,host\n"


def evaluate(landing, cursor=None):
    context = dg.build_sensor_context(cursor=cursor, resources={"landing_zone": LandingZone(root=str(landing.root))})
    requests = list(landing_zone_sensor(context))
    return requests, context.cursor


def test_one_run_per_new_or_changed_file_and_none_on_a_second_evaluation(landing):
    landing.write("metrics", "m.csv", HEADER, day="2026-03-02")
    landing.write("logs", "l.jsonl", "{}\n", day="2026-03-03")
    requests, cursor = evaluate(landing)
    assert sorted((r.partition_key, tuple(k.to_user_string() for k in r.asset_selection)) for r in requests) == [
        ("2026-03-02", ("telemetry_metrics", "telemetry_metrics_quarantine")),
        ("2026-03-03", ("service_logs", "service_logs_quarantine")),
    ]
    assert len({r.run_key for r in requests}) == 2

    assert evaluate(landing, cursor)[0] == []

    changed = landing.write("metrics", "m.csv", HEADER + "2026-03-02T00:00:00Z,a,m,1,\n", day="2026-03-02")
    os.utime(changed, ns=(1_800_000_000_000_000_000, 1_800_000_000_000_000_000))
    requests, cursor = evaluate(landing, cursor)
    assert [(r.partition_key, r.asset_selection[0].to_user_string()) for r in requests] == [("2026-03-02", "telemetry_metrics")]
    assert evaluate(landing, cursor)[0] == []


def test_files_landing_together_in_one_partition_share_one_run(landing):
    landing.write("metrics", "a.csv", HEADER)
    landing.write("metrics", "b.csv", HEADER)
    requests, _ = evaluate(landing)
    assert len(requests) == 1 and requests[0].tags["ops/files"].count(".csv") == 2
    assert requests[0].tags["ops/trigger"] == "landing_zone"


def test_the_same_file_version_gets_the_same_run_key(landing):
    landing.write("metrics", "a.csv", HEADER)
    first, _ = evaluate(landing)
    again, _ = evaluate(landing)  # a lost cursor: Dagster drops the duplicate run key
    assert [r.run_key for r in first] == [r.run_key for r in again]


def test_temporary_files_and_non_date_folders_are_ignored(landing):
    landing.write("metrics", ".m.csv.tmp", HEADER)
    landing.write("metrics", "m.csv.part", HEADER)
    (landing.root / "metrics" / "not-a-day").mkdir(parents=True)
    (landing.root / "metrics" / "not-a-day" / "x.csv").write_text(HEADER)
    assert evaluate(landing)[0] == []


def test_a_latin1_name_or_an_outside_symlink_never_fails_the_sensor(landing, tmp_path):
    landing.write("metrics", "good.csv", HEADER, day="2026-03-02")
    landing.write("logs", "l.jsonl", "{}\n", day="2026-03-03")
    bad_day = landing.root / "metrics" / "2026-03-04"
    bad_day.mkdir(parents=True)
    with open(os.path.join(os.fsencode(bad_day), b"caf\xe9.csv"), "wb") as fh:
        fh.write(HEADER.encode())
    secret = tmp_path / "secret.txt"
    secret.write_text("SECRET-CONTENT-41c7\n")
    (landing.root / "logs" / "2026-03-03" / "link.jsonl").symlink_to(secret)
    requests, cursor = evaluate(landing)
    assert sorted((r.partition_key, r.asset_selection[0].to_user_string()) for r in requests) == [
        ("2026-03-02", "telemetry_metrics"), ("2026-03-03", "service_logs"), ("2026-03-04", "telemetry_metrics")]
    latin1 = next(r for r in requests if r.partition_key == "2026-03-04")
    assert latin1.tags["ops/files"] == "metrics/2026-03-04/caf\\xe9.csv"
    assert "SECRET" not in cursor + repr(requests)
    assert evaluate(landing, cursor)[0] == []
