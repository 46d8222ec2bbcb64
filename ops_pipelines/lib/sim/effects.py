"""Turn planned effects into per-minute factors, and describe them as ground-truth symptoms."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

import numpy as np

from .clock import iso_minute
from .config import HOST_METRICS, WorldConfig
from .incidents import Effect, Incident

if TYPE_CHECKING:
    from .changes import Change, Job, Surge

RAMP_MINUTES = 3.0


def shape_values(shape: str, start: int, end: int, tail: int, minutes: np.ndarray) -> np.ndarray:
    """Strength in [0, 1] of an effect at each absolute minute."""
    t = minutes.astype(float)
    inside = (t >= start) & (t < end)
    if shape == "box":
        return inside.astype(float)
    if shape == "plateau":
        # A few minutes of ramp on both sides: real faults rarely switch on within one scrape.
        up = np.clip((t - start + 1.0) / RAMP_MINUTES, 0.0, 1.0)
        down = np.clip((end - t) / RAMP_MINUTES, 0.0, 1.0)
        return np.where(inside, up * down, 0.0)
    if shape in ("ramp", "ramp_sq"):
        frac = np.clip((t - start + 1.0) / max(end - start, 1), 0.0, 1.0)
        return np.where(inside, frac if shape == "ramp" else frac * frac, 0.0)
    if shape == "tail":
        return ((t >= end - tail) & (t < end)).astype(float)
    raise ValueError(f"unknown effect shape {shape!r}")


class EffectBook:
    """Accumulated multiplicative and additive changes for one day's series."""

    def __init__(self, minutes: np.ndarray) -> None:
        self.minutes = minutes
        self._mult: dict[tuple[str, str, str], np.ndarray] = {}
        self._add: dict[tuple[str, str, str], np.ndarray] = {}
        self._load: dict[str, np.ndarray] = {}

    def push_surge(self, surge: Surge) -> None:
        """Extra demand: the service's load x surge.mult, ramping in and out."""
        t = self.minutes.astype(float)
        up = np.clip((t - surge.start) / max(surge.ramp, 1), 0.0, 1.0)
        down = np.clip((surge.end - t) / max(surge.ramp, 1), 0.0, 1.0)
        strength = np.minimum(up, down)
        if not strength.any():
            return
        for service in surge.services:
            self._load[service] = self._load.get(service, np.ones(len(t))) * (1.0 + (surge.mult - 1.0) * strength)

    def load_factor(self, service: str) -> np.ndarray:
        """Multiplier of the service's normal load per minute (1 outside surges)."""
        return self._load.get(service, np.ones(len(self.minutes)))

    def push(self, effect: Effect) -> None:
        strength = shape_values(effect.shape, effect.start, effect.end, effect.tail, self.minutes)
        if not strength.any():
            return
        key = (effect.service, effect.metric, effect.host)
        ones, zeros = np.ones(len(self.minutes)), np.zeros(len(self.minutes))
        self._mult[key] = self._mult.get(key, ones) * (1.0 + (effect.mult - 1.0) * strength)
        self._add[key] = self._add.get(key, zeros) + effect.add * strength

    def factors(self, service: str, metric: str, host: str) -> tuple[np.ndarray, np.ndarray]:
        """(mult, add) for a series; service-wide effects apply to every host."""
        n = len(self.minutes)
        mult, add = np.ones(n), np.zeros(n)
        for key in [(service, metric, "")] + ([(service, metric, host)] if host else []):
            if key in self._mult:
                mult = mult * self._mult[key]
                add = add + self._add[key]
        return mult, add


def effect_book(minutes: np.ndarray, incidents: list[Incident], changes: list[Change], shifts: list[Effect] = (),
                jobs: list[Job] = (), surges: list[Surge] = ()) -> EffectBook:
    """Everything that moves a day's telemetry: incidents, rollouts, lasting shifts, jobs, surges."""
    book = EffectBook(minutes)
    for inc in incidents:
        for effect in inc.effects:
            book.push(effect)
    for change in changes:
        for effect in change.effects:
            book.push(effect)
    for effect in shifts:
        book.push(effect)
    for job in jobs:
        for effect in job.effects:
            book.push(effect)
    for surge in surges:
        book.push_surge(surge)
    return book


def _symptom_start(start: int, end: int, tail: int, shape: str, symptom_from: float) -> float:
    if shape == "tail":
        return end - tail
    return start + symptom_from * (end - start)


def incident_record(cfg: WorldConfig, start_date: dt.date, inc: Incident) -> dict[str, Any]:
    """Ground-truth entry for incidents.json (times are UTC ISO strings)."""
    symptoms: list[dict[str, Any]] = []
    for e in inc.effects:
        if e.service not in cfg.services:
            continue
        hosts = [e.host] if e.host else list(cfg.services[e.service].hosts)
        for host in hosts if e.metric in HOST_METRICS else [""]:
            symptoms.append(_symptom(start_date, e.service, e.metric, host,
                                     _symptom_start(e.start, e.end, e.tail, e.shape, e.symptom_from), e.end))
    for b in inc.bursts:
        symptoms.append(_symptom(start_date, b.service, "logs", b.host,
                                 _symptom_start(b.start, b.end, b.tail, b.shape, b.symptom_from), b.end))
    app = cfg.section("llm_app")["app"]
    for key, field in (("latency_mult", "latency_ms"), ("output_tokens_mult", "output_tokens")):
        if key in inc.llm:
            symptoms.append({**_symptom(start_date, app, "llm_traces", "", inc.start, inc.end), "field": field})
    if "output_tokens_mult" in inc.llm:
        symptoms.append({**_symptom(start_date, app, "llm_traces", "", inc.start, inc.end), "field": "latency_ms"})
    if "timeout_rate" in inc.llm:
        symptoms.append({**_symptom(start_date, app, "llm_traces", "", inc.start, inc.end), "field": "status_timeout"})
    symptoms = _merge(symptoms)
    return {
        "id": inc.id,
        "title": inc.title,
        "fault_type": inc.fault_type,
        "root_cause_service": inc.root,
        "start": iso_minute(start_date, inc.start),
        "end": iso_minute(start_date, inc.end),
        "affected_services": inc.affected_services,
        "symptoms": symptoms,
        "deploy_version": inc.deploy_version or None,
        "novel_log_templates": [cfg.section("logs")["templates"][inc.novel_template]["text"]] if inc.novel_template else [],
    }


def _merge(symptoms: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One symptom per (service, signal): several bursts on one service are one visible change."""
    merged: dict[tuple[str, ...], dict[str, Any]] = {}
    for s in symptoms:
        key = (s["service"], s["metric"], s.get("host", ""), s.get("field", ""))
        if key in merged:
            merged[key]["start"] = min(merged[key]["start"], s["start"])
            merged[key]["end"] = max(merged[key]["end"], s["end"])
        else:
            merged[key] = dict(s)
    return sorted(merged.values(), key=lambda s: (s["start"], s["service"], s["metric"], s.get("host", ""),
                                                   s.get("field", "")))


def _symptom(start_date: dt.date, service: str, metric: str, host: str, start: float, end: int) -> dict[str, Any]:
    out: dict[str, Any] = {"service": service, "metric": metric, "direction": "up",
                           "start": iso_minute(start_date, np.floor(start)), "end": iso_minute(start_date, end)}
    if host:
        out["host"] = host
    return out


def deploy_record(start_date: dt.date, change: Change) -> dict[str, Any]:
    """The deploys list of ground truth (a deploy-only view of the change records)."""
    effect = "regression" if change.incident_id else "level_shift" if change.shift else "blip"
    return {"service": change.service, "time": iso_minute(start_date, change.minute), "version": change.detail,
            "started": iso_minute(start_date, change.started),
            "incident_id": change.incident_id or None, "effect": effect,
            "end": iso_minute(start_date, max([change.minute, *(e.end for e in change.effects)]))}
