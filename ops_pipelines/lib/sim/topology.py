"""Service dependency graph: who calls whom, and how strongly a fault echoes upstream."""

from __future__ import annotations

import heapq


def upstream_reach(edge_weights: dict[tuple[str, str], float], root: str,
                   dampening: float) -> dict[str, tuple[int, float]]:
    """Transitive callers of `root` -> (hops, strength) along the strongest path (root excluded).

    Faults travel against the call direction. Each hop multiplies the echo by `dampening` and by the
    share of the caller's traffic that goes through that edge, so a slow LLM barely moves the gateway.
    """
    callers: dict[str, list[tuple[str, float]]] = {}
    for (caller, callee), weight in sorted(edge_weights.items()):
        callers.setdefault(callee, []).append((caller, weight))
    best: dict[str, tuple[int, float]] = {root: (0, 1.0)}
    heap = [(-1.0, 0, root)]
    while heap:
        neg, hops, node = heapq.heappop(heap)
        if -neg < best[node][1]:
            continue
        for caller, weight in callers.get(node, []):
            strength = -neg * dampening * weight
            if caller not in best or strength > best[caller][1]:
                best[caller] = (hops + 1, strength)
                heapq.heappush(heap, (-strength, hops + 1, caller))
    best.pop(root)
    return best
