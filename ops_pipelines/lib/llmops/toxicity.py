"""Toxicity probability from the trained linear model shipped in alt-profanity-check's wheel."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

TOXIC_THRESHOLD = 0.5  # the classifier's own decision point (predict() == 1 iff prob >= 0.5)


def toxicity_probs(texts: Sequence[str | None]) -> np.ndarray:
    """P(toxic) per text (whole text, as the model was trained on whole comments; scoring sentences
    alone raised false alarms on short neutral sentences). Empty or missing text gives NaN.
    The model loads from the installed package (no download)."""
    from profanity_check import predict_prob  # lazy: loads scikit-learn

    out = np.full(len(texts), np.nan)
    present = [i for i, t in enumerate(texts) if isinstance(t, str) and t.strip()]
    if present:
        out[present] = predict_prob([texts[i] for i in present])
    return out


def toxicity(text: str | None) -> float:
    return float(toxicity_probs([text])[0])
