"""The service dependency graph from config, and distances in it."""

from __future__ import annotations

import json
from collections import deque
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path


@dataclass(frozen=True)
class Topology:
    """Caller -> callee edges between services."""

    edges: tuple[tuple[str, str], ...]

    @classmethod
    def load(cls, path: Path) -> Topology:
        doc = json.loads(Path(path).read_text())
        edges = doc.get("edges") if isinstance(doc, dict) else None
        if not isinstance(edges, list) or not all(isinstance(e, list) and len(e) >= 2 for e in edges):
            raise ValueError(f"{path}: expected {{'edges': [[caller, callee], ...]}}")
        return cls(tuple((str(a), str(b)) for a, b, *_ in edges))

    def callees(self, service: str) -> set[str]:
        return {b for a, b in self.edges if a == service}

    def descendants(self, service: str) -> set[str]:
        """Everything `service` depends on, directly or not."""
        seen, todo = set(), [service]
        while todo:
            for callee in self.callees(todo.pop()):
                if callee not in seen:
                    seen.add(callee)
                    todo.append(callee)
        return seen

    def distance(self, a: str, b: str) -> float:
        """Hops between two services ignoring direction; inf when unconnected or unknown."""
        if a == b:
            return 0
        return self._hops.get(a, {}).get(b, float("inf"))

    @cached_property
    def _hops(self) -> dict[str, dict[str, int]]:
        # All-pairs hop counts, once: correlation asks for a distance per episode and cluster service.
        neighbours: dict[str, set[str]] = {}
        for x, y in self.edges:
            neighbours.setdefault(x, set()).add(y)
            neighbours.setdefault(y, set()).add(x)
        hops = {}
        for start in neighbours:
            seen, queue = {start: 0}, deque([start])
            while queue:
                node = queue.popleft()
                for nxt in neighbours[node]:
                    if nxt not in seen:
                        seen[nxt] = seen[node] + 1
                        queue.append(nxt)
            hops[start] = seen
        return hops
