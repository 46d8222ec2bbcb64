"""Metadata as people read it in the UI: floats to meaningful digits, no empty entries."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

DIGITS = 4  # significant digits: 0.5730194500000001 -> 0.573, 12345.678 -> 12350.0, 0.000123456 -> 0.0001235


def meaningful(value: float, digits: int = DIGITS) -> float:
    """`value` rounded to `digits` significant digits (a float still, so the UI plots it over time)."""
    return float(f"{value:.{digits}g}")


def tidy(metadata: Mapping[str, Any], digits: int = DIGITS) -> dict[str, Any]:
    """A copy of `metadata` with plain floats rounded to `digits` significant digits and the entries that
    would show empty (None, "", NaN) left out. Other values (ints, bools, MetadataValue objects) pass as they are."""
    out = {}
    for key, value in metadata.items():
        if value is None or (isinstance(value, str) and not value.strip()):
            continue
        if isinstance(value, float):
            if math.isnan(value):
                continue
            value = meaningful(value, digits) if math.isfinite(value) else value
        out[key] = value
    return out
