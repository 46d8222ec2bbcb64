"""The production dagster.yaml really stores runs and materializations in PostgreSQL."""

import shutil
from pathlib import Path

import dagster as dg
import pytest

from tests.conftest import DAY
from tests.postgres import connect, fresh_database

REPO = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.postgres


@pytest.fixture
def pg_instance(pg, tmp_path, monkeypatch):
    db = fresh_database(pg, "dagster")
    for key, value in {"HOST": pg["host"], "PORT": pg["port"], "USER": pg["user"], "PASSWORD": pg["password"], "DB": db}.items():
        monkeypatch.setenv(f"DAGSTER_PG_{key}", value)
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(REPO / "dagster.yaml", home / "dagster.yaml")
    with dg.DagsterInstance.from_config(str(home)) as instance:
        yield instance, {**pg, "db": db}


def test_partitions_materialize_through_a_postgres_backed_instance(landing, run_day, pg_instance):
    instance, pg = pg_instance
    assert type(instance.run_storage).__name__ == "PostgresRunStorage"
    assert type(instance.event_log_storage).__name__ == "PostgresEventLogStorage"
    days = [DAY, "2026-03-03"]
    for day in days:
        landing.write("metrics", "m.csv", f"timestamp,service,metric,value,host\n{day}T10:00:00Z,api,rps,1,h1\n", day=day)
        result, _ = run_day(day, instance=instance)
        assert result.success

    materialized = instance.get_materialized_partitions(dg.AssetKey("telemetry_metrics"))
    assert materialized == set(days)
    conn = connect(pg)
    with conn, conn.cursor() as cur:
        cur.execute("select count(*) from runs where status = 'SUCCESS'")
        assert cur.fetchone()[0] == 2
        cur.execute("select count(*) from event_logs where dagster_event_type = 'ASSET_MATERIALIZATION'")
        assert cur.fetchone()[0] == 2 * 8  # four ingestion assets, each with its quarantine table
    conn.close()
