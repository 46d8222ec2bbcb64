"""Vectorised rendering of log templates: one numpy pass per template and field."""

from __future__ import annotations

import string
from typing import Any

import numpy as np

_HEX = np.array(list("0123456789abcdef"))


def hex_ids(rng: np.random.Generator, n: int, length: int) -> np.ndarray:
    """n random lowercase hex strings of `length` characters (object array)."""
    chars = np.ascontiguousarray(_HEX[rng.integers(0, 16, (n, length))])
    return chars.view(f"<U{length}").ravel().astype(object)


def _digits(rng: np.random.Generator, n: int, digits: int) -> np.ndarray:
    return np.char.zfill(rng.integers(0, 10**digits, n).astype(str), digits).astype(object)


def field_values(spec: dict[str, Any], rng: np.random.Generator, n: int, ctx: dict[str, np.ndarray]) -> np.ndarray:
    """Values for one placeholder across n lines; `ctx` holds per-line host/root/version columns."""
    kind = spec["kind"]
    if kind == "choice":
        return rng.choice(np.array(spec["values"], dtype=object), n)
    if kind == "int":
        return rng.integers(spec["low"], spec["high"], n).astype(str).astype(object)
    if kind == "lognormal":
        vals = np.maximum(1, np.round(spec["median"] * np.exp(spec["sigma"] * rng.standard_normal(n))))
        return vals.astype(np.int64).astype(str).astype(object)
    if kind == "float":
        vals = rng.uniform(spec["low"], spec["high"], n)
        return np.char.mod(f"%.{int(spec['decimals'])}f", vals).astype(object)
    if kind == "id":
        return spec["prefix"] + _digits(rng, n, int(spec["digits"]))
    if kind == "hex":
        return hex_ids(rng, n, int(spec["length"]))
    if kind == "ip":
        octets = rng.integers(1, 255, (n, 3)).astype(str).astype(object)
        return "10." + octets[:, 0] + "." + octets[:, 1] + "." + octets[:, 2]
    if kind == "by_service":
        # e.g. request paths: the cart service logs cart endpoints, not search ones.
        out = np.empty(n, dtype=object)
        for service in sorted(set(ctx["service"].tolist())):
            idx = np.flatnonzero(ctx["service"] == service)
            options = spec["values"].get(service, spec["values"]["*"])
            out[idx] = rng.choice(np.array(options, dtype=object), len(idx))
        return out
    if kind == "host":
        return ctx["host"]
    if kind == "root":
        return ctx["root"]
    raise ValueError(f"unknown log field kind {kind!r}")


def render_messages(template_ids: np.ndarray, ctx: dict[str, np.ndarray], templates: dict[str, dict[str, Any]],
                    fields: dict[str, dict[str, Any]], rng: np.random.Generator) -> np.ndarray:
    """Message text per line, filling every placeholder of each line's template."""
    out = np.empty(len(template_ids), dtype=object)
    for tid in sorted(set(template_ids.tolist())):
        idx = np.flatnonzero(template_ids == tid)
        sub_ctx = {k: v[idx] for k, v in ctx.items()}
        text = np.full(len(idx), "", dtype=object)
        for literal, name, _, _ in string.Formatter().parse(templates[tid]["text"]):
            text = text + literal
            if name in ("version", "detail"):  # per-line text of a change notice
                text = text + sub_ctx["version"]
            elif name:
                text = text + field_values(fields[name], rng, len(idx), sub_ctx)
        out[idx] = text
    return out
