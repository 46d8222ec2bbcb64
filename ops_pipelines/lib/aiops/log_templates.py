"""Drain log templates (drain3) with ids that stay stable from day to day, and pickle-free state.

Each line is mined on its message alone after masking variable fields, so one event is one template
whatever level it was written at; the level stays an attribute of the line (and each template keeps
the most severe level it was seen at). The miner's whole state (clusters, Drain's prefix tree,
first-seen minutes) is canonical JSON in a zip with fixed timestamps, never drain3's jsonpickle:
mining day by day with the state carried over gives the ids, texts and state bytes of one pass.
"""

from __future__ import annotations

import json
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ops_pipelines.lib.aiops.log_rules import severity
from ops_pipelines.lib.aiops.state_store import write_zip_atomic
from ops_pipelines.lib.ingest.formats import LEVEL_ALIASES

# Applied in this order; each turns a variable field into one token, so lines of one statement
# collapse into one template. Boundaries keep paths (/api/v1) and words with digits inside intact.
MASKS: tuple[tuple[str, str], ...] = (
    (r"(?<![0-9a-fA-F-])[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}(?![0-9a-fA-F-])", "UUID"),
    (r"(?<![\w.])\d{1,3}(?:\.\d{1,3}){3}(?::\d{1,5})?(?![\w.])", "IP"),
    # hex ids: 0x..., any 12+ hex run (a random id may be all digits), or 8+ mixing digits and a-f
    (r"(?<![\w-])(?:0x[0-9a-fA-F]+|[0-9a-fA-F]{12,}|(?=[0-9a-fA-F]*\d)(?=[0-9a-fA-F]*[a-fA-F])[0-9a-fA-F]{8,})(?![\w-])", "HEX"),
    (r"(?<![\w.])\d+(?:\.\d+)?(?:ms|us|µs|ns|s|m|h)(?!\w)", "DURATION"),
    # prefixed ids and host names: u123456, SKU-123456, ord-12345678, product:42, cart-1, redis-1:6379
    (r"(?<![\w./-])[A-Za-z][A-Za-z_]*[-_:]?\d(?:[\w.:-]*\w)?", "ID"),
    (r"(?<![\w.])[-+]?\d+(?:\.\d+)?(?!\w|\.\d)", "NUM"),
)
DRAIN = {"sim_th": 0.4, "depth": 4, "max_children": 100}  # drain3's defaults
REQUIRED = ("timestamp", "service", "level", "message")
STATE_MEMBER = "miner.json"
_FORMAT = 2  # 1 mined "<LEVEL> <message>": its ids are not comparable
_EPOCH = (1980, 1, 1, 0, 0, 0)  # fixed zip timestamps: the same state gives the same bytes
_NS_PER_MINUTE = 60_000_000_000


def _settings() -> dict:
    return {"masks": [list(m) for m in MASKS], **DRAIN}


class LogTemplateMiner:
    """drain3's TemplateMiner plus what the pipeline remembers per template (top level, first minute)."""

    def __init__(self) -> None:
        from drain3 import TemplateMiner
        from drain3.masking import MaskingInstruction
        from drain3.template_miner_config import TemplateMinerConfig

        config = TemplateMinerConfig()  # built in code: never reads a drain3.ini from the cwd
        config.masking_instructions = [MaskingInstruction(pattern, name) for pattern, name in MASKS]
        config.drain_sim_th, config.drain_depth = DRAIN["sim_th"], DRAIN["depth"]
        config.drain_max_children = DRAIN["max_children"]
        config.drain_max_clusters = None  # an LRU would make ids depend on eviction order
        self.miner = TemplateMiner(config=config)  # no persistence handler: no jsonpickle
        self.levels: dict[int, str] = {}  # template id -> most severe level seen (first written among equals)
        self.first_seen: dict[int, int] = {}  # template id -> epoch minute of its first line
        self.history_start: int | None = None  # epoch minute (UTC midnight) of the first mined day

    def mask(self, message: str) -> str:
        return self.miner.masker.mask(message)

    def add(self, levels: list[str], messages: list[str], minutes: np.ndarray) -> np.ndarray:
        """Mine lines in order; the template id of each line (Drain is sequential by nature)."""
        ids = np.empty(len(messages), dtype=np.int64)
        add = self.miner.add_log_message
        ranks = severity(levels).tolist()
        known = list(self.levels)
        top = dict(zip(known, severity([self.levels[c] for c in known]).tolist()))
        for i, (level, rank, message, minute) in enumerate(zip(levels, ranks, messages, minutes.tolist())):
            cid = int(add(message)["cluster_id"])
            ids[i] = cid
            if cid not in self.first_seen:
                self.first_seen[cid], self.levels[cid], top[cid] = minute, level, rank
            elif rank > top[cid]:
                self.levels[cid], top[cid] = level, rank
        return ids

    def templates(self) -> pd.DataFrame:
        """Every template known so far: template_id, template, level (most severe seen), first_seen, total_count."""
        clusters = sorted(self.miner.drain.clusters, key=lambda c: c.cluster_id)
        return pd.DataFrame({
            "template_id": np.array([c.cluster_id for c in clusters], dtype=np.int64),
            "template": pd.Series([" ".join(c.log_template_tokens) for c in clusters], dtype=object),
            "level": pd.Series([self.levels[c.cluster_id] for c in clusters], dtype=object),
            "first_seen": pd.to_datetime(np.array([self.first_seen[c.cluster_id] for c in clusters], dtype=np.int64)
                                         * _NS_PER_MINUTE, utc=True),
            "total_count": np.array([c.size for c in clusters], dtype=np.int64),
        })

    def to_bytes(self) -> bytes:
        drain = self.miner.drain
        clusters = sorted(drain.clusters, key=lambda c: c.cluster_id)
        doc = {
            "format": _FORMAT, "settings": _settings(), "history_start": self.history_start,
            "clusters_counter": drain.clusters_counter,
            "clusters": [[c.cluster_id, c.size, self.levels[c.cluster_id], self.first_seen[c.cluster_id],
                          list(c.log_template_tokens)] for c in clusters],
            "tree": _node_to_doc(drain.root_node),
        }
        return json.dumps(doc, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode("utf-8")

    @classmethod
    def from_bytes(cls, data: bytes) -> LogTemplateMiner:
        from drain3.drain import LogCluster

        doc = json.loads(data.decode("utf-8"))
        if doc.get("format") != _FORMAT or doc.get("settings") != _settings():
            raise ValueError("log template state was written by another miner version or with other masking/Drain "
                             "settings; template ids would not be comparable. Delete the log_templates state folder "
                             "to re-mine from scratch.")
        out = cls()
        drain = out.miner.drain
        for cid, size, level, first_seen, tokens in doc["clusters"]:
            cluster = LogCluster(tokens, cid)
            cluster.size = size
            drain.id_to_cluster[cid] = cluster
            out.levels[cid], out.first_seen[cid] = level, first_seen
        drain.clusters_counter = doc["clusters_counter"]
        drain.root_node = _node_from_doc(doc["tree"])
        out.history_start = doc["history_start"]
        return out


def _node_to_doc(node) -> dict:
    # Children keep drain3's insertion order in memory; sorted keys on disk only change dict order,
    # which Drain never depends on (it looks children up by token and counts them).
    return {"ids": list(node.cluster_ids), "children": {k: _node_to_doc(v) for k, v in node.key_to_child_node.items()}}


def _node_from_doc(doc: dict):
    from drain3.drain import Node

    node = Node()
    node.cluster_ids = list(doc["ids"])
    node.key_to_child_node = {k: _node_from_doc(v) for k, v in doc["children"].items()}
    return node


@dataclass
class MinedLogs:
    """The usable lines with their template, every known template, and what could not be mined."""

    lines: pd.DataFrame  # input columns + minute (epoch minutes), template_id, template; time order
    templates: pd.DataFrame  # LogTemplateMiner.templates() after this batch
    history_start: int | None  # epoch minute the template history starts at (warm-up reference)
    skipped: int  # rows without timestamp, service, level or message: skipped, counted here


def mine_logs(logs: pd.DataFrame, miner: LogTemplateMiner | None = None) -> tuple[MinedLogs, LogTemplateMiner]:
    """Assign every log line a template; return the result and the updated miner (a copy).

    `logs` has timestamp (UTC; naive is read as UTC), service, level, message. Rows missing any of
    these values are skipped and counted in `skipped`; a frame with rows but without one of
    these columns raises ValueError. Lines are mined in time order (ties keep input order).
    """
    miner = LogTemplateMiner.from_bytes(miner.to_bytes()) if miner is not None else LogTemplateMiner()
    lines, skipped = _usable_lines(logs)
    ids = np.array([], dtype=np.int64)
    if len(lines):
        if miner.history_start is None:
            miner.history_start = int(lines["minute"].iloc[0]) // 1440 * 1440
        ids = miner.add(lines["level"].tolist(), lines["message"].tolist(), lines["minute"].to_numpy())
    return _with_templates(lines, ids, miner.templates(), miner.history_start, skipped), miner


def _with_templates(lines: pd.DataFrame, ids: np.ndarray, templates: pd.DataFrame, history_start: int | None,
                    skipped: int) -> MinedLogs:
    lines["template_id"] = ids
    lines["template"] = lines["template_id"].map(dict(zip(templates["template_id"], templates["template"]))).astype(object)
    return MinedLogs(lines, templates, history_start, skipped)


def _usable_lines(logs: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    if len(logs) == 0:
        empty = pd.DataFrame({"timestamp": pd.Series(dtype="datetime64[ns, UTC]"), "service": pd.Series(dtype=object),
                              "level": pd.Series(dtype=object), "message": pd.Series(dtype=object)})
        return empty.assign(minute=np.array([], dtype=np.int64)), 0
    missing = [c for c in REQUIRED if c not in logs.columns]
    if missing:
        raise ValueError(f"log rows need columns {list(REQUIRED)}; missing {missing} (found {list(logs.columns)})")
    lines = logs.copy()
    lines["timestamp"] = pd.to_datetime(lines["timestamp"], utc=True, errors="coerce").astype("datetime64[ns, UTC]")
    for col in ("service", "level", "message"):
        text = lines[col].astype(object)
        lines[col] = text.where(text.isna(), text.astype(str))
    level = lines["level"].str.strip().str.upper()
    lines["level"] = level.map(lambda v: LEVEL_ALIASES.get(v, v), na_action="ignore")
    ok = lines[list(REQUIRED)].notna().all(axis=1) & (lines["level"] != "") & (lines["service"] != "")
    lines = lines[ok].sort_values("timestamp", kind="stable").reset_index(drop=True)
    lines["minute"] = lines["timestamp"].array.asi8 // _NS_PER_MINUTE
    return lines, int((~ok).sum())


def daily_templates(mined: MinedLogs) -> pd.DataFrame:
    """One row per template seen in the batch: id, text, level, services, count, first_seen, is_new."""
    lines = mined.lines
    cols = ["template_id", "template", "level", "services", "count", "first_seen", "total_count", "is_new"]
    if lines.empty:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in cols}).astype(
            {"template_id": np.int64, "count": np.int64, "total_count": np.int64, "is_new": bool})
    grouped = lines.groupby("template_id", sort=True)
    per = pd.DataFrame({"count": grouped.size().astype(np.int64),
                        "services": grouped["service"].agg(lambda s: sorted(set(s.tolist())))}).reset_index()
    out = per.merge(mined.templates, on="template_id", how="left")
    out["is_new"] = out["first_seen"].array.asi8 // _NS_PER_MINUTE >= int(lines["minute"].iloc[0])
    return out[cols].sort_values(["count", "template_id"], ascending=[False, True], ignore_index=True)


def save_miner(miner: LogTemplateMiner, path: Path) -> None:
    write_zip_atomic(path, {STATE_MEMBER: miner.to_bytes()})


def load_miner(path: Path) -> LogTemplateMiner:
    with zipfile.ZipFile(path) as zf:
        return LogTemplateMiner.from_bytes(zf.read(STATE_MEMBER))


# The last batch mined in this process: log_templates and log_anomalies mine the same day from the same
# state in one run (in-process executor), and mining is a third of a day's CPU. Keyed by the content of
# both, so a hit is exactly what mining again would give. Only the template ids are kept, not the lines:
# the lines are rebuilt from the input on a hit, so the process does not hold a day of messages twice
# (about 0.9 GB at 2,000 services) through every step that runs between the two.
_last_mined: tuple[str, np.ndarray, pd.DataFrame, int | None, LogTemplateMiner] | None = None


def mine_logs_from(logs: pd.DataFrame, state: Path | None) -> tuple[MinedLogs, LogTemplateMiner]:
    """`mine_logs` of `logs` from the miner saved at `state` (None: a cold start), mined once per process
    for the same logs and state; the lines are a new frame each call, the caller may change them."""
    import hashlib

    global _last_mined
    digest = hashlib.sha256(pd.util.hash_pandas_object(logs, index=False).to_numpy().tobytes())
    digest.update(b"|" + (state.read_bytes() if state is not None else b"cold"))
    key = f"{len(logs)}:{list(logs.columns)}:{digest.hexdigest()}"
    if _last_mined is not None and _last_mined[0] == key:
        _, ids, templates, history_start, miner = _last_mined
        lines, skipped = _usable_lines(logs)
        return _with_templates(lines, ids.copy(), templates.copy(), history_start, skipped), miner
    _last_mined = None  # released before mining: never two days' results at once
    mined, miner = mine_logs(logs, load_miner(state) if state is not None else None)
    _last_mined = (key, mined.lines["template_id"].to_numpy().copy(), mined.templates.copy(), mined.history_start, miner)
    return mined, miner
