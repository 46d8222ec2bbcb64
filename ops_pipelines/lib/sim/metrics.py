"""Per-minute service and host metrics for one day, as a matrix of series x minutes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .clock import (
    MINUTES_PER_DAY,
    Day,
    Stream,
    ar1_noise,
    day_rng,
    iso_minute,
    world_rng,
)
from .config import HOST_METRICS, SERVICE_METRICS, WorldConfig
from .effects import EffectBook

CLIP = {"error_rate": (0.0, 1.0), "cpu_utilization": (0.01, 0.99), "memory_utilization": (0.05, 0.99)}


@dataclass(frozen=True)
class SeriesSet:
    """All metric series of a day; NaN marks a missing minute (scrape gap)."""

    services: np.ndarray
    metrics: np.ndarray
    hosts: np.ndarray
    values: np.ndarray

    def select(self, mask: np.ndarray) -> SeriesSet:
        return SeriesSet(self.services[mask], self.metrics[mask], self.hosts[mask], self.values[mask])


def host_quirks(cfg: WorldConfig, seed: int) -> dict[str, tuple[float, float]]:
    """Fixed per-host (cpu factor, memory offset): replicas are never perfectly identical."""
    rng = world_rng(seed, Stream.HOSTS)
    spread = float(cfg.section("noise")["host_spread"])
    hosts = [h for spec in cfg.services.values() for h in spec.hosts]
    cpu = 1.0 + spread * rng.uniform(-1.0, 1.0, len(hosts))
    mem = 0.5 * spread * rng.uniform(-1.0, 1.0, len(hosts))
    return {h: (float(c), float(m)) for h, c, m in zip(hosts, cpu, mem)}


def series_keys(cfg: WorldConfig) -> list[tuple[str, str, str]]:
    """(service, metric, host) in a fixed order; host is "" for service-level metrics."""
    keys = []
    for name, spec in cfg.services.items():
        keys += [(name, metric, "") for metric in SERVICE_METRICS]
        keys += [(name, metric, host) for host in spec.hosts for metric in HOST_METRICS]
    return keys


def simulate_metrics(cfg: WorldConfig, seed: int, day: Day, book: EffectBook,
                     quirks: dict[str, tuple[float, float]]) -> SeriesSet:
    """Baseline shape x noise (load includes demand surges), then incident/change/job effects."""
    noise_cfg = cfg.section("noise")
    keys = series_keys(cfg)
    rng = day_rng(seed, day.index, Stream.METRICS)
    z = ar1_noise(rng, (len(keys), MINUTES_PER_DAY), float(noise_cfg["ar_phi"]))
    values = np.empty((len(keys), MINUTES_PER_DAY))
    for i, (service, metric, host) in enumerate(keys):
        spec = cfg.services[service]
        load = day.load * book.load_factor(service)
        if metric == "request_rate":
            base = spec.request_rate * load * np.exp(noise_cfg["request_rate_sigma"] * z[i])
        elif metric == "latency_p50_ms":
            base = spec.latency_p50_ms * (0.8 + 0.3 * load) * np.exp(noise_cfg["latency_p50_sigma"] * z[i])
        elif metric == "latency_p95_ms":
            # Shares the p50 noise so the two percentiles move together, as they do in reality.
            base = values[i - 1] / _p50_mult(book, service) * spec.p95_ratio * np.exp(
                noise_cfg["latency_p95_sigma"] * z[i])
        elif metric == "error_rate":
            base = spec.error_rate * (0.7 + 0.5 * load) * np.exp(noise_cfg["error_rate_sigma"] * z[i])
        elif metric == "cpu_utilization":
            base = spec.cpu * quirks[host][0] * (0.4 + 0.8 * load) + noise_cfg["cpu_sigma"] * z[i]
        else:
            base = spec.memory + quirks[host][1] + 0.04 * load + noise_cfg["memory_sigma"] * z[i]
        mult, add = book.factors(service, metric, host)
        values[i] = base * mult + add
        if metric == "latency_p95_ms":
            values[i] = np.maximum(values[i], values[i - 1] * 1.05)
        low, high = CLIP.get(metric, (0.0, np.inf))
        values[i] = np.clip(values[i], low, high)
    for service, spec in cfg.services.items():  # a service launched later has no data before it exists
        if spec.since_minute > day.abs_minutes[0]:
            rows = np.array([k[0] == service for k in keys])
            values[np.ix_(rows, day.abs_minutes < spec.since_minute)] = np.nan
    services, metrics, hosts = (np.array(col, dtype=object) for col in zip(*keys))
    return SeriesSet(services, metrics, hosts, values)


def _p50_mult(book: EffectBook, service: str) -> np.ndarray:
    # p95 is derived from the already-affected p50; divide its effect out so faults are not doubled.
    mult, _ = book.factors(service, "latency_p50_ms", "")
    return mult


def apply_gaps(cfg: WorldConfig, seed: int, day: Day, series: SeriesSet) -> list[dict[str, Any]]:
    """Blank whole minutes of a service (a failed scrape drops every metric at once); returns the gaps."""
    spec = cfg.section("gaps")
    rng = day_rng(seed, day.index, Stream.GAPS)
    gaps = []
    for name in cfg.services:
        for _ in range(int(rng.poisson(float(spec["per_service_day"])))):
            length = int(rng.integers(int(spec["min_minutes"]), int(spec["max_minutes"]) + 1))
            start = int(rng.integers(0, MINUTES_PER_DAY - length))
            series.values[series.services == name, start:start + length] = np.nan
            gaps.append({"service": name, "start": iso_minute(day.date, start), "minutes": length})
    return gaps
