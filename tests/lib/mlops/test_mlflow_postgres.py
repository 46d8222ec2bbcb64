"""Tracking and registry on PostgreSQL (the production backend): train, register, alias."""

import pytest

from ops_pipelines.lib.mlops.datasets import DatasetStore
from ops_pipelines.lib.mlops.evaluation import apply_decision, compare
from ops_pipelines.lib.mlops.registry import champion_version, load_version
from ops_pipelines.lib.mlops.selection import split_holdout
from ops_pipelines.lib.mlops.training import train_candidate
from tests.lib.mlops.mlflow_helpers import (
    click_rows,
    mlflow_store,
    specs,
    store_dataset,
)
from tests.postgres import connect, fresh_database, postgres_or_skip

pytestmark = pytest.mark.postgres
SPEC, _ = specs()


@pytest.fixture(scope="module")
def pg_uri():
    with postgres_or_skip() as pg:
        db = fresh_database(pg, "mlflow")
        auth = f"{pg['user']}:{pg['password']}" if pg["password"] else pg["user"]
        yield f"postgresql://{auth}@{pg['host']}:{pg['port']}/{db}", {**pg, "db": db}


def test_train_register_and_alias_on_postgres(pg_uri, tmp_path):
    uri, pg = pg_uri
    with mlflow_store(tmp_path, tracking_uri=uri) as client:
        store = DatasetStore(tmp_path / "datasets")
        frame = click_rows(5000, seed=6)
        dataset = store_dataset(store, SPEC, frame)
        train, holdout = split_holdout(frame, SPEC)
        cand = train_candidate(SPEC, dataset, train, holdout, client=client)
        assert apply_decision(client, SPEC, cand.version, compare(SPEC, cand.model, None, holdout)) == "promoted"
        champ = champion_version(client, SPEC.registered_name)
        assert int(champ.version) == cand.version and champ.tags["ops.dataset_version"] == dataset.version
        loaded = load_version(client, SPEC.registered_name, champ.version)
        assert (loaded.predict_proba(holdout[list(SPEC.features)]) == cand.model.predict_proba(holdout[list(SPEC.features)])).all()
        assert client.get_run(cand.run_id).data.metrics == cand.metrics

    # The records are in PostgreSQL, not in a file next to the tests.
    conn = connect(pg)
    with conn, conn.cursor() as cur:
        cur.execute("select alias, version from registered_model_aliases where name = %s", (SPEC.registered_name,))
        assert cur.fetchall() == [("champion", cand.version)]
        cur.execute("select count(*) from input_tags where name = 'ops.dataset_version' and value = %s", (dataset.version,))
        assert cur.fetchone()[0] == 2
    conn.close()
