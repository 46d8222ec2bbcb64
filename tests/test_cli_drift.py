"""`ops-pipelines drift` in-process on CSV and Parquet files."""

import json

import numpy as np
import pandas as pd
import pytest

from ops_pipelines.cli import main


def write_pair(tmp_path, suffix: str, n: int = 3000):
    rng = np.random.default_rng(21)

    def make(shift: float) -> pd.DataFrame:
        return pd.DataFrame({
            "latency": rng.normal(100 + 30 * shift, 10, n),
            "cpu": rng.normal(0.5, 0.1, n),
            "region": rng.choice(["eu", "us", "ap"], n),
            "code": rng.integers(0, 3, n),
        })

    paths = []
    for name, frame in (("ref", make(0.0)), ("cur", make(1.0))):
        path = tmp_path / f"{name}{suffix}"
        frame.to_csv(path, index=False) if suffix == ".csv" else frame.to_parquet(path, index=False)
        paths.append(path)
    return paths


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_drift_writes_json_flagging_the_shifted_column_only(tmp_path, suffix, capsys):
    ref, cur = write_pair(tmp_path, suffix)
    out = tmp_path / "out" / "drift.json"
    assert main(["drift", "--reference", str(ref), "--current", str(cur), "--json", str(out)]) == 0
    payload = json.loads(out.read_text())
    assert set(payload) == {"dataset_drift", "drift_share", "columns"}
    assert list(payload["columns"]) == ["latency", "cpu", "region", "code"]
    for col in payload["columns"].values():
        assert set(col) == {"score", "method", "threshold", "drifted"}
        assert isinstance(col["score"], float) and isinstance(col["drifted"], bool)
    assert payload["columns"]["latency"]["drifted"] and payload["columns"]["latency"]["method"] == "wasserstein"
    assert not payload["columns"]["cpu"]["drifted"] and not payload["columns"]["region"]["drifted"]
    assert payload["drift_share"] == 0.25 and payload["dataset_drift"] is False
    line = capsys.readouterr().out.strip()
    assert len(line.splitlines()) == 1 and "1/4 columns drifted (latency)" in line


def test_drift_is_byte_identical_on_rerun_and_honours_column_options(tmp_path):
    ref, cur = write_pair(tmp_path, ".csv")
    outs = [tmp_path / "a.json", tmp_path / "b.json"]
    for out in outs:
        args = ["drift", "--reference", str(ref), "--current", str(cur), "--columns", "cpu, code", "--categorical", "code"]
        assert main([*args, "--json", str(out)]) == 0
    assert outs[0].read_bytes() == outs[1].read_bytes()
    payload = json.loads(outs[0].read_text())
    assert list(payload["columns"]) == ["cpu", "code"] and payload["columns"]["code"]["method"] == "jensenshannon"


def test_drift_rejects_unknown_suffix_missing_file_and_missing_column(tmp_path, capsys):
    ref, cur = write_pair(tmp_path, ".csv", n=50)
    bad = tmp_path / "ref.xlsx"
    bad.write_text("x")
    out = str(tmp_path / "o.json")
    assert main(["drift", "--reference", str(bad), "--current", str(cur), "--json", out]) == 2
    assert "ref.xlsx" in capsys.readouterr().err
    assert main(["drift", "--reference", str(tmp_path / "nope.csv"), "--current", str(cur), "--json", out]) == 2
    assert "nope.csv: file not found" in capsys.readouterr().err
    assert main(["drift", "--reference", str(ref), "--current", str(cur), "--columns", "cpu,ghost", "--json", out]) == 2
    assert "ghost" in capsys.readouterr().err
    empty = tmp_path / "empty.csv"
    empty.write_text("latency,cpu,region,code\n")
    assert main(["drift", "--reference", str(empty), "--current", str(cur), "--json", out]) == 2
    assert "no rows" in capsys.readouterr().err
    assert not (tmp_path / "o.json").exists()


def test_drift_reports_unreadable_csv_and_survives_non_finite_cells(tmp_path, capsys):
    ragged = tmp_path / "ragged.csv"
    ragged.write_text("a,b\n1,2\n3,4,5,6\n")
    out = tmp_path / "o.json"
    assert main(["drift", "--reference", str(ragged), "--current", str(ragged), "--json", str(out)]) == 2
    assert "ragged.csv: cannot read as csv" in capsys.readouterr().err
    ref, cur = write_pair(tmp_path, ".csv", n=400)
    text = cur.read_text().splitlines()
    text[1] = "inf,,eu,1"  # +inf latency and a blank cpu: dropped before testing, never NaN in the JSON
    cur.write_text("\n".join(text) + "\n")
    assert main(["drift", "--reference", str(ref), "--current", str(cur), "--json", str(out)]) == 0
    payload = json.loads(out.read_text())  # json.loads accepts NaN; the writer never emits it
    assert "NaN" not in out.read_text() and payload["columns"]["latency"]["method"] == "ks"
