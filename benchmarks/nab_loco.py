"""Leave-one-category-out tuning of the metric detector on a NAB copy: no figure from data it was tuned on.

Usage: python benchmarks/nab_loco.py --nab-dir /path/to/nab [--jobs 2] [--json OUT]

Opt-in (reads a NAB copy outside the project). Every setting of the grid below is run on every
labelled file with `detect_series` (the code behind `ops-pipelines detect` and `metric_anomalies`)
and scored by NAB's standard profile on `is_anomaly`, the product's default flag (no threshold
optimised on the scores). Then, for each category, the setting with the best normalised score on the
OTHER categories is picked and scored on the held-out one: those are the "not tuned on" figures.
The setting picked on all categories is the documented default; its per-category figures are
"tuned on". A category without windows (artificialNoAnomaly) scores only false positives: it takes
part in the choice through its raw score and is reported as a count of false-positive rows.
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import json
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pandas as pd

from ops_pipelines.lib.aiops import nab
from ops_pipelines.lib.aiops.detect_files import detect_series
from ops_pipelines.lib.aiops.detector import DetectorParams

# The settings chosen this way; the rest of DetectorParams keeps its defaults.
GRID = {
    "threshold": [4.0, 5.0, 6.0],
    "alarm_gain": [1.0, 1.25, 1.5, 2.0],
    "gain_halflife_s": [43_200.0, 86_400.0],
    "memory_halflife": [1440.0, 4320.0],
}


def settings() -> list[dict]:
    """The grid, without duplicates: with alarm_gain 1 the half-life does nothing."""
    out = []
    for values in itertools.product(*GRID.values()):
        s = dict(zip(GRID, values))
        if s["alarm_gain"] == 1.0 and s["gain_halflife_s"] != GRID["gain_halflife_s"][0]:
            continue
        out.append(s)
    return out


def label(setting: dict) -> str:
    return " ".join(f"{k}={v:g}" for k, v in setting.items())


def _score_setting(args: tuple[dict, dict[str, str], dict]) -> dict[str, nab.FileScore]:
    setting, paths, windows = args
    params = dataclasses.replace(DetectorParams(), **setting)
    out = {}
    for name, path in paths.items():
        frame = pd.read_csv(path, dtype={"timestamp": str})
        scored = detect_series(frame, params)
        ts = pd.to_datetime(scored["timestamp"]).to_numpy()
        out[name] = nab.score_file(ts, scored["is_anomaly"].to_numpy(dtype=float), windows[name], 0.5)
    return out


def category(name: str) -> str:
    return name.split("/", 1)[0]


def normalised(scores: dict[str, nab.FileScore], cats: list[str]) -> float:
    chosen = [f for n, f in scores.items() if category(n) in cats]
    return nab.normalise(sum(f.raw for f in chosen), sum(f.n_windows for f in chosen), nab.STANDARD)


def summary(scores: dict[str, nab.FileScore], cats: list[str]) -> dict:
    chosen = [f for n, f in scores.items() if category(n) in cats]
    return {"score": round(normalised(scores, cats), 2), "tp": sum(f.tp for f in chosen),
            "fn": sum(f.fn for f in chosen), "fp_rows": sum(f.fp for f in chosen)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nab-dir", type=Path, required=True)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)

    windows = nab.load_windows(args.nab_dir / "labels" / "combined_windows.json")
    paths = {p.relative_to(args.nab_dir / "data").as_posix(): str(p) for p in sorted((args.nab_dir / "data").rglob("*.csv"))}
    paths = {n: p for n, p in paths.items() if n in windows}
    cats = sorted({category(n) for n in paths})
    grid = settings()
    print(f"{len(paths)} files in {len(cats)} categories; {len(grid)} settings", flush=True)
    with ProcessPoolExecutor(args.jobs) as pool:
        results = list(pool.map(_score_setting, [(s, paths, windows) for s in grid]))

    def best(on: list[str]) -> int:
        return max(range(len(grid)), key=lambda i: normalised(results[i], on))

    chosen = best(cats)
    report = {"default": grid[chosen], "tuned_on": {}, "not_tuned_on": {}}
    print(f"\npicked on all categories: {label(grid[chosen])}")
    print(f"{'category':<24} {'tuned on (all)':>22} | {'held out: setting picked on the other categories':<60}")
    held_files: dict[str, nab.FileScore] = {}
    for cat in cats:
        others = [c for c in cats if c != cat]
        pick = best(others)
        held_files.update({n: f for n, f in results[pick].items() if category(n) == cat})
        report["tuned_on"][cat] = summary(results[chosen], [cat])
        report["not_tuned_on"][cat] = {"setting": grid[pick], **summary(results[pick], [cat])}
        t, h = report["tuned_on"][cat], report["not_tuned_on"][cat]
        print(f"{cat:<24} {t['score']:>7} ({t['tp']}/{t['fn']}, {t['fp_rows']:>3} FP) | "
              f"{h['score']:>7} ({h['tp']}/{h['fn']}, {h['fp_rows']:>3} FP)  {label(grid[pick])}")
    report["tuned_on"]["all"] = summary(results[chosen], cats)
    report["not_tuned_on"]["all"] = summary(held_files, cats)
    t, h = report["tuned_on"]["all"], report["not_tuned_on"]["all"]
    print(f"{'all':<24} {t['score']:>7} ({t['tp']}/{t['fn']}, {t['fp_rows']:>3} FP) | "
          f"{h['score']:>7} ({h['tp']}/{h['fn']}, {h['fp_rows']:>3} FP)  each category scored with the setting picked without it")
    print("\nscores: NAB standard profile, normalised (0 = never fires, 100 = perfect); (TP/FN windows, FP rows); "
          "a category without windows has no score, only FP rows")
    if args.json:
        args.json.write_text(json.dumps(report, indent=2, default=float))
    return 0


if __name__ == "__main__":
    sys.exit(main())
