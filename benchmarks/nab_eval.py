"""NAB evaluation: the published baseline detectors and our detector outputs, side by side.

Usage: python benchmarks/nab_eval.py --nab-dir /path/to/nab [--detector-dir [NAME=]DIR ...] [--measure]

Opt-in (reads a NAB copy outside the project). Scores the four published baselines on exactly the
data files present, at their published thresholds (baselines/thresholds.json, tuned by NAB on all
58 files) and at the threshold our optimiser picks on these files, for all three profiles. Each
--detector-dir holds our outputs (`timestamp,value,anomaly_score,is_anomaly` CSVs mirroring
data/'s relative paths, as `ops-pipelines detect` writes them): they are scored with is_anomaly
as the detection and with the optimised threshold on anomaly_score. --measure times the exact
threshold sweep against scoring each candidate threshold one by one.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

from ops_pipelines.lib.aiops import nab

BASELINES = ("numenta", "relativeEntropy", "twitterADVec", "windowedGaussian")
# NAB on exactly the files in the shared nab/ folder, standard profile, published thresholds
EXPECTED_STANDARD = {"numenta": 77.4, "relativeEntropy": 56.4, "twitterADVec": 53.8, "windowedGaussian": 50.4}


def data_files(nab_dir: Path, windows: dict) -> dict[str, int]:
    """Labeled data files present: relative path -> row count."""
    found = {}
    for path in sorted((nab_dir / "data").rglob("*.csv")):
        name = path.relative_to(nab_dir / "data").as_posix()
        if name in windows:
            found[name] = sum(1 for _ in path.open()) - 1
    return found


def load_baseline(nab_dir: Path, detector: str, names) -> tuple[dict, list[str]]:
    files, missing = {}, []
    for name in names:
        category, base = name.split("/", 1)
        path = nab_dir / "baselines" / detector / category / f"{detector}_{base}.gz"
        if not path.exists():
            missing.append(name)
            continue
        frame = pd.read_csv(path)
        files[name] = (pd.to_datetime(frame["timestamp"]).to_numpy(), frame["anomaly_score"].to_numpy())
    return files, missing


def load_ours(folder: Path, rows: dict[str, int]) -> tuple[dict, dict, list[str]]:
    """(anomaly_score files, is_anomaly files, names missing or with the wrong row count)."""
    scores, flags, bad = {}, {}, []
    for name, n in rows.items():
        path = next((p for p in (folder / name, folder / f"{name}.gz") if p.exists()), None)
        if path is None:
            bad.append(f"{name} (missing)")
            continue
        frame = pd.read_csv(path)
        if len(frame) != n:
            bad.append(f"{name} ({len(frame)} rows, data has {n})")
            continue
        flag = frame["is_anomaly"]
        if flag.dtype == object:  # "True"/"False" text
            flag = flag.astype(str).str.strip().str.lower().isin(["true", "1", "1.0"])
        ts = pd.to_datetime(frame["timestamp"], utc=True).dt.tz_localize(None).to_numpy()
        scores[name] = (ts, frame["anomaly_score"].to_numpy(dtype=float))
        flags[name] = (ts, flag.fillna(0).to_numpy(dtype=float))
    return scores, flags, bad


def fmt(score: nab.CorpusScore | None) -> str:
    if score is None:
        return f"{'':>14} {'':>7} {'':>9}"
    return f"{score.threshold:>14.12g} {score.normalised:>7.2f} {score.tp:>3}/{score.fn:<3}{score.fp:>3}"


def measure(files: dict, windows: dict, profile: nab.Profile, sample: int = 50) -> str:
    start = time.perf_counter()
    candidates, raw = nab.threshold_curve(files, windows, profile)
    sweep = time.perf_counter() - start
    picks = np.random.default_rng(0).choice(len(candidates), min(sample, len(candidates)), replace=False)
    # the fair one-by-one baseline lays the files out once, as a naive optimiser would
    prepared = nab._prepare(files, windows)
    start = time.perf_counter()
    brute = [nab._corpus(prepared, float(candidates[i]), profile).raw for i in picks]
    per = (time.perf_counter() - start) / len(picks)
    err = float(np.max(np.abs(np.array(brute) - raw[picks])))
    return (f"{len(candidates)} candidates: exact sweep {sweep * 1e3:.0f} ms; one by one "
            f"{per * 1e3:.1f} ms each, {per * len(candidates):.1f} s for all; max |difference| {err:.1e}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nab-dir", type=Path, required=True)
    parser.add_argument("--detector-dir", action="append", default=[], metavar="[NAME=]DIR")
    parser.add_argument("--measure", action="store_true", help="time the threshold sweep")
    args = parser.parse_args(argv)

    windows = nab.load_windows(args.nab_dir / "labels" / "combined_windows.json")
    thresholds = json.loads((args.nab_dir / "baselines" / "thresholds.json").read_text())
    rows = data_files(args.nab_dir, windows)
    n_windows = sum(len(windows[name]) for name in rows)
    print(f"{len(rows)} labeled data files, {sum(rows.values())} rows, {n_windows} windows\n")

    # (label, files, threshold per profile or None for "optimised only", expected standard score)
    entries: list[tuple[str, dict, dict | None, float | None]] = []
    for det in BASELINES:
        files, missing = load_baseline(args.nab_dir, det, rows)
        if missing:
            print(f"{det}: no output for {len(missing)} file(s), scored without them: {missing[:3]}")
        published = {p: thresholds[det][p]["threshold"] for p in nab.PROFILES} if det in thresholds else None
        entries.append((det, files, published, EXPECTED_STANDARD.get(det)))
    for spec in args.detector_dir:
        name, _, folder = spec.rpartition("=")
        folder = Path(folder)
        scores, flags, bad = load_ours(folder, rows)
        label = name or folder.name
        if bad:
            print(f"{label}: {len(bad)} file(s) left out: {bad[:3]}")
        if scores:
            entries.append((f"{label} is_anomaly", flags, dict.fromkeys(nab.PROFILES, 0.5), None))
            entries.append((f"{label} anomaly_score", scores, None, None))

    head = f"{'threshold':>14} {'score':>7} {'TP/FN FP':>9}"
    print(f"{'detector':<28} {'profile':<19} {'fixed ' + head:>37} | {'optimised ' + head:>40} {'expected':>8}")
    for label, files, fixed, expected in entries:
        if not files:
            print(f"{label:<28} (no files)")
            continue
        for pname, profile in nab.PROFILES.items():
            at_fixed = nab.score_corpus(files, windows, fixed[pname], profile) if fixed else None
            best = nab.best_threshold(files, windows, profile)
            exp = f"{expected:>8.1f}" if expected is not None and pname == "standard" else ""
            print(f"{label:<28} {pname:<19}       {fmt(at_fixed)} |          {fmt(best)} {exp}")
        if args.measure:
            print(f"  sweep timing ({label}, standard): {measure(files, windows, nab.STANDARD)}")
    print("\nfixed = published NAB threshold for the baselines, 0.5 on is_anomaly for ours; "
          "TP/FN count windows, FP counts rows.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
