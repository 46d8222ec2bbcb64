"""Service logs: traffic-proportional template lines plus incident bursts, change notices and job lines."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from .badrows import (
    BadRowLedger,
    inject_jsonl,
    injection_counts,
    pick_rows,
    previous_day,
    strip_offset,
)
from .clock import MINUTES_PER_DAY, MS_PER_MINUTE, Day, Stream, day_rng, iso_from_ms
from .config import WorldConfig
from .effects import EffectBook, shape_values
from .incidents import Incident
from .logfields import render_messages

if TYPE_CHECKING:
    from .changes import Change, Job
from .writers import write_lines

# A Java-style continuation line: a realistic reason for a legacy log line not to match the format.
STACK_LINE = "\tat com.shop.erp.batch.JobRunner.run(JobRunner.java:{line})"


@dataclass(frozen=True)
class LogLines:
    """One day's log lines in time order (all columns are object arrays of str)."""

    ts_ms: np.ndarray
    service: np.ndarray
    host: np.ndarray
    level: np.ndarray
    message: np.ndarray


def normal_templates(templates: dict[str, dict[str, Any]], service: str) -> tuple[np.ndarray, np.ndarray]:
    """Template ids a service emits in normal operation, with their probabilities."""
    ids, weights = [], []
    for tid, tpl in templates.items():
        scope = tpl["services"]
        applies = (scope == "*" and service not in tpl.get("except", [])) or (scope != "*" and service in scope)
        if applies and tpl["weight"] > 0:
            ids.append(tid)
            weights.append(float(tpl["weight"]))
    w = np.asarray(weights)
    return np.array(ids, dtype=object), w / w.sum()


def simulate_logs(cfg: WorldConfig, seed: int, day: Day, incidents: list[Incident], changes: list[Change],
                  jobs: list[Job] = (), book: EffectBook | None = None) -> LogLines:
    spec = cfg.section("logs")
    rng = day_rng(seed, day.index, Stream.LOGS)
    names = list(cfg.services)
    share = np.array([cfg.services[n].log_weight for n in names])
    share = share / share.sum()
    norm = float(np.mean(cfg.section("seasonality")["hourly_utc"])) * MINUTES_PER_DAY
    book = book or EffectBook(day.abs_minutes)
    # Log volume follows each service's load (surges included); nothing before a service exists.
    load = np.stack([day.load * book.load_factor(n) * (day.abs_minutes >= cfg.services[n].since_minute) for n in names])
    counts = rng.poisson(float(spec["lines_per_weekday"]) * share[:, None] * load / norm)
    parts: list[dict[str, np.ndarray]] = []
    for k, name in enumerate(names):
        ids, p = normal_templates(spec["templates"], name)
        minutes = np.repeat(np.arange(MINUTES_PER_DAY), counts[k])
        parts.append(_part(minutes, name, rng.choice(np.array(cfg.services[name].hosts, dtype=object), len(minutes)),
                           rng.choice(ids, len(minutes), p=p)))
    for inc in incidents:
        for b in inc.bursts:
            strength = shape_values(b.shape, b.start, b.end, b.tail, day.abs_minutes)
            minutes = np.repeat(np.arange(MINUTES_PER_DAY), rng.poisson(b.per_min * strength))
            hosts = np.full(len(minutes), b.host, dtype=object) if b.host else rng.choice(
                np.array(cfg.services[b.service].hosts, dtype=object), len(minutes))
            parts.append(_part(minutes, b.service, hosts, rng.choice(np.array(b.templates, dtype=object), len(minutes)),
                               root=b.root))
    for minute, service, template, detail in _notices(cfg, day, changes, jobs):
        host = np.array(cfg.services[service].hosts[:1], dtype=object)
        parts.append(_part(np.array([minute]), service, host, np.array([template], dtype=object), version=detail))
    cols = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    ts_ms = day.start_ms + cols["minute"].astype(np.int64) * MS_PER_MINUTE + rng.integers(0, MS_PER_MINUTE, len(cols["minute"]))
    order = np.argsort(ts_ms, kind="stable")
    cols = {k: v[order] for k, v in cols.items()}
    ctx = {"host": cols["host"], "root": cols["root"], "version": cols["version"], "service": cols["service"]}
    messages = render_messages(cols["template"], ctx, spec["templates"], spec["fields"], rng)
    ids, inverse = np.unique(cols["template"].astype(str), return_inverse=True)
    level = np.array([spec["templates"][t]["level"] for t in ids], dtype=object)[inverse]
    return LogLines(ts_ms[order], cols["service"], cols["host"], level, messages)


def _notices(cfg: WorldConfig, day: Day, changes: list[Change], jobs: list[Job]) -> list[tuple[int, str, str, str]]:
    """(minute of the day, service, template, detail) of every change and job line logged today."""
    styles = cfg.section("deploys")["log_styles"]
    first = int(day.abs_minutes[0])
    out = []
    for c in changes:
        if not c.logged:
            continue
        if c.kind == "deploy":
            begin, done = styles[c.style]
            out += [(c.started - first, c.service, begin, c.detail), (c.minute - first, c.service, done, c.detail)]
        else:
            out.append((c.minute - first, c.service, "config_changed", c.detail))
    for job in jobs:
        if job.start_template:
            out += [(job.start - first, job.service, job.start_template, ""), (job.end - first, job.service, job.end_template, "")]
    return [n for n in out if 0 <= n[0] < MINUTES_PER_DAY]


def _part(minutes: np.ndarray, service: str, hosts: np.ndarray, templates: np.ndarray, root: str = "",
          version: str = "") -> dict[str, np.ndarray]:
    n = len(minutes)
    return {"minute": minutes, "service": np.full(n, service, dtype=object), "host": hosts,
            "template": templates, "root": np.full(n, root, dtype=object), "version": np.full(n, version, dtype=object)}


def _json_escape(values: np.ndarray) -> np.ndarray:
    escaped = pd.Series(values, dtype=object).str.replace("\\", "\\\\", regex=False)
    return escaped.str.replace('"', '\\"', regex=False).to_numpy(dtype=object)


def write_logs(out: Path, cfg: WorldConfig, seed: int, day: Day, logs: LogLines, ledger: BadRowLedger) -> dict[str, int]:
    """services.jsonl for every service but the legacy one, which writes a plain text file."""
    legacy = cfg.legacy_service
    ts = iso_from_ms(logs.ts_ms)
    is_legacy = logs.service == legacy
    modern = ~is_legacy
    m_ts, m_svc, m_host, m_lvl, m_msg = (a[modern] for a in (ts, logs.service, logs.host, logs.level, logs.message))
    lines = ('{"timestamp": "' + m_ts + '", "service": "' + m_svc + '", "host": "' + m_host + '", "level": "'
             + m_lvl + '", "message": "' + _json_escape(m_msg) + '"}').tolist()

    def record_at(i: int) -> dict[str, Any]:
        return {"timestamp": m_ts[i], "service": m_svc[i], "host": m_host[i], "level": m_lvl[i], "message": m_msg[i]}

    bad_cfg = cfg.section("bad_rows")
    rng = day_rng(seed, day.index, Stream.BAD_ROWS, 3)
    lines, bad = inject_jsonl(lines, record_at, rng, injection_counts(bad_cfg["logs_jsonl"], len(lines), rng),
                              required=("timestamp", "service", "level", "message"))
    rel = f"logs/{day.iso}/services.jsonl"
    write_lines(out / rel, lines)
    ledger.record(rel, len(lines), bad)

    l_ts = ts[is_legacy].copy()
    rest = (" " + logs.level[is_legacy] + f" [{legacy}] " + logs.host[is_legacy] + " " + logs.message[is_legacy])
    picks = pick_rows(rng, len(l_ts), injection_counts(bad_cfg["legacy_log"], len(l_ts), rng))
    for i in picks.get("naive_timestamp", []):
        l_ts[i] = strip_offset(l_ts[i])
    for i in picks.get("outside_partition", []):
        l_ts[i] = previous_day(l_ts[i])
    text = l_ts + rest
    for i in picks.get("unparseable_row", []):
        text[i] = text[i] + "\n" + STACK_LINE.format(line=int(rng.integers(40, 400)))
    legacy_lines = "\n".join(text.tolist()).split("\n")
    legacy_rel = f"logs/{day.iso}/{legacy}.log"
    write_lines(out / legacy_rel, legacy_lines)
    ledger.record(legacy_rel, len(legacy_lines), {r: len(v) for r, v in picks.items()})
    return {"log_lines": len(lines), "legacy_log_lines": len(legacy_lines)}
