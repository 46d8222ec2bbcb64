"""A sample world with N services: copies ("cells") of the shipped platform, for scale benchmarks.

Cell 0 is the shipped world unchanged in its services' names (incidents, deploys, Prometheus exports and
the legacy log service keep naming it); cells 1, 2, ... repeat its services and call graph under suffixed
names. Every service gets the same number of hosts, so a day has about
`services * (4 + 2 * hosts) * 1440` metric points (10 metrics per service with 3 hosts).
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from .config import HOST_METRICS, SERVICE_METRICS, default_config_path


def metrics_per_service(hosts: int) -> int:
    return len(SERVICE_METRICS) + len(HOST_METRICS) * hosts


def scaled_config(raw: dict[str, Any], services: int, hosts: int = 3) -> dict[str, Any]:
    """The world `raw` grown (or kept) to exactly `services` services with `hosts` hosts each; log lines
    grow in proportion. Needs at least as many services as the base world (its other sections name them)."""
    base = list(raw["services"])
    if services < len(base):
        raise ValueError(f"a scaled world needs at least the base world's {len(base)} services, got {services}")
    if hosts < 1:
        raise ValueError("hosts must be at least 1")
    out = copy.deepcopy(raw)
    names: list[tuple[int, str]] = [(cell, name) for cell in range(-(-services // len(base))) for name in base][:services]
    out["services"] = {}
    for cell, name in names:
        spec = copy.deepcopy(raw["services"][name])
        new = _cell_name(name, cell)
        spec["hosts"] = [f"{new}-h{i + 1}" for i in range(hosts)]
        out["services"][new] = spec
    kept = set(out["services"])
    external = set(raw.get("external_services", {}))
    topology = []
    for cell in sorted({c for c, _ in names}):
        for edge in raw["topology"]:
            caller = _cell_name(edge[0], cell)
            callee = edge[1] if edge[1] in external else _cell_name(edge[1], cell)
            if caller in kept and (callee in kept or callee in external):
                topology.append([caller, callee, *edge[2:]])
    out["topology"] = topology
    cells = sorted({cell for cell, _ in names})
    out["kinds"] = {_cell_name(n, c): k for c in cells for n, k in raw.get("kinds", {}).items() if _cell_name(n, c) in kept}
    out["logs"]["lines_per_weekday"] = int(round(raw["logs"]["lines_per_weekday"] * services / len(base)))
    return out


def _cell_name(name: str, cell: int) -> str:
    return name if cell == 0 else f"{name}-c{cell}"


def write_scaled_config(path: Path, services: int, hosts: int = 3, base: Path | None = None) -> Path:
    """Write the scaled world next to a benchmark's data (the same input gives the same file)."""
    raw = json.loads(Path(base or default_config_path()).read_text(encoding="utf-8"))
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(scaled_config(raw, services, hosts), indent=1), encoding="utf-8")
    return path
