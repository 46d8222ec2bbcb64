"""Explanations of a model version: global importance on an evaluation window, contributions for one row.

Everything is in terms of the model's input columns (a categorical column is one feature, not its one-hot
columns) and deterministic (seeded).

* **Global importance**: permutation importance (`sklearn.inspection.permutation_importance`): how much the
  promotion metric drops when one input column is shuffled, mean and std over `REPEATS` seeded shuffles, on
  at most `MAX_ROWS` rows of the window (a seeded sample). When the metric is undefined on the window (one
  class for roc_auc), log loss is used instead and named in the result.
* **Row contributions**, in log-odds (the estimator's `decision_function`):
  - linear estimators (`coef_`): exact, `coef x value` where value is what the estimator sees (the imputed,
    standardised number; 1 for the row's one-hot category, 0 for the others), summed over a column's
    transformed columns. The baseline is zero, so the base is the intercept and base + contributions = the
    row's log-odds.
  - any other estimator (the gradient-boosted trees): exact interventional Shapley values against a seeded
    background sample of the version's own training rows (`BACKGROUND_ROWS`): every coalition of input
    columns is scored with the others taken from the background (2^d x background rows; sampled
    permutations above `MAX_EXACT_FEATURES`). This is what SHAP's interventional TreeExplainer computes for
    the same background; `shap` itself is not a dependency (docs/mlops.md says why). The base is the
    background's mean log-odds; base + contributions = the row's log-odds.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ops_pipelines.lib.mlops.config import ModelSpec

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

SEED = 0
REPEATS = 5
MAX_ROWS = 5000
BACKGROUND_ROWS = 100
MAX_EXACT_FEATURES = 10
PERMUTATIONS = 64  # sampled permutations when a model has more than MAX_EXACT_FEATURES inputs
IMPORTANCE_ARTIFACT = "explain/importance.json"
LINEAR, SHAPLEY = "linear: coef x value", "interventional shapley"


@dataclass(frozen=True)
class Importance:
    """Permutation importance per input column: the metric's mean drop and its std over the repeats."""

    metric: str
    rows: int
    repeats: int
    mean: dict[str, float]
    std: dict[str, float] = field(default_factory=dict)

    def ranked(self) -> list[tuple[str, float, float]]:
        """(feature, mean, std), most important first (ties by name)."""
        return sorted(((f, m, self.std.get(f, 0.0)) for f, m in self.mean.items()), key=lambda t: (-t[1], t[0]))

    def to_dict(self) -> dict[str, Any]:
        return {"metric": self.metric, "rows": self.rows, "repeats": self.repeats, "seed": SEED,
                "importance": {f: {"mean": m, "std": s} for f, m, s in self.ranked()}}

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> Importance:
        imp = raw["importance"]
        return cls(raw["metric"], int(raw["rows"]), int(raw["repeats"]),
                   {f: float(v["mean"]) for f, v in imp.items()}, {f: float(v["std"]) for f, v in imp.items()})


@dataclass(frozen=True)
class Explanation:
    """One row's score and the contributions of its input columns to its log-odds."""

    score: float  # probability of the positive class
    log_odds: float
    base: float  # log-odds at the baseline (intercept, or the background's mean)
    method: str
    contributions: dict[str, float]  # input column -> log-odds contribution; base + sum = log_odds
    values: dict[str, Any]

    def top(self, n: int | None = None) -> list[tuple[str, Any, float]]:
        """(feature, value, contribution), largest |contribution| first (ties by name)."""
        ranked = sorted(self.contributions.items(), key=lambda kv: (-abs(kv[1]), kv[0]))
        return [(f, self.values.get(f), c) for f, c in ranked[:n]]


def single_thread():
    """One BLAS/OpenMP thread while scoring: many small predicts with HistGradientBoosting's OpenMP threads
    were ~12x slower on the 2 shared cores (18.6 s vs 1.6 s for ctr_gbdt's importance; same values)."""
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=1)


def input_columns(model: Any, spec: ModelSpec) -> list[str]:
    """The columns the fitted pipeline takes (its own list, else the spec's features)."""
    return [str(c) for c in getattr(model, "feature_names_in_", spec.features)]


def global_importance(model: Any, window: pd.DataFrame, spec: ModelSpec, *, repeats: int = REPEATS,
                      max_rows: int = MAX_ROWS, seed: int = SEED) -> Importance:
    """Permutation importance of each input column on `window` (labeled rows), scored with the promotion
    metric (log loss when that is undefined on the window)."""
    import numpy as np
    import pandas as pd
    from sklearn.inspection import permutation_importance

    from ops_pipelines.lib.mlops.evaluation import HIGHER_IS_BETTER, metric_value

    rows = window[window[spec.target].notna()]
    if len(rows) > max_rows:
        keep = np.sort(np.random.default_rng(seed).choice(len(rows), max_rows, replace=False))
        rows = rows.iloc[keep]
    if rows.empty:
        raise ValueError("no labeled rows to compute importance on")
    columns = input_columns(model, spec)
    x, y = rows[columns].reset_index(drop=True), pd.to_numeric(rows[spec.target]).astype(int).to_numpy()
    metric = spec.promotion.metric
    with single_thread():
        undefined = not math.isfinite(metric_value(metric, y, model.predict_proba(x)[:, 1]))
    if undefined:
        metric = "log_loss"
    sign = 1.0 if HIGHER_IS_BETTER[metric] else -1.0

    def score(estimator, features, labels) -> float:
        return sign * metric_value(metric, labels, estimator.predict_proba(features)[:, 1])

    with single_thread():
        result = permutation_importance(model, x, y, scoring=score, n_repeats=repeats, random_state=seed)
    return Importance(metric, len(x), repeats, {c: float(m) for c, m in zip(columns, result.importances_mean, strict=True)},
                      {c: float(s) for c, s in zip(columns, result.importances_std, strict=True)})


def importance_change(candidate: Importance, champion: Importance | None) -> list[dict[str, Any]]:
    """Per input column: the champion's and the candidate's importance and the change (candidate's order)."""
    names = [f for f, _, _ in candidate.ranked()]
    if champion is not None:
        names += sorted(set(champion.mean) - set(candidate.mean))
    out = []
    for name in names:
        cand = candidate.mean.get(name)
        champ = champion.mean.get(name) if champion is not None else None
        change = cand - champ if cand is not None and champ is not None else None
        out.append({"feature": name, "champion": champ, "candidate": cand, "change": change})
    return out


def margin(model: Any, x: pd.DataFrame) -> np.ndarray:
    """Log-odds of the positive class for each row."""
    import numpy as np

    if hasattr(model, "decision_function"):
        return np.asarray(model.decision_function(x), dtype=float).reshape(-1)
    p = np.clip(model.predict_proba(x)[:, 1], 1e-15, 1 - 1e-15)
    return np.log(p / (1 - p))


def transformed_groups(pre: Any, columns: list[str]) -> dict[str, list[int]]:
    """Input column -> indices of its columns in the ColumnTransformer's output (one-hot columns summed back)."""
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder

    groups: dict[str, list[int]] = {c: [] for c in columns}
    for name, transformer, cols in pre.transformers_:
        if transformer == "drop" or name not in pre.output_indices_:
            continue
        cols = [columns[c] if isinstance(c, int) else str(c) for c in cols]
        out = pre.output_indices_[name]
        last = transformer.steps[-1][1] if isinstance(transformer, Pipeline) else transformer
        if isinstance(last, OneHotEncoder):
            if last.drop_idx_ is not None or getattr(last, "_infrequent_enabled", False):
                raise ValueError("one-hot encoders with drop or infrequent categories are not supported")
            widths = [len(c) for c in last.categories_]
        elif out.stop - out.start == len(cols):
            widths = [1] * len(cols)
        else:
            names = [str(n) for n in transformer.get_feature_names_out(cols)]
            widths = [names.count(c) for c in cols]
        start = out.start
        for col, width in zip(cols, widths, strict=True):
            groups[col].extend(range(start, start + width))
            start += width
    return groups


def is_linear(model: Any) -> bool:
    est = model.steps[-1][1] if hasattr(model, "steps") else model
    return hasattr(est, "coef_") and hasattr(est, "intercept_") and len(getattr(est, "classes_", [])) == 2


def linear_contributions(model: Any, x: pd.DataFrame) -> tuple[float, dict[str, float]]:
    """(intercept, column -> coef x transformed value summed over its transformed columns) for one row."""
    import numpy as np

    pre, est = model.steps[0][1], model.steps[-1][1]
    z = np.asarray(pre.transform(x), dtype=float)[0]
    coef = np.asarray(est.coef_, dtype=float).reshape(-1)
    groups = transformed_groups(pre, list(x.columns))
    return float(np.asarray(est.intercept_).reshape(-1)[0]), {c: float(np.dot(coef[i], z[i])) for c, i in groups.items()}


def shapley_contributions(model: Any, x: pd.DataFrame, background: pd.DataFrame, *, seed: int = SEED,
                          permutations: int = PERMUTATIONS) -> tuple[float, dict[str, float]]:
    """(background mean log-odds, interventional Shapley value per input column) for one row: exact over all
    coalitions up to MAX_EXACT_FEATURES columns, else averaged over seeded random permutations."""
    import numpy as np

    columns, d = list(x.columns), x.shape[1]
    bg = background[columns].reset_index(drop=True)
    if d <= MAX_EXACT_FEATURES:
        masks = np.arange(2 ** d)
    else:
        rng = np.random.default_rng(seed)
        orders = [rng.permutation(d) for _ in range(permutations)]
        prefixes = [np.cumsum([0] + [1 << int(i) for i in order]) for order in orders]
        masks = np.unique(np.concatenate(prefixes))
    value = _coalition_values(model, x, bg, masks)
    base = value[0]
    phi = np.zeros(d)
    if d <= MAX_EXACT_FEATURES:
        sizes = np.array([bin(int(m)).count("1") for m in masks])
        weights = np.array([math.factorial(s) * math.factorial(d - s - 1) / math.factorial(d) if s < d else 0.0
                            for s in sizes])
        for i in range(d):
            without = masks[(masks >> i) & 1 == 0]
            phi[i] = float(np.sum(weights[without] * (value[without | (1 << i)] - value[without])))
    else:
        for order, prefix in zip(orders, prefixes, strict=True):
            for k, i in enumerate(order):
                phi[i] += value[prefix[k + 1]] - value[prefix[k]]
        phi /= len(orders)
    return float(base), {c: float(p) for c, p in zip(columns, phi, strict=True)}


def _coalition_values(model: Any, x: pd.DataFrame, bg: pd.DataFrame, masks: np.ndarray) -> np.ndarray:
    """Mean log-odds over the background with the columns in each mask taken from `x`, indexed by mask
    (masks not evaluated stay NaN)."""
    import numpy as np
    import pandas as pd

    n, columns = len(bg), list(x.columns)
    rep = np.repeat(masks, n)
    frame = {}
    for i, col in enumerate(columns):
        own = (rep >> i) & 1 == 1
        # Values keep their dtype: the pipeline's imputer and encoder see numbers as numbers.
        frame[col] = pd.Series(np.tile(bg[col].to_numpy(), len(masks))).where(~own, x[col].iloc[0])
    data = pd.DataFrame(frame)
    out = np.full(int(masks.max()) + 1, np.nan)
    out[masks] = margin(model, data).reshape(len(masks), n).mean(axis=1)
    return out


def explain_row(model: Any, row: pd.DataFrame, spec: ModelSpec, background: pd.DataFrame | None = None) -> Explanation:
    """Score and log-odds contributions of one row (the model's input columns; extra columns ignored)."""
    columns = input_columns(model, spec)
    missing = [c for c in columns if c not in row.columns]
    if missing:
        raise ValueError(f"the row lacks the model's input columns {missing}")
    if len(row) != 1:
        raise ValueError(f"explain one row at a time, got {len(row)}")
    x = row[columns].reset_index(drop=True)
    linear = is_linear(model)
    if not linear and (background is None or background.empty):
        raise ValueError("a non-linear model needs background rows (its training data) to explain a row")
    with single_thread():
        score = float(model.predict_proba(x)[0, 1])
        log_odds = float(margin(model, x)[0])
        if linear:
            base, contributions = linear_contributions(model, x)
            method = LINEAR
        else:
            base, contributions = shapley_contributions(model, x, background)
            method = f"{SHAPLEY} ({len(background)} background rows)"
    values = {c: _plain(x[c].iloc[0]) for c in columns}
    return Explanation(score, log_odds, base, method, contributions, values)


def background_rows(frame: pd.DataFrame, spec: ModelSpec, n: int = BACKGROUND_ROWS, seed: int = SEED) -> pd.DataFrame:
    """A seeded sample of `n` rows of a dataset version (its training part: before the holdout)."""
    import numpy as np

    from ops_pipelines.lib.mlops.selection import split_holdout

    train, _ = split_holdout(frame, spec)
    if len(train) <= n:
        return train.reset_index(drop=True)
    keep = np.sort(np.random.default_rng(seed).choice(len(train), n, replace=False))
    return train.iloc[keep].reset_index(drop=True)


def _plain(value: Any) -> Any:
    """A JSON-able Python scalar (NaN stays float NaN)."""
    if hasattr(value, "item"):
        value = value.item()
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


def importance_table(importance: Importance, width: int = 20) -> str:
    """Markdown bar chart of the importance (most important first); the UI renders it in the metadata."""
    from ops_pipelines.lib.markdown import table

    top = max((m for m in importance.mean.values() if m > 0), default=0.0)
    rows = [[f, f"{m:.4f}", f"{s:.4f}", "█" * round(width * m / top) if top and m > 0 else ""]
            for f, m, s in importance.ranked()]
    return table(["feature", f"{importance.metric} drop", "std", ""], rows, right=[f"{importance.metric} drop", "std"])


def change_table(rows: list[dict[str, Any]], metric: str) -> str:
    """Markdown table of importance_change rows."""
    from ops_pipelines.lib.markdown import table

    def num(v: float | None, sign: bool = False) -> str:
        return "-" if v is None else (f"{v:+.4f}" if sign else f"{v:.4f}")

    return table(["feature", "champion", "candidate", "change"],
                 [[r["feature"], num(r["champion"]), num(r["candidate"]), num(r["change"], sign=True)] for r in rows],
                 right=["champion", "candidate", "change"], empty=f"no importance ({metric})")


def log_importance(client: Any, run_id: str, importance: Importance) -> None:
    """The importance as a JSON artifact and one metric per column (`importance.<column>`) on a version's run."""
    import time

    from mlflow.entities import Metric

    client.log_dict(run_id, importance.to_dict(), IMPORTANCE_ARTIFACT)
    now = int(time.time() * 1000)
    client.log_batch(run_id, metrics=[Metric(f"importance.{f}", m, now, 0) for f, m, _ in importance.ranked()])


def recorded_importance(client: Any, run_id: str) -> Importance | None:
    """The importance logged on a run, or None when it has none (a version registered before it existed)."""
    import json
    import tempfile
    from pathlib import Path

    names = {a.path for a in client.list_artifacts(run_id, "explain")}
    if IMPORTANCE_ARTIFACT not in names:
        return None
    with tempfile.TemporaryDirectory(prefix="ops_importance_") as tmp:
        path = client.download_artifacts(run_id, IMPORTANCE_ARTIFACT, tmp)
        return Importance.from_dict(json.loads(Path(path).read_text()))
