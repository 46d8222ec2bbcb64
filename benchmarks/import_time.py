"""Wall time to import the code location in a fresh process (what every webserver reload,
run worker and test pays). Usage: python benchmarks/import_time.py [--runs 5]"""

import argparse
import statistics
import subprocess
import sys
import time


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    runs = parser.parse_args().runs
    baseline, ours = [], []
    for _ in range(runs):  # alternate so machine noise hits both alike
        for target, times in (("dagster", baseline), ("ops_pipelines.definitions", ours)):
            t0 = time.perf_counter()
            subprocess.run([sys.executable, "-c", f"import {target}"], check=True)
            times.append(time.perf_counter() - t0)
    b, o = statistics.median(baseline), statistics.median(ours)
    print(f"median of {runs}: import dagster {b:.2f} s, import ops_pipelines.definitions {o:.2f} s (ratio {o / b:.2f})")


if __name__ == "__main__":
    main()
