"""Run the whole sample world: one pass per day, then the ground-truth files."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from .badrows import BadRowLedger
from .changes import (
    Change,
    Job,
    Surge,
    change_record,
    changes_for_day,
    job_record,
    jobs_for_day,
    plan_surges,
    surge_record,
    write_changes,
)
from .clock import iso_minute, make_day
from .config import WorldConfig, load_config
from .effects import deploy_record, effect_book, incident_record
from .incidents import Effect, Incident, concurrent_ids, plan_incidents
from .llm import simulate_traces, write_traces
from .logs import simulate_logs, write_logs
from .metrics import apply_gaps, host_quirks, simulate_metrics
from .metrics_files import write_metrics_csv, write_prometheus
from .recsys import build_world, simulate_events, write_events
from .writers import write_json, write_lines

DEFAULT_START = dt.date(2026, 3, 2)  # a Monday; fixed so the default output is byte-reproducible


@dataclass
class SimSummary:
    """What a simulation run wrote."""

    out_dir: str
    days: int
    start: str
    seed: int
    files_written: int = 0
    rows: dict[str, int] = field(default_factory=dict)
    incidents: int = 0
    shift_date: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def simulate_world(out_dir: Path, start: dt.date = DEFAULT_START, days: int = 14, seed: int = 7,
                   config_path: Path | None = None) -> SimSummary:
    """Write `days` days of landing-zone files plus ground truth under `out_dir`.

    The same (seed, start, days, config) always gives byte-identical files; day k of a shorter run
    equals day k of a longer one except where an incident of the longer plan spans the cut.
    """
    if days < 1:
        raise ValueError("days must be at least 1")
    out = Path(out_dir)
    cfg = load_config(config_path)
    incidents = plan_incidents(cfg, seed, days)
    surges = plan_surges(cfg, seed, start, days, incidents)
    quirks = host_quirks(cfg, seed)
    shop = build_world(cfg, seed)
    ledger = BadRowLedger()
    rows: dict[str, int] = {}
    changes: list[Change] = []
    shifts: list[Effect] = []  # lasting level shifts left by earlier changes
    jobs: list[Job] = []
    gaps: list[dict[str, Any]] = []
    labels: list[dict[str, Any]] = []
    for index in range(days):
        day = make_day(start, index, cfg.section("seasonality"))
        todays = [i for i in incidents if i.last_minute > day.abs_minutes[0] and i.start <= day.abs_minutes[-1]]
        day_changes = changes_for_day(cfg, seed, day, incidents)
        day_jobs = jobs_for_day(cfg, seed, day)
        changes += day_changes
        jobs += day_jobs
        shifts += [e for c in day_changes for e in c.shift]
        book = effect_book(day.abs_minutes, todays, day_changes, shifts, day_jobs, surges)
        series = simulate_metrics(cfg, seed, day, book, quirks)
        gaps += apply_gaps(cfg, seed, day, series)
        _add(rows, write_metrics_csv(out, cfg, seed, day, series, ledger))
        _add(rows, {"prometheus_points": write_prometheus(out, cfg, seed, day, series, ledger)})
        logs = simulate_logs(cfg, seed, day, todays, day_changes, day_jobs, book)
        _add(rows, write_logs(out, cfg, seed, day, logs, ledger))
        _add(rows, {"change_events": write_changes(out, day, day_changes, start, ledger)})
        traces, day_labels = simulate_traces(cfg, seed, day, todays)
        labels += day_labels
        _add(rows, {"llm_traces": write_traces(out, cfg, seed, day, traces, ledger)})
        _add(rows, {"model_events": write_events(out, cfg, seed, day, simulate_events(cfg, seed, day, shop), ledger)})
    shift = start + dt.timedelta(days=cfg.shift_day_offset) if cfg.shift_day_offset < days else None
    _write_ground_truth(out, cfg, seed, start, days, incidents, (changes, jobs, surges), gaps, labels, ledger, shift)
    rows["bad_rows"] = sum(sum(f["bad"].values()) for f in ledger.files.values())
    ground_truth_files = 4
    return SimSummary(out_dir=str(out), days=days, start=start.isoformat(), seed=seed,
                      files_written=len(ledger.files) + ground_truth_files, rows=dict(sorted(rows.items())),
                      incidents=len(incidents), shift_date=shift.isoformat() if shift else None)


def _add(total: dict[str, int], part: dict[str, int]) -> None:
    for key, value in part.items():
        total[key] = total.get(key, 0) + int(value)


def _topic_shift_record(app: dict[str, Any], start: dt.date, days: int) -> dict[str, Any] | None:
    """When the support assistant's new topic appears (None if not within the run) and its daily shares."""
    spec = app.get("topic_shift")
    if not spec or int(spec["day_offset"]) >= days:
        return None
    return {"date": (start + dt.timedelta(days=int(spec["day_offset"]))).isoformat(), "topic": spec["topic"]["topic"],
            "shares": spec["shares"], "questions": spec["topic"]["questions"]}


def _segment_shift_record(recsys: dict[str, Any], start: dt.date, days: int) -> dict[str, Any] | None:
    """When one user segment's click behaviour changes (None if not within the run), and how."""
    spec = recsys.get("segment_shift")
    if not spec or int(spec["day_offset"]) >= days:
        return None
    return {"date": (start + dt.timedelta(days=int(spec["day_offset"]))).isoformat(), "segment": spec["segment"],
            "click_model": spec["click_model"]}


def _write_ground_truth(out: Path, cfg: WorldConfig, seed: int, start: dt.date, days: int,
                        incidents: list[Incident], routine: tuple[list[Change], list[Job], list[Surge]],
                        gaps: list[dict[str, Any]], labels: list[dict[str, Any]], ledger: BadRowLedger,
                        shift: dt.date | None) -> None:
    changes, jobs, surges = routine
    gt = out / "ground_truth"
    app = cfg.section("llm_app")
    export = cfg.section("export")
    world = {
        "seed": seed, "start": start.isoformat(), "days": days,
        "services": {name: {"hosts": list(s.hosts), "baseline": {
            "request_rate": s.request_rate, "latency_p50_ms": s.latency_p50_ms, "p95_ratio": s.p95_ratio,
            "error_rate": s.error_rate, "cpu": s.cpu, "memory": s.memory}} for name, s in cfg.services.items()},
        "topology": [[a, b, cfg.edge_weights[(a, b)]] for a, b in cfg.edges],
        "prometheus_services": list(cfg.prometheus_services),
        "utc_offsets": export["utc_offsets"],
        "legacy_log_service": cfg.legacy_service,
        "late_arrival_share": export["late_arrival_share"],
        "shift_date": shift.isoformat() if shift else None,
        "llm_app": {"app": app["app"], "prompt_template_id": app["prompt_template_id"],
                    "prompt_versions": app["prompt_versions"], "models": app["models"],
                    "rates_apply_to": "traces with status ok", "topic_shift": _topic_shift_record(app, start, days)},
        "recsys": {"shift_day_offset": cfg.shift_day_offset, "click_model": cfg.section("recsys")["click_model"],
                   "segment_shift": _segment_shift_record(cfg.section("recsys"), start, days)},
        "deploys": [deploy_record(start, c) for c in changes if c.kind == "deploy"],
        "changes": [change_record(start, c) for c in changes],
        "jobs": [job_record(start, j) for j in jobs],
        "surges": [surge_record(start, s) for s in surges],
        "kinds": dict(sorted(cfg.kinds.items())),
        "new_services": [{"service": name, "since": iso_minute(start, spec.since_minute)}
                         for name, spec in cfg.services.items() if spec.since_minute > 0],
        "gaps": gaps,
    }
    write_json(gt / "world.json", world)
    pairs = concurrent_ids(cfg, incidents)
    records = [{**incident_record(cfg, start, i), "concurrent_with": pairs.get(i.id)} for i in incidents]
    write_json(gt / "incidents.json", records)
    write_lines(gt / "llm_labels.jsonl", [json.dumps(label, sort_keys=True) for label in labels])
    write_json(gt / "bad_rows.json", ledger.to_dict())
