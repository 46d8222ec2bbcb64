"""Drift on real data with default settings: Elec2 (a real covariate shift) and SEA (label-only drift).

Usage: python benchmarks/drift_real.py [PATH] [--evidently]
  PATH defaults to ../shared/datasets/drift from the repo; --evidently also runs bare Evidently's
  DataDriftPreset on every comparison and reports whether each verdict agrees (adds ~20 s).

Targets (compute_drift defaults, nothing tuned per dataset):
- Elec2, rows before 17,424 vs rows from 17,424 on: vicprice, vicdemand and transfer drifted
  (they are constant, imputed, in the first 17,424 rows). Every column is reported; `row` and
  `date` are left out because they are the time index itself and differ by construction.
- SEA, consecutive concept blocks (12,500 rows each): feature drift (dataset drift over f1..f3)
  flagged for at most 1 of the 3 pairs, label drift flagged for each pair.
Reads data outside the project, so it is opt-in and never part of the test run.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ELEC2_SPLIT = 17_424
ELEC2_MUST_DRIFT = ("vicprice", "vicdemand", "transfer")
SEA_BLOCK = 12_500


CHECK_EVIDENTLY = False


def show(result, ref, cur, indent: str = "    ") -> None:
    """Our verdict per column, and bare Evidently's on the same frames when --evidently is given."""
    theirs = None
    if CHECK_EVIDENTLY:
        from ops_pipelines.lib.mlops.drift import evidently_drift

        theirs = evidently_drift(ref[list(result.columns)], cur[list(result.columns)])
    for name, col in result.columns.items():
        flag = "DRIFT" if col.drifted else "-"
        extra = ""
        if theirs is not None:
            other = theirs.columns[name]
            same = other.drifted == col.drifted and other.method == col.method
            extra = f"  evidently {other.score:.4g} {'agrees' if same else 'DISAGREES'}"
        print(f"{indent}{name:<10} {col.kind:<4} {col.method:<14} score {col.score:10.4g}  threshold {col.threshold:<5} {flag}{extra}")


def elec2(root: Path) -> bool:
    import pandas as pd

    from ops_pipelines.lib.mlops.drift import compute_drift

    frame = pd.read_csv(root / "elec2" / "elec2.csv")
    columns = [c for c in frame.columns if c not in ("row", "date")]
    ref, cur = frame.iloc[:ELEC2_SPLIT], frame.iloc[ELEC2_SPLIT:]
    result = compute_drift(ref, cur, columns)
    print(f"Elec2: rows [0, {ELEC2_SPLIT:,}) vs [{ELEC2_SPLIT:,}, {len(frame):,}); dataset drift {result.dataset_drift} "
          f"(share {result.drift_share:.2f} >= {result.share_threshold})")
    show(result, ref, cur)
    ok = all(result.columns[c].drifted for c in ELEC2_MUST_DRIFT)
    print(f"  target: {', '.join(ELEC2_MUST_DRIFT)} drifted -> {'PASS' if ok else 'FAIL'}")
    return ok


def sea(root: Path) -> bool:
    import pandas as pd

    from ops_pipelines.lib.mlops.drift import compute_drift, label_drift

    frame = pd.read_csv(root / "sea" / "sea.csv")
    blocks = [frame[frame["concept"] == c] for c in sorted(frame["concept"].unique())]
    feature_flags, label_flags = [], []
    for i in range(len(blocks) - 1):
        ref, cur = blocks[i], blocks[i + 1]
        features = compute_drift(ref, cur, ["f1", "f2", "f3"])
        label = label_drift(ref["label"], cur["label"])  # the same label test the drift_report asset uses
        feature_flags.append(features.dataset_drift)
        label_flags.append(label.drifted)
        print(f"SEA concept {i} ({len(ref):,} rows) -> {i + 1} ({len(cur):,} rows): feature drift {features.dataset_drift}, "
              f"label drift {label.drifted} ({label.method} p = {label.score:.3g}); "
              f"label share of 1s {ref['label'].mean():.3f} -> {cur['label'].mean():.3f}")
        show(features, ref, cur)
    ok_features = sum(feature_flags) <= 1
    ok_label = all(label_flags)
    print(f"  target: feature drift in <= 1 of {len(feature_flags)} pairs ({sum(feature_flags)}) -> {'PASS' if ok_features else 'FAIL'}")
    print(f"  target: label drift in every pair ({sum(label_flags)}/{len(label_flags)}) -> {'PASS' if ok_label else 'FAIL'}")
    return ok_features and ok_label


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    default = Path(__file__).resolve().parents[1].parent / "shared" / "datasets" / "drift"
    parser.add_argument("path", nargs="?", default=str(default), help=f"drift datasets folder (default {default})")
    parser.add_argument("--evidently", action="store_true", help="also run bare Evidently and compare verdicts")
    args = parser.parse_args()
    global CHECK_EVIDENTLY
    CHECK_EVIDENTLY = args.evidently
    root = Path(args.path)
    if not (root / "elec2" / "elec2.csv").exists() or not (root / "sea" / "sea.csv").exists():
        print(f"{root}: expected elec2/elec2.csv and sea/sea.csv", file=sys.stderr)
        return 2
    results = [elec2(root), sea(root)]
    print("all targets met" if all(results) else "some targets NOT met (see FAIL lines)")
    return 0 if all(results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
