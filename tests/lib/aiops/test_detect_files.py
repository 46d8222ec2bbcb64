"""`ops-pipelines detect` on NAB-style files: mirrored paths, the documented columns, real flags."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd

EXE = Path(sys.executable).with_name("ops-pipelines")


def write_series(path: Path, spike_at: int | None = None, n: int = 3000) -> None:
    rng = np.random.default_rng(1)
    t = pd.date_range("2015-09-01", periods=n, freq="5min")
    values = 50 + 10 * np.sin(np.arange(n) / 288 * 2 * np.pi) + rng.normal(0, 1, n)
    if spike_at is not None:
        values[spike_at] += 40
    path.parent.mkdir(parents=True, exist_ok=True)
    pd.DataFrame({"timestamp": t.strftime("%Y-%m-%d %H:%M:%S"), "value": values.round(3)}).to_csv(path, index=False)


def test_detect_mirrors_the_input_tree_and_flags_the_spike(tmp_path):
    write_series(tmp_path / "in" / "realTraffic" / "speed.csv", spike_at=2500)
    write_series(tmp_path / "in" / "quiet.csv")
    out = subprocess.run([str(EXE), "detect", str(tmp_path / "in"), "--output", str(tmp_path / "out")],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    speed = pd.read_csv(tmp_path / "out" / "realTraffic" / "speed.csv")
    assert list(speed.columns) == ["timestamp", "value", "anomaly_score", "is_anomaly"]
    original = pd.read_csv(tmp_path / "in" / "realTraffic" / "speed.csv")
    assert speed["timestamp"].tolist() == original["timestamp"].tolist()
    assert speed.loc[2500, "is_anomaly"] == 1 and speed["anomaly_score"].between(0, 1).all()
    assert set(speed["is_anomaly"]) <= {0, 1}
    quiet = pd.read_csv(tmp_path / "out" / "quiet.csv")
    assert quiet["is_anomaly"].iloc[600:].sum() <= 3


def test_detect_names_the_file_with_wrong_columns(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("when,what\n1,2\n")
    out = subprocess.run([str(EXE), "detect", str(bad), "--output", str(tmp_path / "out")], capture_output=True, text=True)
    assert out.returncode != 0 and "bad.csv" in out.stderr and "timestamp,value" in out.stderr
