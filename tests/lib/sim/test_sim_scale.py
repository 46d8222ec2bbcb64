"""The scaled sample world (benchmarks/scale.py): N services, each with the same number of hosts."""

import json
import re

import pytest

from ops_pipelines.lib.sim.config import default_config_path, load_config
from ops_pipelines.lib.sim.scale import metrics_per_service, scaled_config, write_scaled_config


@pytest.fixture(scope="module")
def base():
    return json.loads(default_config_path().read_text())


@pytest.mark.parametrize("services", [19, 20, 57, 200])
def test_a_scaled_world_has_exactly_n_services_with_unique_hosts_and_validates(base, services, tmp_path):
    cfg = load_config(write_scaled_config(tmp_path / "w.json", services, hosts=3))
    assert len(cfg.services) == services
    assert all(len(s.hosts) == 3 for s in cfg.services.values())
    assert metrics_per_service(3) == 10
    # cell 0 keeps the shipped names; every edge connects services of one cell (or a third party)
    assert set(base["services"]) <= set(cfg.services)
    for caller, callee in cfg.edges:
        assert callee in cfg.external or _cell(caller) == _cell(callee)


def _cell(name: str) -> int:
    found = re.search(r"-c(\d+)$", name)
    return int(found.group(1)) if found else 0


def test_a_copy_of_a_service_calls_the_copies_of_its_callees(base):
    raw = scaled_config(base, 40)
    edges = {(a, b) for a, b, *_ in raw["topology"]}
    assert ("frontend-c1", "api-gateway-c1") in edges and ("frontend", "api-gateway") in edges
    assert ("payments-c1", "payment-provider") in edges  # third parties are shared
    assert raw["kinds"]["postgres-main-c1"] == "database"


def test_log_volume_grows_with_the_number_of_services(base):
    assert scaled_config(base, 190)["logs"]["lines_per_weekday"] == 10 * base["logs"]["lines_per_weekday"]


def test_fewer_services_than_the_base_world_is_a_clear_error(base):
    with pytest.raises(ValueError, match="at least the base world's 19 services"):
        scaled_config(base, 5)
