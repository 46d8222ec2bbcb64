"""The service dependency graph from config, the kind of each node, and distances in it.

File format (`assets/aiops/topology.json`):
`{"services": [...], "calls": [[caller, callee], ...], "kinds": {service: kind}}`; kinds are
`service` (the default), `database`, `cache`, `queue` and `third_party` (something we call but
have no telemetry of: it shows only in its callers). The older `{"edges": [[caller, callee]]}`
form is still read.
"""

from __future__ import annotations

import json
from collections import deque
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

KINDS = ("service", "database", "cache", "queue", "third_party")
# Kinds whose faults show mostly in their callers: their own few anomalous points are evidence, not a blip.
INFRASTRUCTURE = ("database", "cache", "queue")


@dataclass(frozen=True)
class Topology:
    """Caller -> callee edges between services, plus each node's kind (default `service`)."""

    edges: tuple[tuple[str, str], ...]
    kind_pairs: tuple[tuple[str, str], ...] = ()
    listed: tuple[str, ...] = ()  # services named in the file, with or without edges

    @classmethod
    def load(cls, path: Path) -> Topology:
        doc = json.loads(Path(path).read_text())
        if not isinstance(doc, dict):
            raise ValueError(f"{path}: expected a JSON object with 'calls' (or 'edges')")
        edges = doc.get("calls", doc.get("edges"))
        if not isinstance(edges, list) or not all(isinstance(e, list) and len(e) >= 2 for e in edges):
            raise ValueError(f"{path}: expected {{'calls': [[caller, callee], ...]}} (or the older 'edges')")
        kinds = doc.get("kinds", {})
        if not isinstance(kinds, dict):
            raise ValueError(f"{path}: 'kinds' must map a service to one of {list(KINDS)}")
        unknown = sorted(f"{s}={k}" for s, k in kinds.items() if k not in KINDS)
        if unknown:
            raise ValueError(f"{path}: unknown service kinds {unknown}; use one of {list(KINDS)}")
        services = doc.get("services", [])
        if not isinstance(services, list):
            raise ValueError(f"{path}: 'services' must be a list of names")
        return cls(tuple((str(a), str(b)) for a, b, *_ in edges),
                   tuple(sorted((str(s), str(k)) for s, k in kinds.items())), tuple(str(s) for s in services))

    @cached_property
    def services(self) -> tuple[str, ...]:
        """Every node: listed services, both ends of every edge, and every node with a kind."""
        names = set(self.listed) | {n for e in self.edges for n in e} | {s for s, _ in self.kind_pairs}
        return tuple(sorted(names))

    @cached_property
    def _kinds(self) -> dict[str, str]:
        return dict(self.kind_pairs)

    def kind(self, service: str) -> str:
        return self._kinds.get(service, "service")

    def is_dark(self, service: str) -> bool:
        """A third party: no telemetry of its own, so it can only be inferred from its callers."""
        return self.kind(service) == "third_party"

    @cached_property
    def _callees(self) -> dict[str, frozenset[str]]:
        out: dict[str, set[str]] = {}
        for a, b in self.edges:
            out.setdefault(a, set()).add(b)
        return {k: frozenset(v) for k, v in out.items()}

    @cached_property
    def _callers(self) -> dict[str, frozenset[str]]:
        out: dict[str, set[str]] = {}
        for a, b in self.edges:
            out.setdefault(b, set()).add(a)
        return {k: frozenset(v) for k, v in out.items()}

    def callees(self, service: str) -> set[str]:
        return set(self._callees.get(service, ()))

    def callers(self, service: str) -> set[str]:
        return set(self._callers.get(service, ()))

    def descendants(self, service: str) -> set[str]:
        """Everything `service` depends on, directly or not."""
        return set(self._down.get(service, {}))

    def ancestors(self, service: str) -> set[str]:
        """Everything that depends on `service`, directly or not."""
        return {a for a, below in self._down.items() if service in below}

    def depends_on(self, caller: str, callee: str) -> int | None:
        """Hops from `caller` down to `callee` along call edges; None when `caller` does not depend on it."""
        return self._down.get(caller, {}).get(callee)

    def distance(self, a: str, b: str) -> float:
        """Hops between two services ignoring direction; inf when unconnected or unknown."""
        if a == b:
            return 0
        return self._hops.get(a, {}).get(b, float("inf"))

    @cached_property
    def _down(self) -> dict[str, dict[str, int]]:
        """Per node, the hop count to each node it depends on (shortest call path)."""
        return {start: _bfs(start, self._callees) for start in self.services}

    @cached_property
    def _hops(self) -> dict[str, dict[str, int]]:
        # All-pairs hop counts, once: correlation asks for a distance per episode and cluster service.
        neighbours: dict[str, set[str]] = {}
        for x, y in self.edges:
            neighbours.setdefault(x, set()).add(y)
            neighbours.setdefault(y, set()).add(x)
        frozen = {k: frozenset(v) for k, v in neighbours.items()}
        return {start: {**_bfs(start, frozen), start: 0} for start in neighbours}

    def with_kinds(self, kinds: dict[str, str]) -> Topology:
        """The same graph with some nodes' kinds set (e.g. nodes without telemetry as third parties)."""
        merged = {**dict(self.kind_pairs), **kinds}
        return Topology(self.edges, tuple(sorted(merged.items())), self.listed)

    def to_dict(self) -> dict:
        """The file form (`services`, `calls`, `kinds`)."""
        return {"services": list(self.services), "calls": [list(e) for e in self.edges], "kinds": dict(self.kind_pairs)}


def _bfs(start: str, graph: dict[str, frozenset[str]]) -> dict[str, int]:
    """Hops from `start` to every node reachable along `graph` (start itself excluded)."""
    seen, queue = {start: 0}, deque([start])
    while queue:
        node = queue.popleft()
        for nxt in graph.get(node, ()):
            if nxt not in seen:
                seen[nxt] = seen[node] + 1
                queue.append(nxt)
    seen.pop(start)
    return seen
