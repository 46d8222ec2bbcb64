"""Typed view of `assets/sim/world.json`, the sample world's single source of knobs."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SERVICE_METRICS: tuple[str, ...] = ("request_rate", "latency_p50_ms", "latency_p95_ms", "error_rate")
HOST_METRICS: tuple[str, ...] = ("cpu_utilization", "memory_utilization")


def default_config_path() -> Path:
    """The world shipped with the repository (`assets/sim/world.json`)."""
    return Path(__file__).resolve().parents[3] / "assets" / "sim" / "world.json"


@dataclass(frozen=True)
class ServiceSpec:
    """Baseline behaviour of one service at full (peak-hour) load."""

    name: str
    hosts: tuple[str, ...]
    request_rate: float
    latency_p50_ms: float
    p95_ratio: float
    error_rate: float
    cpu: float
    memory: float
    log_weight: float
    since_minute: int = 0  # minutes since the world's first midnight before which it does not exist


@dataclass(frozen=True)
class WorldConfig:
    """Parsed world configuration; `raw` keeps every section for the generators."""

    raw: dict[str, Any]
    services: dict[str, ServiceSpec]
    edges: tuple[tuple[str, str], ...]
    edge_weights: dict[tuple[str, str], float]
    kinds: dict[str, str]  # every node of the topology -> database | cache | queue | third_party | service

    def section(self, name: str) -> dict[str, Any]:
        return self.raw[name]

    @property
    def external(self) -> tuple[str, ...]:
        """Nodes we call but have no telemetry of (third parties): they show only in their callers."""
        return tuple(sorted(self.raw.get("external_services", {})))

    @property
    def prometheus_services(self) -> tuple[str, ...]:
        return tuple(self.raw["export"]["prometheus_services"])

    @property
    def legacy_service(self) -> str:
        return self.raw["export"]["legacy_log_service"]

    @property
    def shift_day_offset(self) -> int:
        return int(self.raw["recsys"]["shift_day_offset"])

    def utc_offset_minutes(self, service: str) -> int:
        """Offset the service writes its metric timestamps in (0 = `Z`)."""
        text = self.raw["export"]["utc_offsets"].get(service)
        return 0 if text is None else parse_offset(text)


def parse_offset(text: str) -> int:
    """'+01:00' -> 60, '-05:30' -> -330."""
    sign = -1 if text.startswith("-") else 1
    hours, minutes = text.lstrip("+-").split(":")
    return sign * (int(hours) * 60 + int(minutes))


def load_config(path: Path | None = None) -> WorldConfig:
    """Read and validate a world file; errors name the file and the broken part."""
    path = Path(path) if path is not None else default_config_path()
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ValueError(f"cannot read sample-world config {path}: {exc}") from exc
    services = {
        name: ServiceSpec(name=name, hosts=tuple(spec["hosts"]), request_rate=float(spec["request_rate"]),
                          latency_p50_ms=float(spec["latency_p50_ms"]), p95_ratio=float(spec["p95_ratio"]),
                          error_rate=float(spec["error_rate"]), cpu=float(spec["cpu"]),
                          memory=float(spec["memory"]), log_weight=float(spec["log_weight"]),
                          since_minute=int(round(float(spec.get("since_day", 0)) * 1440)))
        for name, spec in raw["services"].items()
    }
    edges = tuple((str(e[0]), str(e[1])) for e in raw["topology"])
    # Weight = share of the caller's requests that need the callee; it scales how far a fault echoes.
    weights = {(str(e[0]), str(e[1])): float(e[2]) if len(e) > 2 else 1.0 for e in raw["topology"]}
    external = {str(k): str(v.get("kind", "third_party")) for k, v in raw.get("external_services", {}).items()}
    kinds = {name: str(raw.get("kinds", {}).get(name, "service")) for name in services} | external
    _validate(path, raw, services, edges, set(external))
    return WorldConfig(raw=raw, services=services, edges=edges, edge_weights=weights, kinds=kinds)


def _validate(path: Path, raw: dict[str, Any], services: dict[str, ServiceSpec],
              edges: tuple[tuple[str, str], ...], external: set[str]) -> None:
    problems: list[str] = []
    for caller, callee in edges:
        if caller not in services or (callee not in services and callee not in external):
            problems.append(f"topology edge {caller}->{callee} names an unknown service")
    hosts = [h for s in services.values() for h in s.hosts]
    if len(hosts) != len(set(hosts)):
        problems.append("host names must be unique across services")
    for name in [*raw["export"]["prometheus_services"], raw["export"]["legacy_log_service"],
                 *raw["export"]["utc_offsets"]]:
        if name not in services:
            problems.append(f"export section names unknown service {name!r}")
    for kind, spec in raw["fault_types"].items():
        for root in spec["roots"]:
            if root not in services and root not in external:
                problems.append(f"fault type {kind} has unknown root {root!r}")
        for burst in spec.get("logs", []):
            for tid in burst["templates"]:
                if tid not in raw["logs"]["templates"]:
                    problems.append(f"fault type {kind} uses unknown log template {tid!r}")
    for tid, tpl in raw["logs"]["templates"].items():
        for field in _fields_of(tpl["text"]):
            if field not in raw["logs"]["fields"] and field not in ("version", "detail"):
                problems.append(f"log template {tid} uses undefined field {{{field}}}")
    if problems:
        raise ValueError(f"invalid sample-world config {path}: " + "; ".join(problems))


def _fields_of(text: str) -> list[str]:
    import string

    return [name for _, name, _, _ in string.Formatter().parse(text) if name]
