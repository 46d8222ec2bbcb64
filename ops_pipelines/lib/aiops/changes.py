"""Change events: what was changed on which service and when, from the `changes` landing kind and
from log lines that announce deploys, config changes and job runs (configurable patterns).

A change has a window: a deploy from "started" to "finished", a job from its start line to its end
line, a config change or an exported change record at its moment. Correlation asks "did this
shift follow a change on the same service?" against these windows.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

CHANGE_COLUMNS = ["timestamp", "service", "kind", "phase", "detail", "source"]
WINDOW_COLUMNS = ["service", "kind", "detail", "source", "start", "end"]


@dataclass(frozen=True)
class ChangePatterns:
    """Log patterns per (kind, phase), tried in order, and how long a change's window lasts."""

    patterns: tuple[tuple[str, str, re.Pattern], ...]
    window: dict[str, int] = field(default_factory=dict)  # kind -> minutes after a lone start or point
    max_pair: dict[str, int] = field(default_factory=dict)  # kind -> longest start..end pairing, minutes
    prefilter: re.Pattern | None = None  # a cheap regex every change line matches (speed only)

    @classmethod
    def load(cls, path: Path) -> ChangePatterns:
        doc = json.loads(Path(path).read_text())
        rules = doc.get("patterns") if isinstance(doc, dict) else None
        if not isinstance(rules, list) or not all(isinstance(r, dict) and {"kind", "phase", "regex"} <= set(r) for r in rules):
            raise ValueError(f"{path}: expected {{'patterns': [{{'kind', 'phase', 'regex'}}, ...]}}")
        compiled = []
        for r in rules:
            if r["phase"] not in ("start", "end", "point"):
                raise ValueError(f"{path}: phase must be start, end or point, not {r['phase']!r}")
            try:
                compiled.append((str(r["kind"]), str(r["phase"]), re.compile(r["regex"])))
            except re.error as exc:
                raise ValueError(f"{path}: bad regex for {r['kind']}/{r['phase']}: {exc}") from None
        prefilter = re.compile(doc["prefilter"]) if doc.get("prefilter") else None
        return cls(tuple(compiled), {str(k): int(v) for k, v in doc.get("window_minutes", {}).items()},
                   {str(k): int(v) for k, v in doc.get("max_pair_minutes", {}).items()}, prefilter)

    def classify(self, texts: pd.Series) -> tuple[pd.Series, pd.Series]:
        """(kind, phase) per text, "" where no pattern matches."""
        text = texts.fillna("").astype(str)
        kind = pd.Series("", index=text.index, dtype=object)
        phase = pd.Series("", index=text.index, dtype=object)
        candidates = text[self._prefiltered(text)] if self.prefilter is not None else text
        for k, p, regex in self.patterns:
            todo = candidates[kind[candidates.index] == ""]
            if todo.empty:
                break
            hit = todo.map(regex.search).notna()
            idx = hit[hit].index
            kind[idx], phase[idx] = k, p
        return kind, phase

    def _prefiltered(self, text: pd.Series) -> np.ndarray:
        """Rows the prefilter matches, through Arrow's RE2 (Python's case-insensitive regex is ~40x slower)."""
        import pyarrow as pa
        import pyarrow.compute as pc

        pattern = self.prefilter.pattern
        ignore_case = pattern.startswith("(?i)")
        try:
            hit = pc.match_substring_regex(pa.array(text.to_numpy(dtype=object), type=pa.string()),
                                           pattern.removeprefix("(?i)"), ignore_case=ignore_case)
            return hit.to_numpy(zero_copy_only=False).astype(bool)
        except pa.ArrowInvalid:  # not RE2 syntax: the slow way
            return text.map(self.prefilter.search).notna().to_numpy()

    def matches(self, texts: pd.Series) -> np.ndarray:
        """True where a text (a log line or template) announces a change."""
        return (self.classify(texts)[0] != "").to_numpy(dtype=bool)


def changes_from_logs(logs: pd.DataFrame, patterns: ChangePatterns) -> pd.DataFrame:
    """Change events announced in service log lines (timestamp, service, message)."""
    if logs is None or logs.empty:
        return _empty()
    kind, phase = patterns.classify(logs["message"])
    hit = (kind != "").to_numpy()
    rows = logs[hit]
    return _frame(rows["timestamp"], rows["service"], kind[hit], phase[hit], rows["message"].astype(str), "logs")


def changes_from_records(records: pd.DataFrame | None) -> pd.DataFrame:
    """Change events of the `changes` landing kind (each is a moment: phase `point`)."""
    if records is None or records.empty:
        return _empty()
    detail = records["detail"].astype(object).where(records["detail"].notna(), "") if "detail" in records else ""
    return _frame(records["timestamp"], records["service"], records["kind"].astype(str), "point", detail, "changes")


def combine(*frames: pd.DataFrame) -> pd.DataFrame:
    """All change events in time order, exact repeats dropped."""
    parts = [f for f in frames if f is not None and len(f)]
    if not parts:
        return _empty()
    out = pd.concat(parts, ignore_index=True).drop_duplicates()
    return out.sort_values(["timestamp", "service", "kind", "phase", "source"], kind="stable").reset_index(drop=True)


def windows(changes: pd.DataFrame, patterns: ChangePatterns) -> pd.DataFrame:
    """One row per change with its window: a start paired with the next end of the same service
    and kind (within `max_pair` minutes); a lone start lasts `window` minutes; points and lone ends
    are moments, except a job's lone end, which is dropped."""
    rows = []
    for (_service, kind), part in changes.groupby(["service", "kind"], sort=True):
        open_start: pd.Series | None = None
        limit = pd.Timedelta(minutes=patterns.max_pair.get(kind, 60))
        default = pd.Timedelta(minutes=patterns.window.get(kind, 15))
        for _, c in part.iterrows():
            if open_start is not None and (c["phase"] == "start" or c["timestamp"] - open_start["timestamp"] > limit):
                rows.append(_window(open_start, open_start["timestamp"] + default))
                open_start = None
            if c["phase"] == "start":
                open_start = c
            elif c["phase"] == "end" and open_start is not None:
                rows.append(_window(open_start, c["timestamp"], detail=c["detail"]))
                open_start = None
            elif c["phase"] == "point" or kind != "job":
                # A job's end line alone says nothing about when it ran (chatty batch logs end all day).
                rows.append(_window(c, c["timestamp"]))
        if open_start is not None:
            rows.append(_window(open_start, open_start["timestamp"] + default))
    if not rows:
        return pd.DataFrame(columns=WINDOW_COLUMNS)
    return pd.DataFrame(rows, columns=WINDOW_COLUMNS).sort_values(["start", "service"], kind="stable").reset_index(drop=True)


def _window(c: pd.Series, end: pd.Timestamp, detail: str | None = None) -> dict:
    return {"service": c["service"], "kind": c["kind"], "detail": detail if detail is not None else c["detail"],
            "source": c["source"], "start": c["timestamp"], "end": end}


def _frame(timestamp, service, kind, phase, detail, source: str) -> pd.DataFrame:
    n = len(timestamp)
    return pd.DataFrame({
        "timestamp": pd.to_datetime(pd.Series(timestamp).to_numpy(), utc=True),
        "service": pd.Series(service).astype(str).to_numpy(),
        "kind": pd.Series(kind).astype(str).to_numpy() if not isinstance(kind, str) else np.full(n, kind, dtype=object),
        "phase": pd.Series(phase).astype(str).to_numpy() if not isinstance(phase, str) else np.full(n, phase, dtype=object),
        "detail": pd.Series(detail).astype(str).to_numpy() if not isinstance(detail, str) else np.full(n, detail, dtype=object),
        "source": np.full(n, source, dtype=object),
    }, columns=CHANGE_COLUMNS)


def _empty() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype="datetime64[ns, UTC]" if c == "timestamp" else object) for c in CHANGE_COLUMNS})
